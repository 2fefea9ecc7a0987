//! Yes or no, read from how patients answer a question: "yep", "siii", "cómo no", "I don't
//! think so", "no sé" (which is neither), "only the water pill", "I'm doing fine". What "fine"
//! means depends on the question: to "have you had any new symptoms?" it is a no, to "were you
//! able to get them?" a yes, so the script says which kind of question a slot asks
//! ([`Question`]).
//!
//! A wrong reading writes a wrong answer into the record, and an unclear one only asks again
//! with Yes/No buttons, so the reader answers only when the cues agree or the answer opens
//! with its own word for yes or no.

use super::yes_no_words::*;
use crate::redflags::RuleSet;
use crate::text::{tokens, Tok};

/// What a yes/no question asks about, which decides what "I'm fine" answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Question {
    /// "Were you able to get them?", "Shall I book it?": "all good" is a yes; "only some of
    /// them" or "can we do Wednesday instead?" a no.
    #[default]
    Plain,
    /// "Have you had any new symptoms?": "I'm doing fine" is a no, "my legs swelled up" a yes.
    AboutTrouble,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The word of an answer itself ("yes", "nope", "sí").
    Said,
    Plain,
    /// Asks for something else instead.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cue {
    at: usize,
    yes: bool,
    kind: Kind,
}

/// An answer's words, drawn-out ones squeezed ("siii"), with where each clause ends.
struct Answer {
    w: Vec<String>,
    ends: Vec<bool>,
}

impl Answer {
    fn read(text: &str) -> Answer {
        let (mut w, mut ends) = (Vec::new(), Vec::new());
        // "Sí" with its accent is always yes (unaccented "si" may be "if"); "yes and no" is neither.
        let text = accented_si(text);
        let mut folded = crate::text::fold(&text);
        for both in ["yes and no", "si y no", "yes y no", "yes & no"] {
            folded = folded.replace(both, " ");
        }
        for t in tokens(&folded) {
            match t {
                Tok::Word(x) => {
                    w.push(squeeze(&x));
                    ends.push(false);
                }
                Tok::Break => {
                    if let Some(e) = ends.last_mut() {
                        *e = true;
                    }
                }
            }
        }
        if let Some(e) = ends.last_mut() {
            *e = true;
        }
        // Dictation writes "no new symptoms" as "know new symptoms".
        if w.first().is_some_and(|x| x == "know") {
            w[0] = "no".into();
        }
        Answer { w, ends }
    }
}

/// Yes or no, when the message clearly says one of them (a plain question).
pub fn yes_no(text: &str) -> Option<bool> {
    yes_no_to(text, Question::Plain)
}

/// Yes or no to a question of kind `q`, when the message clearly says one of them.
pub fn yes_no_to(text: &str, q: Question) -> Option<bool> {
    let a = Answer::read(text);
    if a.w.is_empty() {
        return emoji(text);
    }
    if q == Question::AboutTrouble && crate::redflags::first(text, &[RuleSet::PostDischarge]).is_some() {
        return Some(true); // an emergency told in answer is trouble, whatever else it says
    }
    let mut w = a.w.clone();
    let unsure = blank_unsure(&mut w, &a.ends);
    let opening = w.iter().position(|x| !x.is_empty() && !FILLERS.contains(&x.as_str()));
    let mut cues = cues(&a, &mut w, q);
    let trouble = if q == Question::AboutTrouble { trouble(&a) } else { Vec::new() };
    let partial = q == Question::Plain && partial(&a.w);
    cues.sort();
    if partial && !asks_back(&a, text) {
        return Some(false);
    }
    let said: Vec<&Cue> = cues.iter().filter(|c| c.kind == Kind::Said).collect();
    let corrected = has(&a.w, CORRECTIONS) || a.w.iter().any(|x| x == "well");
    if let (Some(first), Some(last)) = (said.first(), said.last()) {
        if first.yes != last.yes {
            return corrected.then_some(last.yes); // "no, wait, yes"
        }
    }
    let folded = crate::text::fold(text);
    let doubt = [" but ", " pero ", " aunque ", "?"].iter().any(|d| folded.contains(d));
    if doubt && has(&a.w, HEDGED) && !cues.iter().any(|c| !c.yes) {
        return None;
    }
    // The answer's own word, opening it or closing it ("…, so no").
    let opens = said.iter().find(|c| Some(c.at) == opening || c.at + 1 == a.w.len()).map(|c| c.yes);
    if cues.iter().any(|c| c.kind == Kind::Other) {
        return if cues.iter().any(|c| c.yes) { None } else { Some(false) };
    }
    if opens.is_none() && asks_back(&a, text) {
        return None;
    }
    if opens == Some(false) && corrected && !trouble.is_empty() {
        return Some(true); // "No. Well. My stomach's been upset"
    }
    if let Some(answer) = opens.or_else(|| said.first().map(|c| c.yes)) {
        return Some(answer); // said cues agree (they would have returned above otherwise)
    }
    if !trouble.is_empty() {
        return Some(true);
    }
    if unsure {
        return None; // "10:30 is fine but let me check with my daughter"
    }
    if cues.is_empty() && q == Question::AboutTrouble && old_trouble(&a) {
        return Some(false); // "con la hinchazón de las piernas igualita que cuando salí"
    }
    let first = cues.first()?;
    let agree = cues.iter().all(|c| c.yes == first.yes);
    // "that's the 10:30 with Dr. Reyes, right?" is a question, not a yes.
    (agree && !(text.trim_end().ends_with('?') && first.yes)).then_some(first.yes)
}

