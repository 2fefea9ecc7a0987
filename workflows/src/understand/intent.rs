//! Which script and intent a message asks for: script keywords first (sure when a single
//! intent has a hit once denied keywords and `yields_to` are taken into account; when two
//! scripts have hits, the one asked for first), then nearest
//! examples by embedding, with the model's `choose` only to confirm a middling nearest intent.
//! Low confidence returns `None` and the engine asks the patient (the menu). `ask::read` puts
//! these together with the person and advice readers and the labelled examples' opinion.

use std::collections::HashMap;
use std::sync::Mutex;

use super::meds::cosine;
use crate::script::Script;
use crate::text::{phrase_spans, words};
use crate::{Result, Understand};

/// Nearest-example similarity that decides alone, with the lead it needs over the runner-up
/// intent; between `EMBED_MIN` and `EMBED_SURE` the nearest intent stands only if the model,
/// asked to choose, picks it too. Below, the patient is asked. Measured on 700 patient messages
/// written blind to the scripts (`scripts/understand-eval`): MiniLM's nearest example under
/// 0.65 was wrong more often than right, and SmolLM2's choice alone was right for 15 of 72.
const EMBED_SURE: f32 = 0.65;
const EMBED_MIN: f32 = 0.5;
const EMBED_MARGIN: f32 = 0.05;
/// Probability the model's choice needs before we act on it.
const CHOOSE_MIN: f32 = 0.4;

#[derive(Clone, Debug, PartialEq)]
pub struct IntentGuess {
    pub script: String,
    pub intent: String,
    pub confidence: f32,
    /// "rule", "embedding" or "model": how it was decided (for the audit).
    pub source: &'static str,
}

/// Embeddings of script examples, computed once per example text.
#[derive(Default)]
pub struct ExampleCache(Mutex<HashMap<String, Vec<f32>>>);

impl ExampleCache {
    async fn embed_all(&self, texts: &[String], understand: &dyn Understand) -> Result<Vec<Vec<f32>>> {
        let missing: Vec<String> = {
            let map = self.0.lock().map_err(|_| crate::Error::State("example cache poisoned".into()))?;
            texts.iter().filter(|t| !map.contains_key(*t)).cloned().collect()
        };
        if !missing.is_empty() {
            let embs = understand.embed(&missing).await?;
            let mut map = self.0.lock().map_err(|_| crate::Error::State("example cache poisoned".into()))?;
            for (t, e) in missing.into_iter().zip(embs) {
                map.insert(t, e);
            }
        }
        let map = self.0.lock().map_err(|_| crate::Error::State("example cache poisoned".into()))?;
        Ok(texts.iter().map(|t| map.get(t).cloned().unwrap_or_default()).collect())
    }
}

/// Embeds every intent example of `scripts` now, so the first patient's turn does not pay for it.
pub async fn warm_up(scripts: &[&Script], understand: &dyn Understand, cache: &ExampleCache) -> Result<usize> {
    let examples: Vec<String> =
        scripts.iter().flat_map(|s| s.intents.iter().flat_map(|i| i.examples.iter().cloned())).collect();
    cache.embed_all(&examples, understand).await?;
    Ok(examples.len())
}

struct Candidate<'a> {
    script: &'a Script,
    intent: usize,
}

impl Candidate<'_> {
    fn guess(&self, confidence: f32, source: &'static str) -> IntentGuess {
        IntentGuess { script: self.script.id.clone(), intent: self.script.intents[self.intent].name.clone(), confidence, source }
    }
}

/// Classifies a first message among the intents of `scripts`.
pub async fn classify(text: &str, scripts: &[&Script], understand: &dyn Understand, cache: &ExampleCache) -> Result<Option<IntentGuess>> {
    let all = candidates(scripts);
    let hits = keyword_hits(text, &all);
    if let [only] = hits.as_slice() {
        return Ok(Some(only.guess(1.0, "rule")));
    }
    let pool: Vec<&Candidate> = if hits.is_empty() { all.iter().collect() } else { hits };
    decide_nearest(text, &pool, understand, cache).await
}

/// The intent the scripts' keywords settle on their own, if they do.
pub fn keyword_guess(text: &str, scripts: &[&Script]) -> Option<IntentGuess> {
    let all = candidates(scripts);
    match keyword_hits(text, &all).as_slice() {
        [only] => Some(only.guess(1.0, "rule")),
        _ => None,
    }
}

/// The nearest of the (script, intent index) `pool` by its examples, if sure enough (or
/// confirmed by the model); `None` for an empty pool.
pub async fn nearest_guess(text: &str, pool: &[(&Script, usize)], understand: &dyn Understand, cache: &ExampleCache) -> Result<Option<IntentGuess>> {
    let pool: Vec<Candidate> = pool.iter().map(|&(script, intent)| Candidate { script, intent }).collect();
    if pool.is_empty() {
        return Ok(None);
    }
    decide_nearest(text, &pool.iter().collect::<Vec<_>>(), understand, cache).await
}

fn candidates<'a>(scripts: &[&'a Script]) -> Vec<Candidate<'a>> {
    scripts.iter().flat_map(|s| (0..s.intents.len()).map(move |i| Candidate { script: s, intent: i })).collect()
}

