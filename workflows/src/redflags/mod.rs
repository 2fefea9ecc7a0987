//! Red-flag rules: no model, only tables (`rules.rs`) and a matcher that reads each clause of a
//! message, tolerates typos, and drops mentions that are negated ("no chest pain", "sin dolor
//! de pecho", "denies"), hypothetical ("what should I do if I get chest pain"), resolved ("it
//! went away") or clearly in the past ("last year", "hace años").
//!
//! Decisions, documented because they are clinical:
//! - A distant-past mention (last year/month, N years ago, history of, used to, as a child) is
//!   not current. A recent one ("I had chest pain this morning", "yesterday") still flags.
//! - A clause that goes on from a past mention of the same thing without saying "now", "today",
//!   "again" ("I had a stroke in 2019 and my hand stayed weak") is history too.
//! - Suicidal language flags even when in the past or put as a wish ("easier if I didn't
//!   exist"); only an explicit negation drops it, or a past attempt told beside a plain
//!   statement of being well now ("years ago, I'm fine now").
//! - A mention that names care rather than a symptom ("seizure meds", "stroke clinic",
//!   "pastillas para la presión") does not flag.
//! - Uncertainty ("not sure if", "I think", "maybe") never drops a mention.
//! - When in doubt the rule flags: a false alarm costs a call, a miss can cost a life.

mod harm;
pub mod net;
mod rule;
mod rules;
mod rules_post;

use serde::{Deserialize, Serialize};

use crate::text::{key_count, phrase_spans, tokens, Openings, Tok};
use rules::{Pattern, Rule};

/// What a red flag is about; the string form is what escalations and audits carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ChestPain,
    Breathing,
    Stroke,
    Suicidal,
    Overdose,
    SevereBleeding,
    LossOfConsciousness,
    Seizure,
    SevereAllergicReaction,
    HighFeverAfterSurgery,
    WoundInfection,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::ChestPain => "chest_pain",
            Category::Breathing => "breathing",
            Category::Stroke => "stroke",
            Category::Suicidal => "suicidal",
            Category::Overdose => "overdose",
            Category::SevereBleeding => "severe_bleeding",
            Category::LossOfConsciousness => "loss_of_consciousness",
            Category::Seizure => "seizure",
            Category::SevereAllergicReaction => "severe_allergic_reaction",
            Category::HighFeverAfterSurgery => "high_fever_after_surgery",
            Category::WoundInfection => "wound_infection",
        }
    }
}

/// A named group of rules a script switches on. `Core` is always on, whatever the script says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSet {
    Core,
    PostDischarge,
}

impl RuleSet {
    pub fn parse(name: &str) -> Option<RuleSet> {
        match name {
            "core" => Some(RuleSet::Core),
            "post_discharge" => Some(RuleSet::PostDischarge),
            _ => None,
        }
    }
    fn rules(self) -> &'static [Rule] {
        match self {
            RuleSet::Core => rules::CORE,
            RuleSet::PostDischarge => rules_post::POST_DISCHARGE,
        }
    }
}

/// Every category the message raises under the core rules plus `extra` sets, in table order.
pub fn detect(text: &str, extra: &[RuleSet]) -> Vec<Category> {
    let msg = Message::read(text);
    let mut sets = vec![RuleSet::Core];
    sets.extend(extra.iter().copied().filter(|s| *s != RuleSet::Core));
    let mut found = Vec::new();
    for set in sets {
        for rule in set.rules() {
            let hit = if rule.category == Category::HighFeverAfterSurgery {
                fever_flags(&msg, rule)
            } else {
                msg.any_clause_hits(rule)
            };
            if hit && !found.contains(&rule.category) {
                found.push(rule.category);
            }
        }
    }
    found
}

/// Words that put a message after an operation or a hospital stay, for readers without a
/// conversation to tell them (`agent understand`): only then do the post-discharge rules apply.
const AFTER_A_STAY: &[&str] = &[
    "surgery", "surgeries", "operation", "operated", "post op", "postop", "discharged", "discharge", "hospital", "hospitalized",
    "incision", "stitches", "staples", "sutures", "wound", "procedure", "c section", "csection", "cirugia", "operacion",
    "operaron", "opere", "operada", "operado", "de alta", "hospitalizado", "hospitalizada", "herida", "puntos", "cesarea",
    "procedimiento", "suturas", "grapas", "intervencion", "scar", "cicatriz", "repair", "replacement", "removal", "removed",
    "taken out", "bypass", "transplant", "biopsy", "drain", "drain site", "cut they made", "postoperatorio", "postoperatoria",
    "reemplazo", "me quitaron", "le quitaron", "me sacaron", "le sacaron", "trasplante", "biopsia", "reparacion", "gallbladder",
    "appendix", "tonsils", "hernia", "vesicula", "apendice", "amigdalas", "replaced", "cut out", "costura", "costuras",
    "me cosieron", "le cosieron", "admitted", "internado", "internada", "ingresado", "ingresada",
];

