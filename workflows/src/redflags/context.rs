//! Is a matched mention about the patient now? The clause around a match is read for negation,
//! hypotheticals, resolution and distant past; uncertainty always keeps the mention.

use super::{exact_at, Category};

const NEGATIONS: &[&str] = &[
    "no", "not", "never", "dont", "doesnt", "didnt", "havent", "hasnt", "hadnt", "isnt", "arent", "wasnt", "werent", "aint", "without",
    "denies", "denied", "deny", "denying", "nor", "neither", "nunca", "sin", "ni", "tampoco", "jamas", "niega", "nego", "niego", "ningun",
    "ninguna", "ninguno", "negative for", "nothing like", "zero", "cero", "nada de",
];

/// Negation words that do not deny anything that follows: "sin querer" (by accident), "no idea".
const NOT_DENYING: &[&str] = &[
    "sin querer", "sin darme cuenta", "sin darse cuenta", "sin saber", "no idea", "no clue", "without realizing", "without thinking",
    "without knowing", "no se que", "no se si", "no se como", "no se por que",
];

/// A subject and its verb between a negation and a mention start another statement ("words that
/// aren't words, like she's talking gibberish"): the negation stays behind.
const NEW_SUBJECT: &[&str] = &["im", "hes", "shes", "theyre", "youre", "i am", "he is", "she is", "they are"];

/// After a bare "no", these show it answers something else ("no, I can't breathe").
const NO_INTERJECTION: &[&str] = &["i", "im", "ive", "yo", "wait", "actually", "please", "help", "ayuda", "espera"];

/// Between a negation and the mention, these turn it into a double negative ("haven't been able
/// to stop the bleeding", "no deja de sangrar").
const DOUBLE_NEGATIVE: &[&str] = &["able", "stop", "stopped", "quit", "deja", "dejo", "para", "paro", "poder", "puedo", "pude"];

/// "never had pain like this": the negation compares, it does not deny.
const COMPARISON: &[&str] =
    &["like this", "this bad", "so bad", "this much", "as bad", "como esta", "como este", "asi de", "tan fuerte", "tan malo"];

const AFTER_NEGATIONS: &[&str] = &["none", "denied", "negative", "nope", "nada", "ninguno", "ninguna", "negativo", "free"];

const UNCERTAIN: &[&str] = &[
    // "no se si…" is not knowing; "no se me durmió…" is a negation.
    "not sure", "unsure", "dont know", "i think", "maybe", "might", "possibly", "probably", "wonder", "feels like", "no se si",
    "no se que", "no se como", "no se cuanto", "no se por que", "no se porque", "no se bien",
    "no estoy seguro", "no estoy segura", "creo que", "quizas", "quiza", "tal vez", "a lo mejor", "parece",
];

const HYPOTHETICAL_BEFORE: &[&str] = &[
    "how do i know if", "how can i tell if", "como se si", "por si acaso", "just in case", "if", "in case", "whether", "en caso", "what if", "que pasa si", "y si", "que hago si", "que debo hacer si",
    "si me llegara", "si me diera", "si le diera", "si alguna vez", "digamos que", "supongamos que", "could i have", "could i get",
];
/// Spanish "si" is "if", and unaccented also "yes": "si mi hijo tiene una convulsión" asks,
/// "si mi hijo tuvo una convulsión hoy" answers yes. These are hypothetical unless the clause
/// tells something that happened (`HAPPENED`).
const SI_HYPOTHETICAL: &[&str] =
    &["si me llega", "si llego a", "si me da", "si le da", "si a mi", "si mi hijo", "si mi hija", "si mi nino", "si mi nina", "si mi bebe"];
const HAPPENED: &[&str] = &[
    "tuvo", "tuve", "le dio", "me dio", "se desmayo", "se durmio", "se le durmio", "se me durmio", "se cayo", "se puso", "empezo",
    "comenzo", "hoy", "ayer", "anoche", "hace rato", "esta manana", "ahorita",
];

