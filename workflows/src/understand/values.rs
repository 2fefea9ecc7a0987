//! Small rule readers for slot values that need no model: yes/no, a 0–10 scale, a provider
//! (specialty or practitioner name); the special requests every script obeys (a person,
//! medical advice) are read in `requests`.

pub use super::requests::{asks_for_advice, asks_for_person};
use crate::text::{fold, has_any, words, CARDINALS};

const YES: &[&str] = &[
    "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "correct", "right", "affirmative", "absolutely", "definitely", "of course",
    "please do", "confirm", "confirmed", "do it", "go ahead", "sounds good", "that works", "i did", "i have", "i am", "got them", "got it",
    "si", "claro", "vale", "dale", "correcto", "exacto", "de acuerdo", "por supuesto", "confirmo", "perfecto", "esta bien", "afirmativo",
    "ya los tengo", "ya lo tengo", "lo hice", "asi es", "bien",
];
const NO: &[&str] = &[
    "no", "nope", "nah", "not", "negative", "never", "dont", "didnt", "havent", "hasnt", "isnt", "nothing", "none", "not yet", "incorrect",
    "wrong", "n", "nunca", "tampoco", "todavia no", "aun no", "ninguno", "ninguna", "nada", "incorrecto",
];

/// Yes or no, when the message clearly says one of them.
pub fn yes_no(text: &str) -> Option<bool> {
    let w = words(text);
    let has = |list: &[&str]| {
        list.iter().any(|p| {
            let keys: Vec<&str> = p.split(' ').collect();
            w.windows(keys.len()).any(|win| win.iter().zip(&keys).all(|(a, b)| a == b))
        })
    };
    match (has(YES), has(NO)) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        // "yes, no problems" / "no, I'm ok": the first word decides
        (true, true) => w.first().and_then(|f| {
            if YES.contains(&f.as_str()) {
                Some(true)
            } else if NO.contains(&f.as_str()) {
                Some(false)
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// Words for a score of zero, beside [`CARDINALS`].
const NONE_WORDS: &[&str] = &["none", "ninguno", "nada"];

/// A 0–10 rating from "7", "seven", "siete", "about a 6/10", "6 out of 10".
pub fn scale(text: &str) -> Option<u8> {
    let mut folded = fold(text);
    for tail in ["out of 10", "out of ten", "de 10", "de diez", "sobre 10", "sobre diez", "/ 10", "/10"] {
        folded = folded.replace(tail, " ");
    }
    let w = words(&folded);
    let mut found = w.iter().filter_map(|x| {
        let digits = x.parse::<f32>().ok().map(|v| v.round() as i64);
        let word = CARDINALS.iter().find(|(k, _)| k == x).map(|(_, v)| i64::from(*v));
        digits.or(word).or_else(|| NONE_WORDS.contains(&x.as_str()).then_some(0))
    });
    let Some(first) = found.next() else {
        return has_any(&w, &["no pain", "sin dolor", "no me duele", "doesnt hurt"]).then_some(0);
    };
    u8::try_from(first).ok().filter(|v| *v <= 10)
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