/// Name endings of operations: appendectomy, angioplasty, laparotomy, colecistectomía.
const OPERATION_ENDINGS: &[&str] = &["ectomy", "ectomia", "plasty", "plastia", "otomy", "otomia", "oscopy", "oscopia"];

/// Does `text` say it comes after an operation or a hospital stay? Misspelt too ("cesaria",
/// "sirugia"): the message's own words are what a patient typed.
pub fn after_a_stay(text: &str) -> bool {
    let words = crate::text::words(text);
    let operation = |w: &String| OPERATION_ENDINGS.iter().any(|e| w.len() > e.len() + 2 && w.ends_with(e));
    words.iter().any(operation) || crate::text::has_any(&words, AFTER_A_STAY)
}

/// The first category raised, if any.
pub fn first(text: &str, extra: &[RuleSet]) -> Option<Category> {
    detect(text, extra).into_iter().next()
}

/// A message as every rule reads it, worked out once: its clauses, each clause's reading
/// window, and what holds for the whole message. Every rule reads every clause, so anything a
/// rule does not change is not recomputed per rule (it was most of the detector's time).
struct Message {
    clauses: Vec<Vec<String>>,
    /// Per clause: where its patterns are read and the clause that follows that window.
    windows: Vec<Window>,
    /// Every word, clause marks dropped.
    all: Vec<String>,
    /// A question about the conditions themselves: nothing in it flags (`asks_for_information`).
    informational: bool,
}

/// A clause's patterns are read in the clause itself, or in the clause joined with the next
/// one when that one points back at it ("bleeding from the cut and it won't stop").
struct Window {
    joined: Option<Vec<String>>,
    /// The openings of the window's words, and of the clause's own.
    open: Openings,
    own_open: Openings,
    /// The clause after the window, if any.
    next: Option<usize>,
}

impl Message {
    fn read(text: &str) -> Self {
        let clauses = split_clauses(text);
        let windows = (0..clauses.len())
            .map(|ci| {
                let own_open = Openings::of(&clauses[ci]);
                let follows = |n: usize| Some(n).filter(|&n| n < clauses.len());
                match clauses.get(ci + 1) {
                    Some(next) if POINTS_BACK.iter().any(|p| exact_at(next, 0, p)) => {
                        let joined = [clauses[ci].as_slice(), next].concat();
                        Window { open: Openings::of(&joined), joined: Some(joined), own_open, next: follows(ci + 2) }
                    }
                    _ => Window { joined: None, open: own_open, own_open, next: follows(ci + 1) },
                }
            })
            .collect();
        let informational = asks_for_information(&clauses);
        Message { all: clauses.concat(), clauses, windows, informational }
    }

    /// The words clause `ci`'s patterns are read in, their openings, and the clause after them.
    fn window(&self, ci: usize) -> (&[String], &Openings, &[String]) {
        let w = &self.windows[ci];
        let words = w.joined.as_deref().unwrap_or(&self.clauses[ci]);
        (words, &w.open, w.next.map(|n| self.clauses[n].as_slice()).unwrap_or(&[]))
    }

    fn any_clause_hits(&self, rule: &Rule) -> bool {
        !self.informational && (0..self.clauses.len()).any(|ci| rule_hits_clause(self, ci, rule))
    }
}

fn split_clauses(text: &str) -> Vec<Vec<String>> {
    let mut clauses = vec![Vec::new()];
    for t in tokens(text) {
        match t {
            Tok::Word(w) => {
                if let Some(c) = clauses.last_mut() {
                    c.push(w);
                }
            }
            Tok::Break => clauses.push(Vec::new()),
        }
    }
    clauses.retain(|c| !c.is_empty());
    clauses
}

