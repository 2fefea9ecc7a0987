//! Text normalisation shared by every rule-based reader (red flags, dates, yes/no, scales):
//! lower case, accents folded, punctuation turned into clause marks, contractions joined, and
//! a bounded edit distance so misspelt key words still match.

/// One token of a normalised message; `Break` marks a clause boundary (punctuation, "but").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Word(String),
    Break,
}

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
    if w == "not" && out.last() == Some(&Tok::Word("can".into())) {
        out.pop();
        out.push(Tok::Word("cannot".into()));
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

/// Optimal-string-alignment distance (edits and adjacent swaps), giving up above `max`.
pub fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        let mut row_min = usize::MAX;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
    }
    let dist = d[a.len() * w + b.len()];
    (dist <= max).then_some(dist)
}

/// Where `phrase` (space-separated key words) matches `words` with typo tolerance, as [start, end).
/// Runs for every phrase of every safety rule on every message, so it allocates nothing unless
/// it finds a match.
pub fn phrase_spans(words: &[String], phrase: &str) -> Vec<(usize, usize)> {
    // Most phrases are ruled out by their length or first letter alone, so neither is found by
    // splitting the phrase (that splitting was most of the safety rules' time).
    let n = key_count(phrase);
    if n > words.len() {
        return Vec::new();
    }
    // `fuzzy_eq` never matches words whose first sounds differ: only positions whose word
    // starts like the phrase's first key word are checked in full.
    let first = phrase.chars().next();
    let first_sound = lead_sound(phrase.split(' ').next().unwrap_or(phrase));
    (0..=words.len() - n)
        .filter(|&i| words[i].chars().next() == first || lead_sound(&words[i]) == first_sound)
        .filter(|&i| phrase.split(' ').zip(&words[i..]).all(|(key, word)| fuzzy_eq(word, key)))
        .map(|i| (i, i + n))
        .collect()
}

/// How many key words a phrase (space-separated) has.
pub fn key_count(phrase: &str) -> usize {
    phrase.bytes().filter(|&b| b == b' ').count() + 1
}

/// Does any of `phrases` occur in `words` (typos tolerated)?
pub fn has_any(words: &[String], phrases: &[&str]) -> bool {
    phrases.iter().any(|p| !phrase_spans(words, p).is_empty())
}

/// Real words that sit one typo away from a key word and must only ever match exactly.
const NEAR_MISSES: &[&str] = &[
    "chess", "cheat", "breeding", "bread", "overdone", "techo", "heat", "dyeing", "pecos", "brother", "breed", "bleed", "blind", "faith",
    "paint", "pair", "hearth", "heard", "hears", "confusing", "confused", "reactions", "reaction", "resultados", "resultado", "resultar", "results",
    "would", "drawn", "nose", "come",
];

/// Does `word` (from a message) match the key word `key`, allowing typos in longer words and
/// Spanish written as it sounds ("kiero" quiero, "ijos" hijos, "biviendo" viviendo)? Short words
/// must match exactly; otherwise the first letter, or the first sound, must agree.
pub fn fuzzy_eq(word: &str, key: &str) -> bool {
    if word == key {
        return true;
    }
    if NEAR_MISSES.contains(&word) {
        return false;
    }
    if word.chars().next() == key.chars().next() && typo_eq(word, key) {
        return true;
    }
    sounds_alike(word, key)
}

fn typo_eq(word: &str, key: &str) -> bool {
    let len = key.chars().count();
    let max = match len {
        // four-letter words: only a swap of two neighbours ("pian" for "pain")
        4 => return word.chars().count() == 4 && edit_distance(word, key, 1).is_some() && same_letters(word, key),
        0..=3 => return false,
        5..=7 => 1,
        _ => 2,
    };
    edit_distance(word, key, max).is_some()
}

/// Longest word the spelling-by-sound comparison reads; longer words only match by typo.
const SOUND_MAX: usize = 32;

/// Spanish spelt as it sounds: both words are reduced to their sounds (silent h dropped, b/v,
/// s/z/soft c, k/qu/hard c, ll/y, doubled consonants) and must then agree, up to one typo in long
/// words. Words under four letters never match this way.
fn sounds_alike(word: &str, key: &str) -> bool {
    if word.len() < 4 || key.len() < 4 {
        return false;
    }
    let (mut a, mut b) = ([0u8; SOUND_MAX], [0u8; SOUND_MAX]);
    let (Some(na), Some(nb)) = (sound_key(word, &mut a), sound_key(key, &mut b)) else { return false };
    let (a, b) = (&a[..na], &b[..nb]);
    if a == b {
        return true;
    }
    // Both are ASCII by construction.
    let (a, b) = (std::str::from_utf8(a).unwrap_or(""), std::str::from_utf8(b).unwrap_or(""));
    nb >= 7 && a.as_bytes().first() == b.as_bytes().first() && edit_distance(a, b, 1).is_some()
}