/// The candidates whose keywords hit, after `yields_to` and "the first script asked".
fn keyword_hits<'a, 'b>(text: &str, all: &'a [Candidate<'b>]) -> Vec<&'a Candidate<'b>> {
    let w = words(text);
    let first_hit = |c: &Candidate| {
        let kws: Vec<&str> = c.script.intents[c.intent].keywords.iter().map(String::as_str).collect();
        first_unnegated(&w, &kws)
    };
    let hits: Vec<&Candidate> = all.iter().filter(|c| first_hit(c).is_some()).collect();
    first_script_asked(without_yielding(hits), first_hit)
}

/// The nearest candidate by its examples when sure; between `EMBED_MIN` and `EMBED_SURE`,
/// only if the model picks it too.
async fn decide_nearest(text: &str, pool: &[&Candidate<'_>], understand: &dyn Understand, cache: &ExampleCache) -> Result<Option<IntentGuess>> {
    let scored = nearest(text, pool, understand, cache).await?;
    let Some(&(best, s1)) = scored.first() else { return Ok(None) };
    let leads = scored.get(1).is_none_or(|(_, s2)| s1 - s2 >= EMBED_MARGIN);
    if s1 >= EMBED_SURE && leads {
        return Ok(Some(pool[best].guess(s1, "embedding")));
    }
    if s1 < EMBED_MIN {
        return Ok(None);
    }
    let top: Vec<&Candidate> = scored.iter().take(3).map(|(i, _)| pool[*i]).collect();
    // The model confirms the nearest intent or nothing is decided.
    let nearest = pool[best];
    let agrees = |g: &IntentGuess| g.script == nearest.script.id && g.intent == nearest.script.intents[nearest.intent].name;
    Ok(ask_model(text, &top, understand).await?.filter(agrees))
}

/// Words that, just before a keyword, deny it ("cancel, not reschedule", "don't need to rebook").
const DENIALS: &[&str] = &["not", "no", "dont", "never", "without", "sin", "nunca"];

/// Where the first phrase of `keywords` without a denial in the three words before it starts.
fn first_unnegated(w: &[String], keywords: &[&str]) -> Option<usize> {
    let denied = |start: usize| w[start.saturating_sub(3)..start].iter().any(|x| DENIALS.contains(&x.as_str()));
    keywords.iter().flat_map(|k| phrase_spans(w, k)).map(|(start, _)| start).filter(|&s| !denied(s)).min()
}

/// Two requests in one message ("move my appointment, and I need a refill"): the script asked
/// for first is served first; the patient can ask for the other when it is done.
fn first_script_asked<'a, 'b>(hits: Vec<&'a Candidate<'b>>, first_hit: impl Fn(&Candidate) -> Option<usize>) -> Vec<&'a Candidate<'b>> {
    let Some(first) = hits.iter().min_by_key(|c| first_hit(c).unwrap_or(usize::MAX)) else { return hits };
    let script = first.script.id.clone();
    hits.into_iter().filter(|c| c.script.id == script).collect()
}

/// Drops each hit that yields to another hit of its script (`yields_to`).
fn without_yielding<'a, 'b>(hits: Vec<&'a Candidate<'b>>) -> Vec<&'a Candidate<'b>> {
    let beaten = |c: &Candidate| {
        let def = &c.script.intents[c.intent];
        hits.iter().any(|o| o.script.id == c.script.id && def.yields_to.contains(&o.script.intents[o.intent].name))
    };
    hits.iter().copied().filter(|c| !beaten(c)).collect()
}

/// (pool index, best example similarity), best first.
async fn nearest(text: &str, pool: &[&Candidate<'_>], understand: &dyn Understand, cache: &ExampleCache) -> Result<Vec<(usize, f32)>> {
    let examples: Vec<String> = pool.iter().flat_map(|c| c.script.intents[c.intent].examples.iter().cloned()).collect();
    let ex_emb = cache.embed_all(&examples, understand).await?;
    let q = understand.embed(&[text.to_string()]).await?;
    let Some(q) = q.first() else {
        return Ok(Vec::new());
    };
    let mut k = 0;
    let mut scored = Vec::new();
    for (i, c) in pool.iter().enumerate() {
        let n = c.script.intents[c.intent].examples.len();
        let best = ex_emb[k..k + n].iter().map(|e| cosine(q, e)).fold(f32::MIN, f32::max);
        k += n;
        scored.push((i, best));
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(scored)
}

async fn ask_model(text: &str, top: &[&Candidate<'_>], understand: &dyn Understand) -> Result<Option<IntentGuess>> {
    if top.is_empty() {
        return Ok(None);
    }
    let mut options: Vec<String> = top.iter().map(|c| describe(c)).collect();
    options.push("something else".into());
    let instruction = prompts::choose_intent_instruction();
    let (i, logprobs) = understand.choose(&instruction, text, &options).await?;
    // The model suggests; we check: an index in range, not "something else", and confident.
    let Some(c) = top.get(i) else { return Ok(None) };
    let p = softmax_at(&logprobs, i);
    Ok((p >= CHOOSE_MIN).then(|| c.guess(p, "model")))
}

fn describe(c: &Candidate) -> String {
    let def = &c.script.intents[c.intent];
    def.examples.first().cloned().unwrap_or_else(|| def.name.replace('_', " "))
}

/// The probability of option `i` among the options' log-probabilities (softmax).
pub(crate) fn softmax_at(logprobs: &[f32], i: usize) -> f32 {
    let Some(&x) = logprobs.get(i) else {
        return 0.0;
    };
    let max = logprobs.iter().copied().fold(f32::MIN, f32::max);
    let sum: f32 = logprobs.iter().map(|l| (l - max).exp()).sum();
    if sum > 0.0 {
        (x - max).exp() / sum
    } else {
        0.0
    }
}