/// Exact (no typo) phrase occurrence, for context cues.
fn exact_at(words: &[String], i: usize, phrase: &str) -> bool {
    // The first word is checked without splitting the phrase: it rules out almost every place.
    let opens = words.get(i).is_some_and(|w| {
        phrase.strip_prefix(w.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    });
    opens && i + key_count(phrase) <= words.len() && phrase.split(' ').zip(&words[i..]).all(|(key, word)| word == key)
}

fn contains_exact(words: &[String], phrase: &str) -> bool {
    (0..words.len()).any(|i| exact_at(words, i, phrase))
}

/// Where `pattern` matches `words` (whose openings are `open`).
fn pattern_spans(words: &[String], open: &Openings, pattern: &Pattern) -> Vec<(usize, usize)> {
    let spans = |phrases: &[&str]| -> Vec<(usize, usize)> {
        phrases.iter().filter(|p| open.may_open(p)).flat_map(|p| phrase_spans(words, p)).collect()
    };
    match pattern {
        Pattern::Any(phrases) => spans(phrases),
        Pattern::Near(a, b, window) => {
            let (a_spans, b_spans) = (spans(a), spans(b));
            let mut out = Vec::new();
            for &(a0, a1) in &a_spans {
                for &(b0, b1) in &b_spans {
                    let overlap = a0 < b1 && b0 < a1;
                    let (gap_lo, gap_hi) = if a1 <= b0 { (a1, b0) } else { (b1, a0.max(b1)) };
                    let gap = gap_hi.saturating_sub(gap_lo);
                    // "wound looks clean, no redness": a negation between the two parts denies the second.
                    if !overlap && gap <= *window && !context::negates_between(words, gap_lo, gap_hi) {
                        out.push((a0.min(b0), a1.max(b1)));
                    }
                }
            }
            out
        }
    }
}

/// Clause openers that point back at the clause before ("bleeding from the cut and it won't
/// stop", "se desmayó y no responde"): a pattern may finish in such a clause.
const POINTS_BACK: &[&str] = &[
    "it", "its", "that", "which", "still", "wont", "keeps", "sigue", "no para", "no deja", "no se detiene", "no se quita",
    "no se me para", "no se le para", "now its", "now it", "ahora", "now",
];

fn rule_hits_clause(msg: &Message, ci: usize, rule: &Rule) -> bool {
    let own = &msg.clauses[ci];
    let (words, open, next) = msg.window(ci);
    if rule.vetoes.iter().any(|v| contains_exact(words, v)) || is_history(msg, ci, rule) {
        return false;
    }
    let counted = if rule.category == Category::Overdose { many_taken(words) } else { Vec::new() };
    rule.patterns
        .iter()
        .flat_map(|p| pattern_spans(words, open, p))
        .chain(counted)
        .filter(|span| span.0 < own.len())
        .any(|span| context::is_current(words, span, next, rule.category))
}

/// "What's the difference between fainting and a seizure?": a question about the conditions
/// themselves, read over the whole message (its clauses split at "and").
const INFORMATION: &[&str] = &[
    "whats the difference", "what is the difference", "cual es la diferencia", "que es mas peligroso", "which is more dangerous",
    "school project", "group project", "nursing school", "vi algo en la tele", "saw something on tv", "trabajo de la escuela",
    "tarea de la escuela", "para la escuela", "for school", "homework", "school assignment", "school report",
];

fn asks_for_information(clauses: &[Vec<String>]) -> bool {
    clauses.iter().any(|c| INFORMATION.iter().any(|p| contains_exact(c, p)))
}

/// Clause `ci` continues a past mention of the same rule without saying it is about now ("I had
/// a stroke two years ago and my hand stayed weak"), or is a past suicide attempt told beside
/// being well now.
fn is_history(msg: &Message, ci: usize, rule: &Rule) -> bool {
    let own = &msg.clauses[ci];
    if rule.category == Category::Suicidal {
        return context::is_past(own) && context::says_well_now(&msg.all);
    }
    let Some(prev) = ci.checked_sub(1).map(|p| &msg.clauses[p]) else { return false };
    let same_story = context::told_in_past_tense(own) || rule.patterns.iter().any(|p| !pattern_spans(prev, &msg.windows[ci - 1].own_open, p).is_empty());
    context::continues_past(own, prev) && same_story
}

/// "took like 10 tylenol", "me tomé 8 pastillas": a verb of taking, then within three words a
/// count of five or more that is not a dose unit or a time ("took 10 mg", "took 20 units").
fn many_taken(words: &[String]) -> Vec<(usize, usize)> {
    const TAKEN: &[&str] = &["took", "taken", "swallowed", "ate", "tome", "tomo", "trague", "ingeri", "eche", "popped"];
    const UNITS: &[&str] = &[
        "mg", "mcg", "ml", "g", "cc", "unit", "units", "unidades", "am", "pm", "hours", "hrs", "horas", "days", "dias", "minutes",
        "min", "minutos", "oclock", "years", "anos", "weeks", "semanas", "times", "veces", "puffs", "drops", "gotas", "percent",
    ];
    let count = |w: &str| w.parse::<f64>().ok().or_else(|| crate::text::CARDINALS.iter().find(|(n, _)| *n == w).map(|(_, v)| f64::from(*v)));
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if !TAKEN.contains(&w.as_str()) {
            continue;
        }
        for j in i + 1..(i + 4).min(words.len()) {
            let unit_after = words.get(j + 1).is_some_and(|u| UNITS.contains(&u.as_str()));
            if count(&words[j]).is_some_and(|n| n >= 5.0) && !unit_after {
                out.push((i, j + 1));
            }
        }
    }
    out
}