/// The cues of every list, longer phrases first, so "no problem" and "ya no" are read before
/// "no" and "ya"; each word is read once.
fn cues(a: &Answer, w: &mut [String], q: Question) -> Vec<Cue> {
    let trouble_q = q == Question::AboutTrouble;
    let none: &[&str] = &[];
    let lists: [(&[&str], bool, Kind); 9] = [
        (YES_DESPITE_NO, true, Kind::Plain),
        (WELL, !trouble_q, Kind::Plain),
        (if trouble_q { NOTHING_NEW } else { none }, false, Kind::Plain),
        (SAY_NO, false, Kind::Said),
        (SAY_YES, true, Kind::Said),
        (if trouble_q { none } else { OTHER }, false, Kind::Other),
        (NO, false, Kind::Plain),
        (YES, true, Kind::Plain),
        (AUX, true, Kind::Plain),
    ];
    let mut out = Vec::new();
    if !trouble_q {
        out.extend(other_time(a).map(|at| Cue { at, yes: false, kind: Kind::Other }));
    }
    for len in (1..=4).rev() {
        for (list, yes, kind) in lists {
            let phrases: Vec<&str> = list.iter().copied().filter(|p| p.split(' ').count() == len).collect();
            for (start, end) in blank(w, &phrases) {
                // "no" inside a clause negates its verb ("que no la había"): it is not an answer.
                // Nor is "no" before a noun or a verb ("no fever", "no tengo quien me lleve").
                let opens_clause = start == 0 || a.ends[start - 1] || FILLERS.contains(&a.w[start - 1].as_str());
                let stands = end - start > 1 || a.w[start] != "no" || a.ends[start] || a.w.get(end).is_some_and(|x| AFTER_SAID.contains(&x.as_str()));
                let kind = if kind == Kind::Said && !(opens_clause && stands) { Kind::Plain } else { kind };
                if let Some(yes) = reading(a, list, yes, start, end) {
                    out.push(Cue { at: start, yes, kind });
                }
            }
        }
    }
    out
}

/// What a phrase found at start..end says, read in its place: "si" is "if" inside a clause,
/// "bien" before another word is "very", a yes after "not" is a no, "I have" answers only at
/// the end of its clause.
fn reading(a: &Answer, list: &[&str], yes: bool, start: usize, end: usize) -> Option<bool> {
    let w = &a.w;
    let last = a.ends[end - 1];
    let prev = start.checked_sub(1).map(|i| w[i].as_str()).unwrap_or("");
    let next = w.get(end).map(String::as_str).unwrap_or("");
    let single = end - start == 1;
    match w[start].as_str() {
        "si" if single && start > 0 && !last && !matches!(prev, "que" | "pues" | "eh" | "ah" | "oh") => return None,
        "bien" if single && !last && next != "gracias" => return None,
        "va" if single && !last => return None, // "va pues, no tengo nada nuevo"
        "todos" | "todas" if single && !last => return None, // "por todos lados"
        "ya" if single && !last && !matches!(next, "i" | "my" | "he" | "she" | "it" | "we" | "they" | "its" | "im") => return None,
        _ => {}
    }
    if list == AUX {
        return if NEGATORS.contains(&next) { Some(false) } else { last.then_some(true) };
    }
    // "no me la cancele": a negation reaches over the pronouns before the verb.
    let clitics = w[..start].iter().rev().take_while(|x| matches!(x.as_str(), "me" | "la" | "lo" | "se" | "te" | "le" | "las" | "los")).count();
    let negator = start.checked_sub(clitics + 1).map(|i| w[i].as_str()).unwrap_or("");
    Some(if list == YES && (NEGATORS.contains(&prev) || NEGATORS.contains(&negator)) { false } else { yes })
}

