//! Small rule readers for slot values that need no model: yes/no, a 0–10 scale, a provider
//! (specialty or practitioner name); the special requests every script obeys (a person,
//! medical advice) are read in `requests`.

pub use super::requests::{asks_for_advice, asks_for_person};
pub use super::yes_no::{yes_no, yes_no_to, Question};
use crate::text::{fold, has_any, tokens, words, Tok, CARDINALS};

/// Words for a score of zero, beside [`CARDINALS`], when they are the whole answer ("none",
/// "nada, gracias"; not "un dolorcito, nada grave").
const NONE_WORDS: &[&str] = &["none", "ninguno", "nada"];
/// Numbers as they sound, misheard by dictation or spelt by ear; read only as the whole answer
/// or after "a", "an", "un", "like" ("I'd say it's an ate", "id say about a for", "Dies").
const SOUNDS: &[(&str, i64)] =
    &[("for", 4), ("fore", 4), ("ate", 8), ("won", 1), ("sinco", 5), ("sies", 6), ("nuebe", 9), ("dies", 10), ("sero", 0)];
/// A number followed by one of these is not a score ("2 days", "500 mg", "at 3 pm").
const UNITS: &[&str] = &[
    "day", "days", "dias", "dia", "hour", "hours", "hrs", "horas", "hora", "mg", "pill", "pills", "pastillas", "pastilla", "am", "pm",
    "week", "weeks", "semanas", "semana", "times", "veces", "years", "anos", "minutes", "min", "minutos", "months", "meses", "tablets",
];
/// A clause with one of these tells an earlier pain ("it was a 9 yesterday"); today's counts.
const PAST: &[&str] = &["yesterday", "ayer", "anoche", "was", "were", "era", "estaba", "fue", "used", "antes", "before", "last"];

/// A 0–10 rating from "7", "seven", "siete", "about a 6/10", "6 out of 10". Of several numbers
/// the highest is today's ("6 or 7", "3 now but 8 at night", "entre 3 y 4"), leaving out those
/// of a clause about an earlier day when today has its own, and counts, doses and times.
pub fn scale(text: &str) -> Option<u8> {
    let mut folded = fold(text);
    for tail in ["out of 10", "out of ten", "de 10", "de diez", "sobre 10", "sobre diez", "/ 10", "/10"] {
        folded = folded.replace(tail, " ");
    }
    let w = words(&folded);
    let asks = |x: &String| matches!(x.as_str(), "what" | "whats") || (matches!(x.as_str(), "que" | "how") && folded.contains('?'));
    if w.first().is_some_and(asks) {
        return None; // "what's a 10 supposed to feel like?"
    }
    let (mut now, mut before) = (Vec::new(), Vec::new());
    for clause in clauses(&folded) {
        let found = numbers(&clause, w.len());
        if clause.iter().any(|x| PAST.contains(&x.as_str())) {
            before.extend(found);
        } else {
            now.extend(found);
        }
    }
    let found = if now.is_empty() { before } else { now };
    if let Some(max) = found.iter().copied().filter(|v| (0..=10).contains(v)).max() {
        return u8::try_from(max).ok();
    }
    if !found.is_empty() {
        return None; // "15": not on the scale
    }
    let alone = w.len() <= 3 && !has_any(&w, &["casi", "almost", "barely", "hardly"]);
    let none = alone && w.iter().any(|x| NONE_WORDS.contains(&x.as_str()));
    (none || has_any(&w, &["no pain", "sin dolor", "no me duele", "no duele", "doesnt hurt", "nada de dolor"])).then_some(0)
}

fn clauses(folded: &str) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for t in tokens(folded) {
        match t {
            Tok::Word(x) => out.last_mut().expect("one clause").push(x),
            Tok::Break => out.push(Vec::new()),
        }
    }
    out
}

/// The numbers of a clause that may be scores.
fn numbers(c: &[String], message_words: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for (i, x) in c.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| c[p].as_str()).unwrap_or("");
        if c.get(i + 1).is_some_and(|n| UNITS.contains(&n.as_str())) || matches!(prev, "at" | "las" | "by") {
            continue;
        }
        let bare = x.strip_suffix("ish").unwrap_or(x);
        let digits = bare.parse::<f32>().ok().map(|v| v.round() as i64);
        let word = CARDINALS.iter().find(|(k, _)| *k == bare).map(|(_, v)| i64::from(*v));
        let heard = (message_words == 1 || matches!(prev, "a" | "an" | "un" | "like" | "como"))
            .then(|| SOUNDS.iter().find(|(k, _)| *k == bare).map(|(_, v)| *v))
            .flatten();
        out.extend(digits.or(word).or(heard));
    }
    out
}

