//! Which of the patient's own medications a message means: drug-name words first (typos
//! tolerated, dictation's split words joined, dose numbers break ties); then a brand, what the
//! medicine is for, its dose or its form (`med_words`: "my Lipitor", "the water pill", "the
//! 500"); embedding similarity only when none of these matches. The answer is always an index
//! into the patient's list, never a name the model made up.

use super::med_words::{BRANDS, PURPOSES};
use crate::text::{fuzzy_eq, has_any, words};
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
        // "my metformin and my Lipitor": a second medicine named by its brand joins the question.
        let more: Vec<usize> = (0..names.len()).filter(|&i| scores[i] == 0 && by_brand(&msg, &words(&names[i]))).collect();
        cands.extend(more);
        return Ok(if cands.len() == 1 { MedMatch::One(cands[0]) } else { MedMatch::Ambiguous(cands) });
    }
    if names.is_empty() || msg.is_empty() {
        return Ok(MedMatch::NoMatch);
    }
    // A brand whose medicine is not on the list ("my Humalog pen") means none of them.
    if brand_elsewhere(&msg, names) {
        return Ok(MedMatch::NoMatch);
    }
    // "my Lipitor", "the water pill", "la de la presión", "the 500", "the capsule": a brand, a
    // purpose, a dose or a form, on this list.
    let routes: [&dyn Fn(usize) -> bool; 3] =
        [&|i| by_brand_or_purpose(&msg, &names[i]), &|i| by_dose(&msg, &names[i]), &|i| by_form(&msg, &names[i])];
    for route in routes {
        let known: Vec<usize> = (0..names.len()).filter(|&i| route(i)).collect();
        let known = narrow_by_form(&msg, names, known);
        match known.len() {
            0 => continue,
            1 => return Ok(MedMatch::One(known[0])),
            _ => return Ok(MedMatch::Ambiguous(known)),
        }
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

/// Whether the message names this medicine by a brand or by what it is for.
fn by_brand_or_purpose(msg: &[String], name: &str) -> bool {
    let name = words(name);
    by_brand(msg, &name)
        || PURPOSES.iter().any(|(phrases, generics)| generics.iter().any(|g| name.contains(&g.to_string())) && has_any(msg, phrases))
}

/// How many of the drug's own name words the message mentions; dictation's split words count
/// joined ("lice and a pril", "met for men", "Sir Traline").
fn name_score(msg: &[String], name: &str) -> usize {
    let joined = joined_words(msg);
    words(name)
        .iter()
        .filter(|w| w.len() >= 4 && !FORM_WORDS.contains(&w.as_str()) && !w.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .filter(|w| msg.iter().chain(&joined).any(|m| fuzzy_eq(m, w)))
        .count()
}

/// Two and three neighbouring words run together, for names dictation split.
fn joined_words(msg: &[String]) -> Vec<String> {
    let mut out: Vec<String> = msg.windows(2).map(|p| p.concat()).collect();
    out.extend(msg.windows(3).map(|p| p.concat()));
    out.retain(|w| w.len() >= 7);
    out
}

/// A medicine named, by brand or generic, that is not on the list at all ("my Humalog pen",
/// "losartan 50").
fn brand_elsewhere(msg: &[String], names: &[String]) -> bool {
    let on_list = |generic: &str| names.iter().any(|n| words(n).iter().any(|w| w == generic));
    let said = |x: &str| msg.iter().any(|m| m == x);
    BRANDS.iter().any(|(brand, generic)| said(brand) && !on_list(generic))
        || PURPOSES.iter().flat_map(|(_, generics)| generics.iter()).any(|g| said(g) && !on_list(g))
}

/// Whether the message names this medicine by a brand ("Lipitor", or "sal buta mol" dictated).
fn by_brand(msg: &[String], name: &[String]) -> bool {
    let joined = joined_words(msg);
    BRANDS.iter().any(|(brand, g)| name.iter().any(|w| w == g) && msg.iter().chain(&joined).any(|m| m == brand || (brand.len() >= 6 && fuzzy_eq(m, brand))))
}

/// "The 500", "la de 40 mg": a dose that is on this medicine's name.
fn by_dose(msg: &[String], name: &str) -> bool {
    let doses: Vec<&String> = msg.iter().filter(|w| w.parse::<f32>().is_ok_and(|v| v > 0.0)).collect();
    !doses.is_empty() && words(name).iter().any(|w| doses.contains(&w))
}

/// What a medicine comes as, said by the patient, and the words of records that say it.
const FORMS: &[(&[&str], &[&str])] = &[
    (&["pill", "pills", "tablet", "tablets", "pastilla", "pastillas", "tableta", "tabletas", "pastillita"], &["tablet", "capsule"]),
    (&["capsule", "capsules", "capsula", "capsulas"], &["capsule"]),
    (&["pen", "shot", "injection", "inyeccion", "pluma", "inyectable"], &["injectable", "injection", "pen"]),
    (&["inhaler", "puffer", "inhalador", "bomba", "pompa"], &["inhaler", "inhalation"]),
];

/// Whether the message names the form this medicine comes as ("the capsule").
fn by_form(msg: &[String], name: &str) -> bool {
    let name = words(name);
    FORMS.iter().any(|(said, on_record)| msg.iter().any(|m| said.contains(&m.as_str())) && name.iter().any(|w| on_record.contains(&w.as_str())))
}

/// Of several that fit, those of the form the message names ("the sugar pills": not the insulin).
fn narrow_by_form(msg: &[String], names: &[String], known: Vec<usize>) -> Vec<usize> {
    if known.len() < 2 {
        return known;
    }
    let narrowed: Vec<usize> = known.iter().copied().filter(|&i| by_form(msg, &names[i])).collect();
    if narrowed.is_empty() {
        known
    } else {
        narrowed
    }
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