const ABOUT_NOT_HAVING: &[&str] = &[
    "side effect", "side effects", "efecto secundario", "efectos secundarios", "risk", "risks", "riesgo", "riesgos", "signs of",
    "symptoms of", "sintomas de", "senales de", "warning signs", "prevent", "prevenir", "information about", "informacion sobre",
    "pamphlet", "folleto", "watch for", "look out for", "told me to", "said to call", "asked about", "asked me about", "asked if",
    "me pregunto", "prevention", "prevencion", "info about", "refill", "refills", "receta", "prescription for", "is it true",
    "es cierto", "whats the difference", "what is the difference", "cual es la diferencia", "que es mas peligroso",
    "which is more dangerous", "que significa", "what does", "school project", "group project", "nursing school",
    "en la tele", "on tv", "sheet says", "paper says", "papers say", "la hoja dice", "el papel dice", "en el papel dice",
    "dice que si", "report", "reporte", "cuanta fiebre", "how high a fever", "how much fever", "family history",
    "en mi familia", "runs in my family", "runs in the family", "hereditary", "hereditario", "died of", "died from", "murio de",
    "fallecio de", "passed away from", "lost my husband to", "lost my wife to",
];

const CAUSE: &[&str] = &["cause", "causes", "causing", "causar", "provocar", "provoca"];
const QUESTION_START: &[&str] = &["can", "could", "does", "do", "will", "may", "might", "is", "puede", "pueden", "podria", "es"];

const PAST: &[&str] = &[
    "last year", "last month", "years ago", "months ago", "year ago", "month ago", "in the past", "history of", "hx of", "used to",
    "as a child", "as a kid", "as a baby", "as an infant", "years back", "long time ago",
    "long ago", "el ano pasado", "el mes pasado", "hace anos", "hace meses", "hace un ano", "hace un mes", "de nino", "de nina",
    "de pequeno", "de pequena", "de bebe", "cuando era", "antecedentes", "historial de", "en el pasado", "solia", "hace mucho",
    "in high school", "in college", "as a teenager", "as a teen", "when i was young", "de joven", "en la secundaria",
    "en la prepa", "de adolescente", "cuando tenia", "de chiquito", "de chiquita", "de chico", "de chica", "de chamaco",
    "de chamaca", "last summer", "last winter", "last spring", "last fall", "el verano pasado", "el invierno pasado",
    "del ano pasado", "del mes pasado", "in their", "fainted once", "passed out once", "me desmaye una vez", "last months",
    "last years", "hace tiempo", "primer hijo", "primera hija", "primer embarazo", "first baby", "first pregnancy",
    "first child", "since the stroke", "since my stroke", "since his stroke", "since her stroke", "after my stroke",
    "after the stroke", "after his stroke", "after her stroke", "desde el derrame", "desde la embolia", "despues del derrame",
    "despues de la embolia", "since the heart attack", "since my heart attack", "after my heart attack", "desde el infarto",
    "despues del infarto",
];

const MONTHS: &[&str] = &[
    "january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december", "enero",
    "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
];

/// A mention that names a kind of care rather than a symptom: the word after it ("seizure
/// meds", "stroke clinic", "chest x-ray") in English, the words before it ("clínica de
/// epilepsia", "pastillas para la presión") in Spanish.
const MEDICINE_AFTER: &[&str] = &[
    "med", "meds", "medication", "medications", "medicine", "medicines", "pill", "pills", "prescription", "prescriptions",
    "refill", "refills",
];
const SERVICE_AFTER: &[&str] = &[
    "clinic", "training", "course", "awareness", "doctor", "doctors", "specialist", "appointment", "appointments", "appt", "follow",
    "followup", "checkup", "team", "unit", "ward", "nurse", "support", "group", "class", "classes", "program", "pamphlet",
    "loss", "response", "naloxone", "narcan", "survivors", "survivor", "hotline", "lifeline", "bereavement", "walk",
    "test", "tests", "scan", "xray", "rehab", "therapy", "history", "education", "action plan", "plan", "symptoms", "signs",
    "sintomas", "kit",
];
const SERVICE_BEFORE: &[&str] = &[
    "medicina para", "medicinas para", "medicamento para", "medicamentos para", "pastillas para", "pastilla para",
    "receta para", "receta de", "clinica de", "cita de", "consulta de", "control de", "seguimiento de", "especialista en",
    "historial de", "programa de", "grupo de", "terapia de", "rehabilitacion de", "plan de", "doctora de las", "doctor de las",
    "unidad de", "clinica del",
];

