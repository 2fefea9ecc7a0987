//! A second net under the red-flag rules, for the ways of saying it that no rule lists: the
//! message's embedding is compared with ~3,000 labelled patient messages (the tuning corpora of
//! `tests/corpus`, written blind to the rules by nine writers). When its nearest flagged examples
//! are clearly closer than its nearest unflagged ones, it flags.
//!
//! It only adds: the rules always run and a rule's flag always stands, so red-flag detection
//! never depends on the model alone. Measured in docs/understanding.md: on corpora that never
//! enter it, it catches about half of what the rules miss for about one false alarm in a hundred
//! messages. `K` and `MARGIN` were chosen by leaving each tuning corpus out in turn.
//!
//! The same examples carry what their writers asked for (book, refill, a person, advice, or
//! nothing), so the same vectors also give the router a second opinion on a first message
//! (`judge_intent`, used by `understand::intent::read`).

use std::sync::atomic::{AtomicBool, Ordering};

use super::Category;

/// Neighbours averaged on each side.
pub const K: usize = 5;
/// How much closer the flagged neighbours must be than the unflagged ones.
pub const MARGIN: f32 = 0.05;
/// Messages shorter than this are answers to a question ("yes", "3", "tomorrow"), not reports.
pub const MIN_WORDS: usize = 3;

/// The labelled examples, as shipped: the tuning corpora only (L, M and N were written for the
/// net alone; no rule was shaped on them). The measuring corpora (holdout, D, F, I, J, K, O)
/// never enter, or their figures would mean nothing.
const EXAMPLES: &[&str] = &[
    include_str!("../../tests/corpus/messages-a.jsonl"),
    include_str!("../../tests/corpus/messages-b.jsonl"),
    include_str!("../../tests/corpus/messages-c.jsonl"),
    include_str!("../../tests/corpus/messages-e.jsonl"),
    include_str!("../../tests/corpus/messages-g.jsonl"),
    include_str!("../../tests/corpus/messages-h.jsonl"),
    include_str!("../../tests/corpus/messages-l.jsonl"),
    include_str!("../../tests/corpus/messages-m.jsonl"),
    include_str!("../../tests/corpus/messages-n.jsonl"),
];

/// Neighbours of each intent averaged for `judge_intent`.
pub const INTENT_K: usize = 9;

/// One labelled example: its text, its red flag if any, and, for an unflagged one, what its
/// writer asked for (`book`, `refill`, `asks_for_person`, ...; none when nothing is asked).
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text: String,
    pub flag: Option<Category>,
    pub intent: Option<String>,
}

#[derive(serde::Deserialize)]
struct Line {
    text: String,
    red_flag: Option<Category>,
    intent: Option<String>,
}

/// What the examples nearest a message asked for: the intent whose `INTENT_K` nearest examples
/// are closest on average (`None`: nothing asked), and by how much it leads the next intent.
#[derive(Clone, Debug, PartialEq)]
pub struct IntentVerdict {
    pub intent: Option<String>,
    pub lead: f32,
}

/// Every shipped example, in a fixed order (the order of the cached vectors).
pub fn examples() -> Vec<Example> {
    EXAMPLES
        .iter()
        .flat_map(|file| file.lines().filter(|l| !l.trim().is_empty()))
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .map(|l| Example { text: l.text, flag: l.red_flag, intent: l.intent })
        .collect()
}

/// The examples' text as shipped, for a cache key: vectors cached for other examples are stale.
pub fn examples_source() -> impl Iterator<Item = &'static str> {
    EXAMPLES.iter().copied()
}

/// The examples' unit vectors and labels.
pub struct ExampleNet {
    dim: usize,
    vectors: Vec<f32>,
    flags: Vec<Option<Category>>,
    intents: Vec<Option<String>>,
}

impl ExampleNet {
    /// One vector per example of `labelled` (in `examples()` order for the shipped ones).
    /// Fails when counts or sizes disagree.
    pub fn new(vectors: Vec<Vec<f32>>, labelled: &[Example]) -> crate::Result<ExampleNet> {
        let flags: Vec<Option<Category>> = labelled.iter().map(|e| e.flag).collect();
        let intents = labelled.iter().map(|e| e.intent.clone()).collect();
        let dim = vectors.first().map_or(0, Vec::len);
        if dim == 0 || vectors.len() != flags.len() || vectors.iter().any(|v| v.len() != dim) {
            return Err(crate::Error::Invalid(format!(
                "red-flag examples: {} vectors of mixed or zero size for {} labels",
                vectors.len(),
                flags.len()
            )));
        }
        if !flags.iter().any(Option::is_some) || flags.iter().all(Option::is_some) {
            return Err(crate::Error::Invalid("red-flag examples need flagged and unflagged messages".into()));
        }
        let vectors = vectors.into_iter().flat_map(unit).collect();
        Ok(ExampleNet { dim, vectors, flags, intents })
    }