/// Specialties we recognise in messages, mapped to the code-ish name the EHR search uses.
const SPECIALTIES: &[(&str, &str)] = &[
    ("cardiology", "cardiology"),
    ("cardiologist", "cardiology"),
    ("cardiologia", "cardiology"),
    ("cardiologo", "cardiology"),
    ("heart doctor", "cardiology"),
    ("dermatology", "dermatology"),
    ("dermatologist", "dermatology"),
    ("dermatologia", "dermatology"),
    ("dermatologo", "dermatology"),
    ("skin doctor", "dermatology"),
    ("family medicine", "family medicine"),
    ("family doctor", "family medicine"),
    ("primary care", "family medicine"),
    ("gp", "family medicine"),
    ("medico de cabecera", "family medicine"),
    ("medico de familia", "family medicine"),
    ("medicina familiar", "family medicine"),
    ("pediatrics", "pediatrics"),
    ("pediatrician", "pediatrics"),
    ("pediatra", "pediatrics"),
    ("pediatria", "pediatrics"),
    ("orthopedics", "orthopedics"),
    ("orthopedic", "orthopedics"),
    ("ortopedia", "orthopedics"),
    ("traumatologo", "orthopedics"),
    ("neurology", "neurology"),
    ("neurologist", "neurology"),
    ("neurologia", "neurology"),
    ("neurologo", "neurology"),
    ("gynecology", "gynecology"),
    ("gynecologist", "gynecology"),
    ("ginecologia", "gynecology"),
    ("ginecologo", "gynecology"),
    ("ophthalmology", "ophthalmology"),
    ("eye doctor", "ophthalmology"),
    ("oftalmologia", "ophthalmology"),
    ("oftalmologo", "ophthalmology"),
    ("psychiatry", "psychiatry"),
    ("psychiatrist", "psychiatry"),
    ("psiquiatria", "psychiatry"),
    ("psiquiatra", "psychiatry"),
    ("endocrinology", "endocrinology"),
    ("endocrinologist", "endocrinology"),
    ("endocrinologia", "endocrinology"),
    ("endocrino", "endocrinology"),
    ("internal medicine", "internal medicine"),
    ("medicina interna", "internal medicine"),
    ("general practice", "family medicine"),
];

/// Whom the patient wants to see.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Provider {
    Specialty(String),
    /// A practitioner's name as typed ("Smith"), matched against names the EHR returns.
    Practitioner(String),
    Anyone,
}

const ANYONE: &[&str] = &[
    "anyone", "any doctor", "anybody", "whoever", "no preference", "doesnt matter", "cualquiera", "cualquier medico", "me da igual",
    "no importa", "da igual",
];
const TITLES: &[&str] = &["dr", "doctor", "doctora", "dra", "doc"];
const NOT_NAMES: &[&str] = &[
    "a", "an", "the", "my", "el", "la", "mi", "appointment", "next", "on", "for", "about", "tomorrow", "manana", "today", "hoy", "please",
    "por", "para",
];

/// A provider from the message, if it names a specialty, a doctor, or "anyone".
pub fn provider(text: &str) -> Option<Provider> {
    let w = words(text);
    if let Some((_, code)) = SPECIALTIES.iter().find(|(k, _)| has_any(&w, &[k])) {
        return Some(Provider::Specialty(code.to_string()));
    }
    if has_any(&w, ANYONE) {
        return Some(Provider::Anyone);
    }
    let at = w.iter().position(|x| TITLES.contains(&x.as_str()))?;
    let name = w.get(at + 1).filter(|n| !NOT_NAMES.contains(&n.as_str()) && n.chars().all(char::is_alphabetic))?;
    Some(Provider::Practitioner(name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_and_no_in_both_languages() {
        for y in ["yes", "Yeah that works", "sí", "Si, claro", "ok", "de acuerdo", "yes, no problems"] {
            assert_eq!(yes_no(y), Some(true), "{y}");
        }
        for n in ["no", "nope", "not yet", "No, gracias", "todavía no", "I haven't", "no, I'm fine"] {
            assert_eq!(yes_no(n), Some(false), "{n}");
        }
        assert_eq!(yes_no("maybe later"), None);
    }

    #[test]
    fn scale_reads_digits_words_and_out_of_ten() {
        assert_eq!(scale("7"), Some(7));
        assert_eq!(scale("seven"), Some(7));
        assert_eq!(scale("siete"), Some(7));
        assert_eq!(scale("about a 6/10"), Some(6));
        assert_eq!(scale("6 out of 10"), Some(6));
        assert_eq!(scale("un 8 de 10"), Some(8));
        assert_eq!(scale("15"), None);
        assert_eq!(scale("it hurts"), None);
        assert_eq!(scale("none"), Some(0));
        assert_eq!(scale("ninguno"), Some(0));
        assert_eq!(scale("diez de diez"), Some(10));
        // Of several numbers, today's highest: a range, or worse at night.
        assert_eq!(scale("6 or 7"), Some(7));
        assert_eq!(scale("3 now but it gets to 8 at night"), Some(8));
        assert_eq!(scale("it was a 9 yesterday, better now, maybe 4"), Some(4));
        assert_eq!(scale("a 5, surgery was 10 days ago"), Some(5));
        assert_eq!(scale("id say about a for"), Some(4));
        assert_eq!(scale("un dolorcito, nada grave"), None);
        // An article is not a score: "una" is one only in dates ("en una semana").
        assert_eq!(scale("una molestia, un 3 de 10"), Some(3));
    }

    #[test]
    fn provider_recognises_specialties_names_and_anyone() {
        assert_eq!(provider("I need a cardiologist"), Some(Provider::Specialty("cardiology".into())));
        assert_eq!(provider("con el cardiólogo"), Some(Provider::Specialty("cardiology".into())));
        assert_eq!(provider("with Dr. Smith next week"), Some(Provider::Practitioner("smith".into())));
        assert_eq!(provider("anyone is fine"), Some(Provider::Anyone));
        assert_eq!(provider("next tuesday"), None);
    }

    #[test]
    fn person_and_advice_requests_are_recognised() {
        assert!(asks_for_person("I want to talk to a person"));
        assert!(asks_for_person("quiero hablar con una persona"));
        assert!(!asks_for_person("I want to book an appointment"));
        assert!(asks_for_advice("Should I take two pills if I missed one?"));
        assert!(asks_for_advice("¿Puedo tomar ibuprofeno con esto?"));
        assert!(!asks_for_advice("I need a refill"));
    }
}
