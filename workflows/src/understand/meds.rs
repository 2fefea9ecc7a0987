//! Which of the patient's own medications a message means: drug-name words first (typos
//! tolerated, dose numbers break ties), embedding similarity only when no name word matches.
//! The answer is always an index into the patient's list, never a name the model made up.

use crate::text::{fuzzy_eq, words};
use crate::{Result, Understand};

/// Words in EHR medication names that say nothing about which drug it is.
const FORM_WORDS: &[&str] = &[
    "mg", "mcg", "ml", "oral", "tablet", "tablets", "tab", "capsule", "capsules", "solution", "extended", "release", "er", "xr", "sr",
    "hcl", "daily", "injection", "inhaler", "cream", "units", "unit", "each", "per", "and", "of", "delayed", "chewable", "suspension",
    "topical", "film", "coated", "actuation", "dose", "metered",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MedMatch {
    One(usize),
    /// Several fit equally well: ask which, offering these.
    Ambiguous(Vec<usize>),
    NoMatch,
}

/// Similarity the embedding route needs before it may pick a medication on its own.
const EMBED_MIN: f32 = 0.55;
const EMBED_MARGIN: f32 = 0.08;

pub async fn match_medication(text: &str, names: &[String], understand: &dyn Understand) -> Result<MedMatch> {
    let msg = words(text);
    let scores: Vec<usize> = names.iter().map(|n| name_score(&msg, n)).collect();
    let best = scores.iter().copied().max().unwrap_or(0);
    if best > 0 {
        let mut cands: Vec<usize> = (0..names.len()).filter(|&i| scores[i] == best).collect();
        if cands.len() > 1 {
            let numbers: Vec<&String> = msg.iter().filter(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.')).collect();
            let by_dose: Vec<usize> = cands.iter().copied().filter(|&i| words(&names[i]).iter().any(|w| numbers.contains(&w))).collect();
            if by_dose.len() == 1 {
                cands = by_dose;
            }
        }
        return Ok(if cands.len() == 1 { MedMatch::One(cands[0]) } else { MedMatch::Ambiguous(cands) });
    }
    if names.is_empty() || msg.is_empty() {
        return Ok(MedMatch::NoMatch);
    }
    let mut texts = vec![text.to_string()];
    texts.extend(names.iter().cloned());
    let emb = understand.embed(&texts).await?;
    let Some((query, rest)) = emb.split_first() else {
        return Ok(MedMatch::NoMatch);
    };
    let mut sims: Vec<(usize, f32)> = rest.iter().take(names.len()).map(|e| cosine(query, e)).enumerate().collect();
    sims.sort_by(|a, b| b.1.total_cmp(&a.1));
    match sims.as_slice() {
        [(i, s), rest @ ..] if *s >= EMBED_MIN && rest.first().is_none_or(|(_, s2)| s - s2 >= EMBED_MARGIN) => Ok(MedMatch::One(*i)),
        _ => Ok(MedMatch::NoMatch),
    }
}

/// How many of the drug's own name words the message mentions.
fn name_score(msg: &[String], name: &str) -> usize {
    words(name)
        .iter()
        .filter(|w| w.len() >= 4 && !FORM_WORDS.contains(&w.as_str()) && !w.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .filter(|w| msg.iter().any(|m| fuzzy_eq(m, w)))
        .count()
}

/// Cosine similarity; inputs are expected L2-normalised but are normalised again to be safe.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
