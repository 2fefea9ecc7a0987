//! A second net under the red-flag rules, for the ways of saying it that no rule lists: the
//! message's embedding is compared with ~2,000 labelled patient messages (the tuning corpora of
//! `tests/corpus`, written blind to the rules by six writers). When its nearest flagged examples
//! are clearly closer than its nearest unflagged ones, it flags.
//!
//! It only adds: the rules always run and a rule's flag always stands, so red-flag detection
//! never depends on the model alone. Measured in docs/understanding.md: on corpora that never
//! enter it, it catches about half of what the rules miss for about one false alarm in a hundred
//! messages. `K` and `MARGIN` were chosen by leaving each tuning corpus out in turn.

use super::Category;

/// Neighbours averaged on each side.
pub const K: usize = 5;
/// How much closer the flagged neighbours must be than the unflagged ones.
pub const MARGIN: f32 = 0.05;
/// Messages shorter than this are answers to a question ("yes", "3", "tomorrow"), not reports.
pub const MIN_WORDS: usize = 3;

/// The labelled examples, as shipped: the tuning corpora only. The measuring corpora (holdout,
/// D, F, I, J) never enter, or their figures would mean nothing.
const EXAMPLES: &[&str] = &[
    include_str!("../../tests/corpus/messages-a.jsonl"),
    include_str!("../../tests/corpus/messages-b.jsonl"),
    include_str!("../../tests/corpus/messages-c.jsonl"),
    include_str!("../../tests/corpus/messages-e.jsonl"),
    include_str!("../../tests/corpus/messages-g.jsonl"),
    include_str!("../../tests/corpus/messages-h.jsonl"),
];

/// One labelled example: its text and its red flag, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text: String,
    pub flag: Option<Category>,
}

#[derive(serde::Deserialize)]
struct Line {
    text: String,
    red_flag: Option<Category>,
}

/// Every shipped example, in a fixed order (the order of the cached vectors).
pub fn examples() -> Vec<Example> {
    EXAMPLES
        .iter()
        .flat_map(|file| file.lines().filter(|l| !l.trim().is_empty()))
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .map(|l| Example { text: l.text, flag: l.red_flag })
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
}

impl ExampleNet {
    /// One vector per example, in `examples()` order. Fails when counts or sizes disagree.
    pub fn new(vectors: Vec<Vec<f32>>, flags: Vec<Option<Category>>) -> crate::Result<ExampleNet> {
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
        Ok(ExampleNet { dim, vectors, flags })
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
        if embedding.len() != self.dim {
            return None;
        }
        let q = unit(embedding.to_vec());
        let mut flagged: Vec<(f32, Category)> = Vec::new();
        let mut quiet: Vec<f32> = Vec::new();
        for (v, flag) in self.vectors.chunks_exact(self.dim).zip(&self.flags) {
            let sim: f32 = v.iter().zip(&q).map(|(a, b)| a * b).sum();
            match flag {
                Some(c) => flagged.push((sim, *c)),
                None => quiet.push(sim),
            }
        }
        flagged.sort_by(|a, b| b.0.total_cmp(&a.0));
        quiet.sort_by(|a, b| b.total_cmp(a));
        let top = &flagged[..K.min(flagged.len())];
        let mean_flagged = top.iter().map(|(s, _)| s).sum::<f32>() / top.len() as f32;
        let near_quiet = &quiet[..K.min(quiet.len())];
        let mean_quiet = near_quiet.iter().sum::<f32>() / near_quiet.len() as f32;
        (mean_flagged - mean_quiet >= MARGIN).then(|| most_common(top))
    }
}

/// Where engines find the net once it is built (in the background, after the service starts:
/// until then the rules run alone). Shared by every engine a script publication rebuilds.
#[derive(Default)]
pub struct NetSlot(std::sync::RwLock<Option<std::sync::Arc<ExampleNet>>>);

impl NetSlot {
    pub fn set(&self, net: ExampleNet) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(std::sync::Arc::new(net));
    }

    /// Sets `net` when there is one.
    pub fn set_from(&self, net: Option<ExampleNet>) {
        if let Some(net) = net {
            self.set(net);
        }
    }

    pub fn get(&self) -> Option<std::sync::Arc<ExampleNet>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
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
        ExampleNet::new(vectors, flags).expect("net")
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
        assert!(ExampleNet::new(vec![vec![1.0, 0.0]], vec![Some(ChestPain), None]).is_err());
        assert!(ExampleNet::new(vec![vec![1.0, 0.0], vec![1.0]], vec![Some(ChestPain), None]).is_err());
        assert!(ExampleNet::new(vec![vec![1.0, 0.0], vec![0.0, 1.0]], vec![None, None]).is_err());
    }

    #[test]
    fn the_shipped_examples_are_the_tuning_corpora() {
        let all = examples();
        assert!(all.len() > 1_900, "{} examples", all.len());
        let flagged = all.iter().filter(|e| e.flag.is_some()).count();
        assert!(flagged > 700 && flagged < all.len() - 1_000, "{flagged} flagged");
    }
}