/// Post-discharge fever: a temperature reading decides when there is one (≥ 38 °C / 100.4 °F);
/// otherwise the word "fever" does, unless negated or in the past.
fn fever_flags(msg: &Message, rule: &Rule) -> bool {
    let readings = temperature_readings(&msg.all);
    if !readings.is_empty() {
        return readings.iter().any(|&t| (38.0..=44.0).contains(&t) || (100.4..=110.0).contains(&t));
    }
    msg.any_clause_hits(rule)
}

const THRESHOLD_WORDS: &[&str] = &["over", "above", "than", "exceeds", "past"];
/// Words of an instruction someone gave ("call if over 101", "si pasa de 38 llame").
const INSTRUCTION_WORDS: &[&str] = &["if", "call", "says", "said", "told", "si", "llame", "llamar", "dice", "dijo"];

/// Numbers that read as body temperatures: beside a temperature word or with a C/F unit.
fn temperature_readings(words: &[String]) -> Vec<f64> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let (num, unit) = match w.strip_suffix('f').or_else(|| w.strip_suffix('c')) {
            Some(n) => (n, true),
            None => (w.as_str(), false),
        };
        let Ok(v) = num.parse::<f64>() else { continue };
        let plausible = (35.0..=44.0).contains(&v) || (95.0..=110.0).contains(&v);
        let lo = i.saturating_sub(4);
        let hi = (i + 3).min(words.len());
        let near_word = words[lo..hi].iter().any(|n| rules_post::TEMPERATURE_WORDS.contains(&n.as_str()) || n == "f" || n == "c");
        // "call if over 101": a threshold someone gave, not a reading.
        let before = |k: usize| i.checked_sub(k).map(|p| words[p].as_str());
        let over = before(1).is_some_and(|p| THRESHOLD_WORDS.contains(&p))
            || (before(1) == Some("de") && before(2).is_some_and(|p| matches!(p, "mas" | "arriba" | "encima")));
        let threshold = over && words.iter().any(|w| INSTRUCTION_WORDS.contains(&w.as_str()));
        if threshold {
            continue;
        }
        // "I'm at 102.5": a Fahrenheit reading with its decimal needs no word beside it.
        let fahrenheit_decimal = num.contains('.') && (99.0..=107.0).contains(&v);
        if plausible && (unit || near_word || fahrenheit_decimal) {
            out.push(v);
        }
    }
    out
}

mod context;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_phrases_match_whole_words_only() {
        let w = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert!(exact_at(&w("my x ray was fine"), 1, "x ray"));
        assert!(!exact_at(&w("my xr ray"), 1, "x ray"), "a longer first word");
        assert!(!exact_at(&w("my x"), 1, "x ray"), "the phrase runs past the message");
        assert!(!exact_at(&w("not any"), 0, "not anymore"), "a shorter last word");
        assert!(!exact_at(&w("x ray"), 2, "x ray"), "past the end");
        assert!(contains_exact(&w("had an x ray"), "x ray"));
        assert!(!contains_exact(&w("had an xray"), "x ray"));
    }
}