/// "Anything Wednesday?", "algo en la tarde": another day or time asked for.
fn other_time(a: &Answer) -> Option<usize> {
    const WHEN: &[&str] = &[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "morning", "afternoon", "evening", "lunes", "martes",
        "miercoles", "jueves", "viernes", "sabado", "manana", "tarde", "noche", "week",
    ];
    let at = a.w.iter().position(|x| matches!(x.as_str(), "anything" | "something" | "algo" | "otro" | "otra"))?;
    a.w[at + 1..(at + 4).min(a.w.len())].iter().any(|x| WHEN.contains(&x.as_str())).then_some(at)
}

/// A question back ("which medications?", "do I need one?") answers nothing.
fn asks_back(a: &Answer, text: &str) -> bool {
    const OPENERS: &[&str] = &["which", "what", "whats", "cual", "cuales", "should", "debo", "do", "does", "is", "are", "can", "could"];
    let first = a.w.iter().find(|x| !FILLERS.contains(&x.as_str()));
    first.is_some_and(|x| OPENERS.contains(&x.as_str())) || text.trim_start().starts_with('¿')
}

/// A thumbs-up, a tick or a thumbs-down sent alone.
fn emoji(text: &str) -> Option<bool> {
    let yes = text.contains(['👍', '✅', '👌', '✔']);
    let no = text.contains(['👎', '❌', '✖']);
    (yes != no).then_some(yes)
}

/// "siii" → "si", "nooo" → "no", "yesss" → "yes", "okk" → "ok": drawn-out short answers.
fn squeeze(word: &str) -> String {
    const SHORT: &[&str] =
        &["si", "no", "yes", "ye", "ya", "yas", "ok", "nop", "nope", "yep", "yup", "nah", "naw", "sip", "oki", "mhm", "aja", "k"];
    let mut out = String::new();
    for c in word.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    if SHORT.contains(&out.as_str()) {
        out
    } else {
        word.to_owned()
    }
}

fn spans(w: &[String], phrases: &[&str]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for p in phrases {
        let keys: Vec<&str> = p.split(' ').collect();
        for (i, win) in w.windows(keys.len()).enumerate() {
            if win.iter().zip(&keys).all(|(a, b)| a == b) {
                out.push((i, i + keys.len()));
            }
        }
    }
    out
}

fn has(w: &[String], phrases: &[&str]) -> bool {
    !spans(w, phrases).is_empty()
}

/// Blanks what says neither, but not "no se" before a pronoun or a verb: "no se las quiere
/// tomar" is "does not want to take them", not "I don't know".
fn blank_unsure(w: &mut [String], ends: &[bool]) -> bool {
    const CLITIC: &[&str] = &["la", "las", "lo", "los", "le", "les", "me", "te", "nos", "quiere", "puede", "ha", "han", "toma", "siente"];
    let keep: Vec<usize> =
        spans(w, &["no se"]).into_iter().filter(|&(s, e)| !ends[s + 1] && w.get(e).is_some_and(|x| CLITIC.contains(&x.as_str()))).map(|(s, _)| s).collect();
    let saved: Vec<(usize, String, String)> = keep.iter().map(|&s| (s, w[s].clone(), w[s + 1].clone())).collect();
    let found = blank(w, UNSURE).len() > saved.len();
    for (s, a, b) in saved {
        w[s] = a;
        w[s + 1] = b;
    }
    found
}

/// Blanks the words of every phrase found, so later lists do not read them again; returns
/// where each was.
fn blank(w: &mut [String], phrases: &[&str]) -> Vec<(usize, usize)> {
    let mut found = spans(w, phrases);
    found.sort_by_key(|&(s, e)| (s, std::cmp::Reverse(e)));
    let mut out = Vec::new();
    for (s, e) in found {
        if w[s..e].iter().all(|x| !x.is_empty()) {
            w[s..e].iter_mut().for_each(String::clear);
            out.push((s, e));
        }
    }
    out
}

/// Where new symptoms are named: not denied, old or imagined just before in their clause
/// ("no fever", "still sore", "if I get a fever"), nor said to be better after it.
fn trouble(a: &Answer) -> Vec<usize> {
    symptoms(a).into_iter().filter(|&(_, new)| new).map(|(i, _)| i).collect()
}

