//! Typo-tolerant matching of key words and phrases in a message's words: misspellings by edit
//! distance, Spanish spelt as it sounds, and a screen by first letter and first sound. Every
//! safety rule's every phrase is looked for in every message, so this is the rules' hot path:
//! it allocates nothing unless it finds a match.

/// Longest word (in characters) whose edit distance is worked out on the stack: the rules
/// compare message words with key words thousands of times a message.
const STACK_CHARS: usize = 40;

/// Optimal-string-alignment distance (edits and adjacent swaps), giving up above `max`.
pub fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la.abs_diff(lb) > max {
        return None;
    }
    if la <= STACK_CHARS && lb <= STACK_CHARS {
        let (mut ac, mut bc) = (['\0'; STACK_CHARS], ['\0'; STACK_CHARS]);
        ac.iter_mut().zip(a.chars()).for_each(|(slot, c)| *slot = c);
        bc.iter_mut().zip(b.chars()).for_each(|(slot, c)| *slot = c);
        let mut rows = [0usize; 3 * (STACK_CHARS + 1)];
        osa(&ac[..la], &bc[..lb], max, &mut rows)
    } else {
        let (ac, bc): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        osa(&ac, &bc, max, &mut vec![0; 3 * (lb + 1)])
    }
}

/// The distance of `edit_distance` with three rolling rows of `rows` (3 × (b.len() + 1)).
fn osa(a: &[char], b: &[char], max: usize, rows: &mut [usize]) -> Option<usize> {
    let w = b.len() + 1;
    let (mut before, mut prev, mut cur) = (2 * w, 0, w);
    for (j, cell) in rows[..w].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows[cur] = i;
        let mut row_min = usize::MAX;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (rows[prev + j] + 1).min(rows[cur + j - 1] + 1).min(rows[prev + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(rows[before + j - 2] + 1);
            }
            rows[cur + j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        (before, prev, cur) = (prev, cur, before);
    }
    let dist = rows[prev + b.len()];
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
    let first_sound = lead_sound(phrase);
    (0..=words.len() - n)
        .filter(|&i| words[i].chars().next() == first || lead_sound(&words[i]) == first_sound)
        .filter(|&i| phrase.split(' ').zip(&words[i..]).all(|(key, word)| fuzzy_eq(word, key)))
        .map(|i| (i, i + n))
        .collect()
}

/// The first letters and first sounds of a run of words: a phrase whose first key word opens
/// with neither can match nowhere in it (see `phrase_spans`), so a rule's many phrases are
/// ruled out at a glance instead of word by word.
#[derive(Clone, Copy, Debug, Default)]
pub struct Openings {
    letters: u128,
    sounds: u128,
}

impl Openings {
    pub fn of(words: &[String]) -> Self {
        // Bytes past ASCII share bits with others: that only lets more phrases through.
        let bit = |b: u8| 1u128 << (b & 127);
        words.iter().fold(Self::default(), |o, w| Openings {
            letters: o.letters | w.as_bytes().first().map_or(0, |&b| bit(b)),
            sounds: o.sounds | bit(lead_sound(w)),
        })
    }

    /// Could `phrase` start anywhere in these words?
    pub fn may_open(&self, phrase: &str) -> bool {
        let bit = |b: u8| 1u128 << (b & 127);
        phrase.as_bytes().first().is_some_and(|&b| self.letters & bit(b) != 0) || self.sounds & bit(lead_sound(phrase)) != 0
    }
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
    "would", "drawn", "nose", "come", "noise", "fitting", "fasting", "cancer", "cancers", "operada",
    "operado", "operated", "operaron", "operaran", "operara", "operarme", "operar", "operan", "operando",
];

/// Does `word` (from a message) match the key word `key`, allowing typos in longer words and
/// Spanish written as it sounds ("kiero" quiero, "ijos" hijos, "biviendo" viviendo)? Short words
/// must match exactly; otherwise the first letter, or the first sound, must agree.
pub fn fuzzy_eq(word: &str, key: &str) -> bool {
    if word == key {
        return true;
    }
    // The near misses are checked last: most pairs fail the cheaper tests first.
    let alike = (word.chars().next() == key.chars().next() && typo_eq(word, key)) || sounds_alike(word, key);
    alike && !NEAR_MISSES.contains(&word)
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

/// The first sound of a word (see `sound_key`), cheap enough to screen every position. It reads
/// at most three bytes and a space reads as the word's end, so a phrase gives its first word's.
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

/// Same letters in another order; only ever asked of four-letter words.
fn same_letters(a: &str, b: &str) -> bool {
    let sorted = |s: &str| {
        let mut out = ['\0'; 4];
        out.iter_mut().zip(s.chars()).for_each(|(slot, c)| *slot = c);
        out.sort_unstable();
        out
    };
    a.chars().count() == 4 && b.chars().count() == 4 && sorted(a) == sorted(b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn edit_distance_counts_edits_and_swaps_and_gives_up_above_its_limit() {
        assert_eq!(edit_distance("kitten", "sitting", 3), Some(3));
        assert_eq!(edit_distance("kitten", "sitting", 2), None);
        assert_eq!(edit_distance("pian", "pain", 1), Some(1), "a swap of neighbours is one edit");
        assert_eq!(edit_distance("", "ab", 2), Some(2));
        assert_eq!(edit_distance("dolór", "dolor", 1), Some(1), "characters, not bytes");
        let long = "a".repeat(45);
        assert_eq!(edit_distance(&long, &format!("{long}b"), 1), Some(1), "past the stack rows");
        assert_eq!(edit_distance(&long, &"b".repeat(45), 2), None);
    }

    #[test]
    fn openings_rule_out_phrases_by_first_letter_or_first_sound() {
        let o = Openings::of(&["no".to_owned(), "kiero".to_owned(), "vivir".to_owned()]);
        assert!(o.may_open("quiero vivir"), "the same first sound");
        assert!(o.may_open("bivir"), "v and b sound alike");
        assert!(o.may_open("no puedo"));
        assert!(!o.may_open("chest pain"));
    }
}
