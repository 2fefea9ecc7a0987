//! Text normalisation shared by every rule-based reader (red flags, dates, yes/no, scales):
//! lower case, accents folded, punctuation turned into clause marks, contractions joined, and
//! a bounded edit distance so misspelt key words still match.

/// One token of a normalised message; `Break` marks a clause boundary (punctuation, "but").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Word(String),
    Break,
}

mod fuzzy;

pub use fuzzy::{edit_distance, fuzzy_eq, has_any, key_count, phrase_spans, Openings};

/// Folds one character: lower case, Latin accents removed (á→a, ñ→n, ü→u).
fn fold_char(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        '’' | '‘' | '`' | '´' => '\'',
        c => c.to_lowercase().next().unwrap_or(c),
    }
}

/// Cardinal numbers zero to ten as words, English and Spanish (folded): pain scores, "in two
/// weeks", "en tres dias". Readers add their own extras ("a", "couple", "none").
pub const CARDINALS: &[(&str, u32)] = &[
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("cero", 0),
    ("uno", 1),
    ("dos", 2),
    ("tres", 3),
    ("cuatro", 4),
    ("cinco", 5),
    ("seis", 6),
    ("siete", 7),
    ("ocho", 8),
    ("nueve", 9),
    ("diez", 10),
];

/// Lower-cased, accent-folded copy of `text` (punctuation kept).
pub fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// Words that end a clause as surely as a full stop does: a negation before them does not
/// reach past them ("no fever but my chest hurts").
const CLAUSE_WORDS: &[&str] =
    &["but", "pero", "although", "though", "however", "aunque", "sino", "and", "y", "because", "porque", "then", "luego", "entonces"];

/// Tokens of `text`: words (letters, digits, and '.' inside numbers) and clause breaks.
pub fn tokens(text: &str) -> Vec<Tok> {
    let folded = fold(text);
    let mut out = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = folded.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_digit = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        let in_number = (c == '.' || c == ',') && word.chars().last().is_some_and(|p| p.is_ascii_digit()) && next_digit;
        if c.is_alphanumeric() || in_number {
            word.push(if c == ',' { '.' } else { c });
        } else if c == '\'' {
            // contractions join: can't → cant, i'm → im
        } else {
            push_word(&mut out, &mut word);
            if matches!(c, '.' | ',' | ';' | '!' | '?' | ':' | '\n' | '(' | ')' | '¿' | '¡' | '-' | '/') {
                if c == '/' || c == '-' {
                    continue;
                }
                if out.last() != Some(&Tok::Break) {
                    out.push(Tok::Break);
                }
            }
        }
    }
    push_word(&mut out, &mut word);
    out
}

fn push_word(out: &mut Vec<Tok>, word: &mut String) {
    if word.is_empty() {
        return;
    }
    let w = std::mem::take(word);
    let joins_self = |p: &str| matches!(p, "my" | "him" | "her" | "your" | "them" | "our" | "it");
    if w == "not" && out.last() == Some(&Tok::Word("can".into())) {
        out.pop();
        out.push(Tok::Word("cannot".into()));
    } else if matches!(w.as_str(), "self" | "selves") && matches!(out.last(), Some(Tok::Word(p)) if joins_self(p)) {
        // "kill my self" is "kill myself"
        if let Some(Tok::Word(p)) = out.last_mut() {
            p.push_str(&w);
        }
    } else if CLAUSE_WORDS.contains(&w.as_str()) {
        if out.last() != Some(&Tok::Break) {
            out.push(Tok::Break);
        }
    } else {
        out.push(Tok::Word(w));
    }
}

/// The plain words of `text` (no clause marks), for readers that do not care about clauses.
pub fn words(text: &str) -> Vec<String> {
    tokens(text)
        .into_iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w),
            Tok::Break => None,
        })
        .collect()
}

/// Heuristic language guess for a message when the conversation has none yet: Spanish when
/// Spanish function words or accented letters clearly outnumber English ones.
pub fn looks_spanish(text: &str) -> bool {
    const ES: &[&str] = &[
        "el", "la", "los", "las", "de", "del", "que", "quiero", "necesito", "una", "un", "mi", "me", "por", "para", "con", "cita", "hola",
        "gracias", "si", "es", "esta", "tengo", "puedo", "buenos", "buenas", "dias", "tardes", "receta", "medicina", "manana", "semana",
        "dolor", "hablar", "persona", "pastillas", "cancelar", "cambiar",
    ];
    const EN: &[&str] = &[
        "the", "i", "my", "to", "a", "an", "is", "it", "need", "want", "please", "appointment", "book", "hi", "hello", "thanks", "yes",
        "can", "for", "with", "refill", "tomorrow", "week", "pain", "have", "of", "in", "on",
    ];
    let accents = text.chars().filter(|c| "áéíóúñ¿¡".contains(*c)).count();
    let ws = words(text);
    let es = ws.iter().filter(|w| ES.contains(&w.as_str())).count() + accents;
    let en = ws.iter().filter(|w| EN.contains(&w.as_str())).count();
    es > en
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_case_and_contractions_fold() {
        assert_eq!(words("¿Sí, MAÑANA? I can't"), vec!["si", "manana", "i", "cant"]);
    }

    #[test]
    fn clause_words_and_punctuation_break() {
        let t = tokens("no fever, but chest");
        assert_eq!(t.iter().filter(|t| **t == Tok::Break).count(), 1);
    }

    #[test]
    fn decimal_numbers_stay_one_token() {
        assert_eq!(words("temp 38,5 today"), vec!["temp", "38.5", "today"]);
        assert_eq!(words("101.3F"), vec!["101.3f"]);
    }

    #[test]
    fn spanish_is_detected_from_function_words() {
        assert!(looks_spanish("quiero una cita para el lunes"));
        assert!(!looks_spanish("I want an appointment on Monday"));
    }
}