/// Symptoms named only as old, the same or easing ("same cough I had in the hospital").
fn old_trouble(a: &Answer) -> bool {
    let all = symptoms(a);
    !all.is_empty() && all.iter().all(|&(_, new)| !new)
}

/// Every symptom named, and whether it is told as new.
fn symptoms(a: &Answer) -> Vec<(usize, bool)> {
    let clause = |i: usize| {
        let start = (0..i).rev().find(|&j| a.ends[j]).map_or(0, |j| j + 1);
        let end = (i..a.w.len()).find(|&j| a.ends[j]).unwrap_or(i);
        (start, end)
    };
    spans(&a.w, TROUBLE)
        .into_iter()
        .map(|(i, _)| {
            let (start, end) = clause(i);
            let before = &a.w[start.max(i.saturating_sub(4))..i];
            let after = &a.w[i + 1..=end.max(i)];
            // "chest pain? no. legs? fine": a checklist answered item by item.
            let answered = end + 1 - start <= 3 && a.w.get(end + 1).is_some_and(|x| CHECKED.contains(&x.as_str()));
            let new = !before.iter().any(|x| NOT_NEW.contains(&x.as_str())) && !after.iter().any(|x| EASING.contains(&x.as_str())) && !answered;
            (i, new)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_fine_means_depends_on_the_question() {
        assert_eq!(yes_no_to("I'm doing fine, thanks", Question::AboutTrouble), Some(false));
        assert_eq!(yes_no_to("todo bien gracias", Question::AboutTrouble), Some(false));
        assert_eq!(yes_no_to("all good", Question::Plain), Some(true));
        assert_eq!(yes_no_to("my legs swelled up and my shoes dont fit", Question::AboutTrouble), Some(true));
        assert_eq!(yes_no_to("no fever, no pain, same as before", Question::AboutTrouble), Some(false));
        assert_eq!(yes_no_to("still a little sore where they cut, nothing new", Question::AboutTrouble), Some(false));
    }

    #[test]
    fn unsure_negated_and_corrected_answers() {
        assert_eq!(yes_no("no sé"), None);
        assert_eq!(yes_no("I don't know"), None);
        assert_eq!(yes_no("no sé, creo que no"), Some(false));
        assert_eq!(yes_no("I don't think so"), Some(false));
        assert_eq!(yes_no("I have not"), Some(false));
        assert_eq!(yes_no("cómo no"), Some(true));
        assert_eq!(yes_no("siiii"), Some(true));
        assert_eq!(yes_no("no, wait, yes"), Some(true));
        assert_eq!(yes_no("👍"), Some(true));
        assert_eq!(yes_no("which ones do you mean?"), None);
        // "si" inside a clause is "if"
        assert_eq!(yes_no("déjeme preguntarle a mi hijo si me puede llevar"), None);
    }

    #[test]
    fn part_of_a_yes_and_another_time_are_no() {
        assert_eq!(yes_no("only the antibiotic, the pharmacy was out of the other one"), Some(false));
        assert_eq!(yes_no("sí, salvo la insulina"), Some(false));
        assert_eq!(yes_no("most days, I forget the evening one sometimes"), Some(false));
        assert_eq!(yes_no("Tuesday doesn't work, can we do Wednesday instead"), Some(false));
        assert_eq!(yes_no("sí pero no hay algo más temprano?"), None);
    }
}

/// Whether part of a yes is told ("only the antibiotic", "missed one"), and not denied
/// ("haven't missed a single one").
fn partial(w: &[String]) -> bool {
    // "me falta el aire" is breathlessness, not a medicine missing.
    let breath = |e: usize| w.get(e).is_some_and(|x| x == "aire");
    spans(w, PARTIAL).into_iter().any(|(s, e)| (s == 0 || !NEGATED_PARTIAL.contains(&w[s - 1].as_str())) && !breath(e))
}

/// "Sí" (accented) as "yes": unambiguous before the accents are folded away.
fn accented_si(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let word_start = i == 0 || !chars[i - 1].is_alphanumeric();
        let word_end = |j: usize| chars.get(j).is_none_or(|n| !n.is_alphanumeric());
        if word_start && matches!(c, 's' | 'S') && chars.get(i + 1) == Some(&'í') && word_end(i + 2) {
            out.push_str("yes");
        } else if !(i > 0 && chars[i] == 'í' && out.ends_with("yes") && matches!(chars[i - 1], 's' | 'S') && word_end(i + 1)) {
            out.push(c);
        }
    }
    out
}