const RESOLVED: &[&str] = &[
    "went away", "gone", "resolved", "stopped", "subsided", "se fue", "se quito", "se me quito", "ya paso", "desaparecio", "se calmo",
    "se paso", "se me paso", "turned out", "resulto", "was just", "era solo", "nunca mas", "never again", "normal for me",
    "siempre ha sido asi", "always been like this", "always been like that", "es normal en mi", "back to normal", "ya esta bien",
    "normalito", "como siempre", "as always", "like always", "is over", "swelling went down", "fever went down",
    "temp went down", "temperature went down",
];
/// Said before a mention: it is over ("recovered from the asthma attack").
const RESOLVED_BEFORE: &[&str] = &[
    "ya esta bien de", "ya estoy bien de", "recovered from", "se recupero de", "me recupere de", "got over", "all better from",
    "stopped", "dejo de", "paro de", "quit", "ya se me quito", "ya se le quito", "se me bajo", "se le bajo",
];
const RESOLVED_AT_END: &[&str] = &["not anymore", "ya no", "no longer"];
const BACK_REFERENCE: &[&str] =
    &["it", "its", "that", "thats", "this", "se", "ya", "now", "ahora", "todo", "everything", "siempre", "always", "eso"];

fn any_at(words: &[String], i: usize, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| exact_at(words, i, p))
}

fn any_in(words: &[String], phrases: &[&str]) -> bool {
    (0..words.len()).any(|i| any_at(words, i, phrases))
}

/// True when the mention at `span` of `words` is a current problem of the patient's.
pub fn is_current(words: &[String], span: (usize, usize), next: &[String], category: Category) -> bool {
    let before = &words[..span.0];
    if any_in(before, UNCERTAIN) {
        return true;
    }
    let answered_no = next.len() <= 2 && next.first().is_some_and(|w| w == "no" || AFTER_NEGATIONS.contains(&w.as_str()));
    if negated_before(words, span.0) || negated_after(words, span.1) || (span.1 == words.len() && answered_no) {
        return false;
    }
    // "took too many pills": for these the medicine after a mention is what was taken.
    let takes_pills = matches!(category, Category::Overdose | Category::Suicidal);
    if names_a_service(words, span, !takes_pills) {
        return false;
    }
    // Suicidal thoughts are often put as a wish ("easier if I didn't exist"): never hypothetical.
    // The what-if may end on the mention's own first word ("si mi hijo se traga una pila").
    let through_first = &words[..(span.0 + 1).min(words.len())];
    let si = any_in(through_first, SI_HYPOTHETICAL) && !any_in(words, HAPPENED);
    let hypothetical = category != Category::Suicidal && (any_in(before, HYPOTHETICAL_BEFORE) || si);
    if hypothetical || any_in(words, ABOUT_NOT_HAVING) || asks_about_cause(words) || (any_in(before, RESOLVED_BEFORE) && !denies(before)) {
        return false;
    }
    if category != Category::Suicidal && is_past(words) {
        return false;
    }
    // A fit or a faint is over by the time anyone writes about it: "it stopped", "ya pasó" after
    // one that just happened is no reassurance (history and explanations still count). Suicidal
    // thoughts that "went away a bit" still flag (see `redflags`: only a denial or being well
    // now beside a past attempt drops them).
    let ends_by_itself = matches!(category, Category::Seizure | Category::LossOfConsciousness | Category::Suicidal);
    // "The nosebleed stopped after 10 minutes": over, said inside the mention itself (not "hasn't
    // stopped in 10 minutes").
    let inside = &words[span.0..span.1];
    let ended_inside = any_in(inside, RESOLVED) && !denies(inside);
    ends_by_itself || !(ended_inside || resolved(words, span.1, next))
}

fn names_a_service(words: &[String], (start, end): (usize, usize), medicines_too: bool) -> bool {
    let after = end < words.len() && (any_at(words, end, SERVICE_AFTER) || (medicines_too && any_at(words, end, MEDICINE_AFTER)));
    let lo = start.saturating_sub(4);
    let before = (lo..start).any(|i| {
        any_at(words, i, SERVICE_BEFORE) && i + key_count_of(words, i, SERVICE_BEFORE) + 2 >= start
    });
    after || before
}