    pub fn len(&self) -> usize {
        self.flags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// The category a message's embedding is closest to, when its flagged neighbours are
    /// clearly nearer than its unflagged ones; the category most of those neighbours carry.
    pub fn judge(&self, embedding: &[f32]) -> Option<Category> {
        let sims = self.similarities(embedding)?;
        let mut flagged: Vec<(f32, Category)> = Vec::new();
        let mut quiet: Vec<f32> = Vec::new();
        for (sim, flag) in sims.into_iter().zip(&self.flags) {
            match flag {
                Some(c) => flagged.push((sim, *c)),
                None => quiet.push(sim),
            }
        }
        flagged.sort_by(|a, b| b.0.total_cmp(&a.0));
        let top = &flagged[..K.min(flagged.len())];
        let mean_flagged = top.iter().map(|(s, _)| s).sum::<f32>() / top.len() as f32;
        (mean_flagged - mean_of_best(quiet, K) >= MARGIN).then(|| most_common(top))
    }

    /// What the unflagged examples nearest a message asked for: for each intent (and for
    /// "nothing asked"), the mean similarity of its `INTENT_K` nearest examples; the best one
    /// and its lead over the next. `None` for a vector of another size.
    pub fn judge_intent(&self, embedding: &[f32]) -> Option<IntentVerdict> {
        let sims = self.similarities(embedding)?;
        let mut by_intent: Vec<(Option<&str>, Vec<f32>)> = Vec::new();
        for ((sim, flag), intent) in sims.into_iter().zip(&self.flags).zip(&self.intents) {
            if flag.is_some() {
                continue;
            }
            match by_intent.iter_mut().find(|(k, _)| *k == intent.as_deref()) {
                Some((_, v)) => v.push(sim),
                None => by_intent.push((intent.as_deref(), vec![sim])),
            }
        }
        let mut means: Vec<(Option<&str>, f32)> = by_intent.into_iter().map(|(k, v)| (k, mean_of_best(v, INTENT_K))).collect();
        means.sort_by(|a, b| b.1.total_cmp(&a.1));
        let &(best, s1) = means.first()?;
        let lead = means.get(1).map_or(s1, |(_, s2)| s1 - s2);
        Some(IntentVerdict { intent: best.map(str::to_string), lead })
    }

    /// Whether some example asks for the intent `name`.
    pub fn knows_intent(&self, name: &str) -> bool {
        self.intents.iter().any(|i| i.as_deref() == Some(name))
    }

    /// Cosine similarity of `embedding` to every example, in order; `None` for another size.
    fn similarities(&self, embedding: &[f32]) -> Option<Vec<f32>> {
        if embedding.len() != self.dim {
            return None;
        }
        let q = unit(embedding.to_vec());
        Some(self.vectors.chunks_exact(self.dim).map(|v| v.iter().zip(&q).map(|(a, b)| a * b).sum()).collect())
    }
}

/// Where engines find the net once it is built (in the background, after the service starts:
/// until then the rules run alone), and what it is used for (`server.redflag_examples`,
/// `server.intent_examples`; both by default). Shared by every engine a script publication
/// rebuilds.
#[derive(Default)]
pub struct NetSlot {
    net: std::sync::RwLock<Option<std::sync::Arc<ExampleNet>>>,
    no_red_flags: AtomicBool,
    no_intents: AtomicBool,
}

impl NetSlot {
    pub fn set(&self, net: ExampleNet) {
        *self.net.write().unwrap_or_else(|e| e.into_inner()) = Some(std::sync::Arc::new(net));
    }

    /// Which judgements the net may give once it is built.
    pub fn set_uses(&self, red_flags: bool, intents: bool) {
        self.no_red_flags.store(!red_flags, Ordering::Relaxed);
        self.no_intents.store(!intents, Ordering::Relaxed);
    }

    /// The net, when it is built and may flag.
    pub fn for_red_flags(&self) -> Option<std::sync::Arc<ExampleNet>> {
        if self.no_red_flags.load(Ordering::Relaxed) {
            return None;
        }
        self.get()
    }

    /// The net, when it is built and may give its opinion on intents.
    pub fn for_intents(&self) -> Option<std::sync::Arc<ExampleNet>> {
        if self.no_intents.load(Ordering::Relaxed) {
            return None;
        }
        self.get()
    }