/// The sound of `word` written into `out`; `None` for words that are not plain ASCII letters or
/// too long. Allocates nothing: it runs inside every rule's phrase search.
fn sound_key(word: &str, out: &mut [u8; SOUND_MAX]) -> Option<usize> {
    let w = word.as_bytes();
    if w.len() > SOUND_MAX || !w.iter().all(u8::is_ascii_lowercase) {
        return None;
    }
    let mut n = 0;
    let mut i = 0;
    while i < w.len() {
        let next = w.get(i + 1).copied();
        let soft = |c: Option<u8>| matches!(c, Some(b'e' | b'i'));
        let (sound, step) = match w[i] {
            // silent h: at the start and between vowels; "ch", "th", "sh", "ph" keep theirs
            b'h' if i == 0 || is_vowel(w[i - 1]) => (None, 1),
            b'c' if next == Some(b'h') => (Some(b'C'), 2),
            b'c' if soft(next) => (Some(b's'), 1),
            b'c' | b'k' => (Some(b'k'), 1),
            b'q' if next == Some(b'u') => (Some(b'k'), 2),
            b'q' => (Some(b'k'), 1),
            b'g' if next == Some(b'u') && soft(w.get(i + 2).copied()) => (Some(b'g'), 2),
            b'l' if next == Some(b'l') => (Some(b'y'), 2),
            b'z' => (Some(b's'), 1),
            b'v' => (Some(b'b'), 1),
            c => (Some(c), 1),
        };
        if let Some(s) = sound {
            // Doubled consonants are one sound; doubled vowels are not ("noose" is not "nose").
            if n == 0 || out[n - 1] != s || is_vowel(s) {
                out[n] = s;
                n += 1;
            }
        }
        i += step;
    }
    Some(n)
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// The first sound of a word (see `sound_key`), cheap enough to screen every position.
fn lead_sound(word: &str) -> u8 {
    let w = word.as_bytes();
    let (c, next) = match w {
        [b'h', rest @ ..] if rest.first().is_some_and(|c| is_vowel(*c)) => (rest[0], rest.get(1).copied()),
        [c, rest @ ..] => (*c, rest.first().copied()),
        [] => return 0,
    };
    match c {
        b'c' if next == Some(b'h') => b'C',
        b'c' if matches!(next, Some(b'e' | b'i')) => b's',
        b'c' | b'k' | b'q' => b'k',
        b'z' => b's',
        b'v' => b'b',
        c => c,
    }
}

fn same_letters(a: &str, b: &str) -> bool {
    let mut a: Vec<char> = a.chars().collect();
    let mut b: Vec<char> = b.chars().collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
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
    fn phrases_match_whole_words_with_their_count_and_first_letter_read_from_the_phrase() {
        let w = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!((key_count("chest"), key_count("short of breath")), (1, 3));
        assert_eq!(phrase_spans(&w("i am short of breath now"), "short of breath"), [(2, 5)]);
        assert_eq!(phrase_spans(&w("i am shrot of breth"), "short of breath"), [(2, 5)], "typos in long words");
        assert!(phrase_spans(&w("short of"), "short of breath").is_empty(), "longer than the message");
        assert!(phrase_spans(&w("heart of breath"), "short of breath").is_empty(), "another first letter");
        assert_eq!(phrase_spans(&w("pain and more pain"), "pain"), [(0, 1), (3, 4)]);
    }

    #[test]
    fn typos_match_but_near_real_words_do_not() {
        assert!(fuzzy_eq("chset", "chest"));
        assert!(fuzzy_eq("brething", "breathing"));
        assert!(!fuzzy_eq("chess", "chest"));
        assert!(fuzzy_eq("pian", "pain"));
        assert!(!fuzzy_eq("pin", "pain"));
        assert!(!fuzzy_eq("rain", "pain"));
        assert!(!fuzzy_eq("rest", "chest"));
        assert!(!fuzzy_eq("would", "wound"), "a common word one letter from a key");
    }

    #[test]
    fn spanish_spelt_as_it_sounds_matches() {
        for (written, key) in [
            ("kiero", "quiero"), ("ijos", "hijos"), ("biviendo", "viviendo"), ("segir", "seguir"), ("desmalle", "desmaye"),
            ("cabesa", "cabeza"), ("sirugia", "cirugia"), ("fievre", "fiebre"), ("cicatris", "cicatriz"), ("escrivi", "escribi"),
            ("toaya", "toalla"), ("beses", "veces"), ("pastiyas", "pastillas"),
        ] {
            assert!(fuzzy_eq(written, key), "{written} should read as {key}");
        }
        for (written, key) in [("arm", "harm"), ("earth", "heart"), ("hand", "and"), ("ear", "hear"), ("nose", "noose")] {
            assert_eq!(fuzzy_eq(written, key), written == key, "{written} must not read as {key}");
        }
        assert_eq!(phrase_spans(&["no".into(), "kiero".into(), "vivir".into()], "quiero vivir"), [(1, 3)]);
    }

    #[test]
    fn spanish_is_detected_from_function_words() {
        assert!(looks_spanish("quiero una cita para el lunes"));
        assert!(!looks_spanish("I want an appointment on Monday"));
    }
}