/// Words of the first of `phrases` that occurs at `i` (1 when none does).
fn key_count_of(words: &[String], i: usize, phrases: &[&str]) -> usize {
    phrases.iter().find(|p| exact_at(words, i, p)).map_or(1, |p| p.split(' ').count())
}

/// Does a negation sit among `words[lo..hi]` (the words between the two parts of a pattern)?
pub fn negates_between(words: &[String], lo: usize, hi: usize) -> bool {
    (lo..hi.min(words.len())).any(|i| denies_at(words, i) && !words[i + 1..hi].iter().any(|w| DOUBLE_NEGATIVE.contains(&w.as_str())))
}

/// Is there a negation at `i` that denies what follows (not "sin querer", "no idea")?
fn denies_at(words: &[String], i: usize) -> bool {
    any_at(words, i, NEGATIONS) && !(i.saturating_sub(1)..=i).any(|j| any_at(words, j, NOT_DENYING))
}

fn negated_before(words: &[String], start: usize) -> bool {
    if any_in(words, COMPARISON) {
        return false;
    }
    let lo = start.saturating_sub(5);
    (lo..start).any(|i| {
        if !denies_at(words, i) || (i + 1..start).any(|j| any_at(words, j, NEW_SUBJECT)) {
            return false;
        }
        if words[i] == "no" && words.get(i + 1).is_some_and(|n| NO_INTERJECTION.contains(&n.as_str())) {
            return false;
        }
        !words[i + 1..start].iter().any(|w| DOUBLE_NEGATIVE.contains(&w.as_str()))
    })
}

fn negated_after(words: &[String], end: usize) -> bool {
    let hi = (end + 2).min(words.len());
    if (end..hi).any(|i| any_at(words, i, AFTER_NEGATIONS)) {
        return true;
    }
    end + 1 == words.len() && words[end] == "no"
}

fn asks_about_cause(words: &[String]) -> bool {
    words.first().is_some_and(|w| QUESTION_START.contains(&w.as_str())) && any_in(words, CAUSE)
}

/// "Now", "today", "again": words that put a mention in the present whatever came before.
const RECENT: &[&str] = &[
    "now", "today", "tonight", "this morning", "this afternoon", "this evening", "again", "yesterday", "last night",
    "right now", "currently", "lately", "ahora", "hoy", "esta manana", "esta tarde", "esta noche", "otra vez",
    "de nuevo", "ayer", "anoche", "ultimamente", "since", "desde", "todavia", "still",
];
/// How many of `RECENT`'s last words only say something lasted, not that it is new.
const LASTING: usize = 4;

/// Does a clause follow one about the distant past without saying it is about now ("I had a
/// stroke two years ago and my hand stayed weak")?
pub fn continues_past(words: &[String], previous: &[String]) -> bool {
    if !is_past(previous) {
        return false;
    }
    // "I had a stroke in 2019 and my hand is still weak": after years, "still" is what stayed.
    let recent = if long_ago(previous) { &RECENT[..RECENT.len() - LASTING] } else { RECENT };
    !any_in(words, recent)
}

/// Years rather than weeks ago: an explicit past year, "N years ago", "hace años".
fn long_ago(words: &[String]) -> bool {
    words.iter().any(|w| is_past_year(w) || matches!(w.as_str(), "years" | "anos"))
}

/// Verbs in the past tense: a clause told in it after one about long ago is part of that story
/// ("years ago I had a clot and couldn't breathe").
const PAST_TENSE: &[&str] = &[
    "couldnt", "could not", "was", "were", "had", "did", "went", "felt", "got", "fue", "tuve", "tenia", "estaba", "estuve",
    "podia", "pude", "senti", "se infecto", "se me infecto", "le dio", "me dio", "tuvo", "estuvo",
];

pub fn told_in_past_tense(words: &[String]) -> bool {
    any_in(words, PAST_TENSE)
}

/// "Years ago I tried to kill myself, I'm fine now": a past attempt beside a plain statement
/// of being well now is history, not a present danger. Anything less explicit still flags.
const WELL_NOW: &[&str] = &[
    "im fine now", "im ok now", "im okay now", "im well now", "doing well now", "doing fine now", "doing better now",
    "ya estoy bien", "ahora estoy bien", "estoy bien ahora", "ya estoy mejor", "ahora estoy mejor", "doing really good now",
    "doing good now", "doing really well now", "doing great now", "im good now", "im doing well", "im doing good",
    "estoy muy bien", "me siento bien ahora", "anos bien", "years clean", "doing well for years", "fine for years", "doing well",
    "doing fine", "estoy bien", "been good for", "been fine for", "doing much better", "much better now",
    "hace anos que no lo hago", "years since",
];