    fn get(&self) -> Option<std::sync::Arc<ExampleNet>> {
        self.net.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The mean of the `k` largest of `sims` (of all of them when fewer).
fn mean_of_best(mut sims: Vec<f32>, k: usize) -> f32 {
    sims.sort_by(|a, b| b.total_cmp(a));
    sims.truncate(k);
    sims.iter().sum::<f32>() / sims.len().max(1) as f32
}

/// The category most neighbours carry; on a tie, the nearest one's.
fn most_common(top: &[(f32, Category)]) -> Category {
    let count = |c: Category| top.iter().filter(|(_, x)| *x == c).count();
    let best = top.iter().map(|(_, c)| count(*c)).max().unwrap_or(0);
    top.iter().map(|(_, c)| *c).find(|c| count(*c) == best).unwrap_or(top[0].1)
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    fn net() -> ExampleNet {
        // Two flagged clusters and one quiet one, in three dimensions.
        let mut vectors = Vec::new();
        let mut flags = Vec::new();
        for i in 0..6 {
            let e = i as f32 * 0.01;
            vectors.push(vec![1.0, e, 0.0]);
            flags.push(Some(ChestPain));
            vectors.push(vec![0.0, 1.0, e]);
            flags.push(Some(Stroke));
            vectors.push(vec![e, 0.0, 1.0]);
            flags.push(None);
        }
        ExampleNet::new(vectors, &labelled(flags)).expect("net")
    }

    fn labelled(flags: Vec<Option<Category>>) -> Vec<Example> {
        flags.into_iter().map(|flag| Example { text: String::new(), flag, intent: None }).collect()
    }

    #[test]
    fn tells_what_the_nearest_unflagged_examples_asked_for_and_by_how_much() {
        // A flagged cluster (chest pain, asking nothing) sits next to "book": only unflagged
        // examples vote, so a message there is a booking.
        let mut vectors = Vec::new();
        let mut labels = Vec::new();
        for i in 0..10 {
            let e = i as f32 * 0.01;
            for (v, flag, intent) in [
                (vec![1.0, 0.1 + e, 0.0, 0.0], Some(ChestPain), None),
                (vec![1.0, e, 0.0, 0.0], None, Some("book")),
                (vec![e, 1.0, 0.0, 0.0], None, Some("refill")),
                (vec![0.0, 0.0, e, 1.0], None, None),
            ] {
                vectors.push(v);
                labels.push(Example { text: String::new(), flag, intent: intent.map(str::to_string) });
            }
        }
        let n = ExampleNet::new(vectors, &labels).expect("net");
        let book = n.judge_intent(&[1.0, 0.12, 0.0, 0.0]).expect("verdict");
        assert_eq!(book.intent.as_deref(), Some("book"));
        assert!(book.lead > 0.5, "{book:?}");
        let nothing = n.judge_intent(&[0.0, 0.0, 0.0, 1.0]).expect("verdict");
        assert_eq!(nothing.intent, None, "nothing asked is a verdict too");
        let between = n.judge_intent(&[0.5, 0.5, 0.0, 0.0]).expect("verdict");
        assert!(between.lead < 0.05, "halfway between book and refill: {between:?}");
        assert_eq!(n.judge_intent(&[1.0, 0.0]), None, "a vector of another size is not judged");
    }

    #[test]
    fn flags_what_lies_among_flagged_examples_with_their_category() {
        let n = net();
        assert_eq!(n.judge(&[0.9, 0.1, 0.05]), Some(ChestPain));
        assert_eq!(n.judge(&[0.05, 0.8, 0.1]), Some(Stroke));
    }

    #[test]
    fn stays_quiet_among_unflagged_examples_or_halfway() {
        let n = net();
        assert_eq!(n.judge(&[0.0, 0.05, 1.0]), None);
        assert_eq!(n.judge(&[0.5, 0.0, 0.5]), None, "as near the quiet ones as the flagged ones");
        assert_eq!(n.judge(&[1.0, 0.0]), None, "a vector of another size is not judged");
    }

    #[test]
    fn refuses_mismatched_or_one_sided_examples() {
        assert!(ExampleNet::new(vec![vec![1.0, 0.0]], &labelled(vec![Some(ChestPain), None])).is_err());
        assert!(ExampleNet::new(vec![vec![1.0, 0.0], vec![1.0]], &labelled(vec![Some(ChestPain), None])).is_err());
        assert!(ExampleNet::new(vec![vec![1.0, 0.0], vec![0.0, 1.0]], &labelled(vec![None, None])).is_err());
    }

    #[test]
    fn the_shipped_examples_are_the_tuning_corpora() {
        let all = examples();
        assert!(all.len() > 1_900, "{} examples", all.len());
        let flagged = all.iter().filter(|e| e.flag.is_some()).count();
        assert!(flagged > 700 && flagged < all.len() - 1_000, "{flagged} flagged");
        let asking = all.iter().filter(|e| e.flag.is_none() && e.intent.is_some()).count();
        assert!(asking > 800, "{asking} unflagged examples ask for something");
    }
}