pub fn says_well_now(message: &[String]) -> bool {
    any_in(message, WELL_NOW)
}

pub fn is_past(words: &[String]) -> bool {
    if any_in(words, PAST) {
        return true;
    }
    let unit = |w: &String| {
        matches!(w.as_str(), "years" | "months" | "year" | "month" | "anos" | "meses" | "ano" | "mes" | "weeks" | "semanas")
    };
    words.iter().enumerate().any(|(i, w)| {
        let ago = w == "ago" && words[i.saturating_sub(2)..i].iter().any(unit);
        // "hace dos semanas tuve…" is past; "hace una semana que tengo…" is still going on.
        let hace = w == "hace"
            && (i + 1..(i + 3).min(words.len())).any(|j| unit(&words[j]) && words.get(j + 1).is_none_or(|n| n != "que"));
        // "in 2019", "en el 2018", "del 2020", "back in January"
        let skip = usize::from(words.get(i + 1).is_some_and(|n| n == "el"));
        let when = words.get(i + 1 + skip);
        let year = matches!(w.as_str(), "in" | "en" | "del") && when.is_some_and(|y| is_past_year(y));
        // A month is ambiguous ("my appointment in March"): past only after "last" or told in the past.
        let in_month = when.is_some_and(|m| MONTHS.contains(&m.as_str()));
        let back_in = w == "in" && i > 0 && words[i - 1] == "back";
        let month = in_month && (w == "last" || back_in || (matches!(w.as_str(), "in" | "en") && told_in_past_tense(words)));
        ago || hace || year || month || at_an_age(words, i) || a_life_stage(words, i)
    })
}

/// "when I was a kid", "when she was 12": a stage of life, long past. "When I was climbing the
/// stairs" says what they were doing when it began, which may be minutes ago.
fn a_life_stage(words: &[String], i: usize) -> bool {
    const STAGES: &[&str] = &[
        "a", "an", "young", "younger", "little", "small", "pregnant", "born", "growing", "baby", "kid", "teen", "admitted",
        "hospitalized", "discharged",
    ];
    let at = |k: usize| words.get(i + k).map(String::as_str);
    words[i] == "when"
        && matches!(at(1), Some("i" | "he" | "she"))
        && at(2) == Some("was")
        && at(3).is_some_and(|w| STAGES.contains(&w) || w.parse::<u32>().is_ok())
}

/// "fainted once at 19": an age, not a time of day or a temperature.
fn at_an_age(words: &[String], i: usize) -> bool {
    const NOT_AGE: &[&str] = &["am", "pm", "oclock", "degrees", "grados", "f", "c", "mg", "percent"];
    words[i] == "at"
        && words.get(i + 1).and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| (13..=90).contains(&n))
        && words.get(i + 2).is_none_or(|u| !NOT_AGE.contains(&u.as_str()))
}

fn is_past_year(w: &str) -> bool {
    w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1940..2026).contains(&y))
}

/// "hasn't stopped", "won't go away": a denial that keeps the problem going.
fn denies(ws: &[String]) -> bool {
    ws.iter().any(|w| NEGATIONS.contains(&w.as_str()) || w == "wont" || w == "cant")
}

fn resolved(words: &[String], end: usize, next: &[String]) -> bool {
    let after = &words[end..];
    if any_in(after, RESOLVED) && !denies(after) {
        return true;
    }
    let ends_resolved = |ws: &[String]| {
        RESOLVED_AT_END.iter().any(|p| {
            let n = p.split(' ').count();
            ws.len() >= n && exact_at(ws, ws.len() - n, p)
        })
    };
    if ends_resolved(after) {
        return true;
    }
    let refers_back = next.iter().take(2).any(|w| BACK_REFERENCE.contains(&w.as_str()));
    refers_back && (ends_resolved(next) || (!denies(next) && any_in(next, RESOLVED)))
}
