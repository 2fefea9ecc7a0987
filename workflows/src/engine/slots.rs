//! Reading a slot value or an option pick out of one message. Rules decide where they are sure;
//! the model is asked to choose only among the options we showed, and its index is checked.

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::render::{item, offset};
use super::state::{ConversationState, Item, SlotValue};
use super::Engine;
use crate::script::SlotType;
use crate::text::{fuzzy_eq, has_any, words};
use crate::understand::intent::softmax_at;
use crate::understand::meds::{match_medication, MedMatch};
use crate::understand::{dates, values};
use crate::{Lang, Result};

pub(super) enum Fill {
    Value(SlotValue),
    /// Several medications fit: ask which, offering these.
    Ambiguous(Vec<Item>),
    Nothing,
}

/// What a message picks among the options shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    Index(usize),
    /// "none of these", "another time".
    Rejected,
    Unclear,
}

/// The longest free text we keep from one answer.
const MAX_TEXT: usize = 1000;
/// The model's pick needs this probability before we take it.
const CHOOSE_MIN: f32 = 0.5;

const ORDINALS: &[(&str, usize)] = &[
    ("first", 0),
    ("1st", 0),
    ("second", 1),
    ("2nd", 1),
    ("third", 2),
    ("3rd", 2),
    ("primero", 0),
    ("primera", 0),
    ("segundo", 1),
    ("segunda", 1),
    ("tercero", 2),
    ("tercera", 2),
    ("last", usize::MAX),
    ("ultimo", usize::MAX),
    ("ultima", usize::MAX),
];
const REJECT: &[&str] = &[
    "none", "neither", "other times", "another time", "another day", "different time", "none of them", "ninguno", "ninguna", "otro dia",
    "otra hora", "otro horario",
];
const DAY_NAMES: [[&str; 2]; 7] = [
    ["monday", "lunes"],
    ["tuesday", "martes"],
    ["wednesday", "miercoles"],
    ["thursday", "jueves"],
    ["friday", "viernes"],
    ["saturday", "sabado"],
    ["sunday", "domingo"],
];

impl Engine {
    pub(super) async fn extract_slot(
        &self,
        ty: SlotType,
        question: values::Question,
        msg: &str,
        from: Option<&str>,
        st: &ConversationState,
        now: DateTime<Utc>,
    ) -> Result<Fill> {
        let today = now.with_timezone(&offset(self.utc_offset_minutes)).date_naive();
        let v = match ty {
            SlotType::DateWindow => match dates::parse(msg, today, st.lang) {
                Some(w) => Some(SlotValue::DateWindow(w)),
                None => self.model_date(msg, today).await?.map(SlotValue::DateWindow),
            },
            SlotType::YesNo => values::yes_no_to(msg, question).map(SlotValue::YesNo),
            SlotType::Scale => values::scale(msg).map(SlotValue::Scale),
            SlotType::Provider => values::provider(msg).map(SlotValue::Provider),
            SlotType::Text => Some(msg.trim()).filter(|t| !t.is_empty()).map(|t| SlotValue::Text(t.chars().take(MAX_TEXT).collect())),
            SlotType::Medication => return self.extract_medication(msg, from, st).await,
            SlotType::Choice => None,
        };
        Ok(v.map(Fill::Value).unwrap_or(Fill::Nothing))
    }

    /// When our reader finds no date, the model may fill a small schema (weekday, day of
    /// month, part of day); each field is checked against its allowed values and the date is
    /// then computed by our own reader, never taken from the model.
    async fn model_date(&self, msg: &str, today: chrono::NaiveDate) -> Result<Option<dates::DateWindow>> {
        const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
        const PARTS: [&str; 3] = ["morning", "afternoon", "evening"];
        // The model's reading counts only where the message names a weekday or a day number
        // (below): a message with neither is not worth a model call.
        let w = words(msg);
        if !WEEKDAYS.iter().any(|wd| names_weekday(&w, wd)) && !w.iter().any(|x| x.chars().any(|c| c.is_ascii_digit())) {
            return Ok(None);
        }
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "weekday": {"enum": WEEKDAYS},
                "day_of_month": {"type": "integer", "minimum": 1, "maximum": 31},
                "part_of_day": {"enum": PARTS}
            }
        });
        let v = self.understand.extract(&prompts::extract_system(&schema), msg, &schema).await?;
        // The model may only read what the patient wrote, never add to it: a weekday or a day
        // of the month counts only when the message names it.
        let weekday = v
            .get("weekday")
            .and_then(|x| x.as_str())
            .filter(|wd| WEEKDAYS.contains(wd) && names_weekday(&w, wd));
        let day = v
            .get("day_of_month")
            .and_then(|x| x.as_u64())
            .filter(|d| (1..=31).contains(d) && w.iter().any(|x| x.trim_end_matches(char::is_alphabetic) == d.to_string()));
        let part = v.get("part_of_day").and_then(|x| x.as_str()).filter(|p| PARTS.contains(p));
        let phrase = [weekday.map(str::to_string), day.map(|d| format!("the {d}")), part.map(str::to_string)];
        let phrase: Vec<String> = phrase.into_iter().flatten().collect();
        if weekday.is_none() && day.is_none() {
            return Ok(None); // a part of day alone is not an answer to "when?" from the model
        }
        Ok(dates::parse(&phrase.join(" "), today, Lang::En))
    }

    async fn extract_medication(&self, msg: &str, from: Option<&str>, st: &ConversationState) -> Result<Fill> {
        if !st.offered.is_empty() {
            if let Pick::Index(i) = self.pick_option(msg, &st.offered, st.lang).await? {
                if let Some(Item::Medication(m)) = st.offered.get(i) {
                    return Ok(Fill::Value(SlotValue::Medication(m.clone())));
                }
            }
        }
        let meds: Vec<_> = from
            .and_then(|f| st.results.get(f))
            .into_iter()
            .flatten()
            .filter_map(|i| match i {
                Item::Medication(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        let names: Vec<String> = meds.iter().map(|m| m.name.clone()).collect();
        Ok(match match_medication(msg, &names, self.understand.as_ref()).await? {
            MedMatch::One(i) => meds.get(i).cloned().map(|m| Fill::Value(SlotValue::Medication(m))).unwrap_or(Fill::Nothing),
            MedMatch::Ambiguous(ix) => Fill::Ambiguous(ix.iter().filter_map(|&i| meds.get(i).cloned().map(Item::Medication)).collect()),
            MedMatch::NoMatch => Fill::Nothing,
        })
    }

    /// Which of `items` (as shown) the message picks.
    pub(super) async fn pick_option(&self, msg: &str, items: &[Item], lang: Lang) -> Result<Pick> {
        let n = items.len();
        let off = offset(self.utc_offset_minutes);
        if let Some(p) = pick_by_rules(msg, items, lang, off) {
            return Ok(p);
        }
        let labels: Vec<String> = items.iter().map(|it| item(it, off, lang)).collect();
        let mut options = labels.clone();
        options.push(match lang {
            Lang::En => "none of these".into(),
            Lang::Es => "ninguna de estas".into(),
        });
        let (i, logprobs) = self.understand.choose(prompts::choose_system(), msg, &options).await?;
        let p = softmax_at(&logprobs, i);
        Ok(match i {
            i if i < n && p >= CHOOSE_MIN => Pick::Index(i),
            i if i == n && p >= CHOOSE_MIN => Pick::Rejected,
            _ => Pick::Unclear,
        })
    }
}

/// What the rules make of a pick among `items` (as shown in `lang` at `off`), or `None` when
/// only the model can tell: a button's label, a position ("the second one"), the one option
/// whose words the message shares most, or a refusal of them all.
pub fn pick_by_rules(msg: &str, items: &[Item], lang: Lang, off: chrono::FixedOffset) -> Option<Pick> {
    // Weekdays as the date reader knows them ("thurs", "weds"), written out in full.
    let w: Vec<String> = words(msg)
        .into_iter()
        .map(|x| dates::weekday_named(&x).map_or(x, |d| DAY_NAMES[d.num_days_from_monday() as usize][0].to_string()))
        .collect();
    let labels: Vec<String> = items.iter().map(|it| item(it, off, lang)).collect();
    // A quick-reply button sends its label verbatim: that is a pick, whatever it contains.
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if let Some(i) = labels.iter().position(|l| norm(l) == norm(msg)) {
        return Some(Pick::Index(i));
    }
    if let Some(i) = by_position(&w, items.len()) {
        return Some(Pick::Index(i));
    }
    // "the earliest", "la más temprano": the first of the times shown.
    if has_any(&w, &["earliest", "soonest", "first available", "mas temprano", "mas temprana", "mas pronto"]) {
        let start = |it: &Item| match it {
            Item::Slot(s) => Some(s.start),
            Item::Appointment(a) => Some(a.start),
            Item::Medication(_) => None,
        };
        if let Some((i, _)) = items.iter().enumerate().filter_map(|(i, it)| start(it).map(|t| (i, t))).min_by_key(|(_, t)| *t) {
            return Some(Pick::Index(i));
        }
    }
    let scores: Vec<usize> = items.iter().zip(&labels).map(|(it, l)| overlap(&w, &match_words(it, l, off))).collect();
    let best = scores.iter().copied().max().unwrap_or(0);
    if best > 0 && scores.iter().filter(|&&s| s == best).count() == 1 {
        return Some(Pick::Index(scores.iter().position(|&s| s == best).unwrap_or(0)));
    }
    (has_any(&w, REJECT) || values::yes_no(msg) == Some(false)).then_some(Pick::Rejected)
}

/// Whether the message's words name `weekday` (English, three-letter abbreviations, Spanish).
fn names_weekday(w: &[String], weekday: &str) -> bool {
    const SPANISH: [(&str, &str); 7] = [
        ("monday", "lunes"),
        ("tuesday", "martes"),
        ("wednesday", "miercoles"),
        ("thursday", "jueves"),
        ("friday", "viernes"),
        ("saturday", "sabado"),
        ("sunday", "domingo"),
    ];
    let es = SPANISH.iter().find(|(en, _)| *en == weekday).map(|(_, es)| *es).unwrap_or("");
    w.iter().any(|x| {
        let x = crate::text::fold(x);
        (x.len() >= 3 && weekday.starts_with(x.as_str())) || x == es || fuzzy_eq(&x, weekday)
    })
}

/// "2", "option 2", "the second one", "la primera".
fn by_position(w: &[String], n: usize) -> Option<usize> {
    // Not "one": "the afternoon one" is a pronoun.
    const SAID: &[(&str, usize)] = &[("two", 2), ("three", 3), ("dos", 2), ("tres", 3), ("to", 2), ("too", 2)];
    let short = w.len() <= 3 || w.iter().any(|x| matches!(x.as_str(), "option" | "number" | "opcion" | "numero"));
    for (at, x) in w.iter().enumerate() {
        let prev = at.checked_sub(1).map(|p| w[p].as_str()).unwrap_or("");
        // "#2 and btw…", "la 2. ah y…": a number that opens the answer picks, however long it is.
        let opens = at == 0 || (at == 1 && matches!(prev, "la" | "el" | "the" | "dale" | "ok"));
        if let Ok(k) = x.parse::<usize>() {
            if (short || opens) && (1..=n).contains(&k) {
                return Some(k - 1);
            }
        }
        // "tres", "dale la dos", "number to": numbers said as words, in a short answer only.
        let named = matches!(prev, "number" | "numero" | "option" | "opcion" | "la" | "el") || (short && !matches!(x.as_str(), "to" | "too"));
        if let Some((_, k)) = SAID.iter().find(|(s, _)| s == x).filter(|_| named && w.len() <= 4) {
            if (1..=n).contains(k) {
                return Some(k - 1);
            }
        }
        if let Some((_, i)) = ORDINALS.iter().find(|(o, _)| o == x) {
            let i = if *i == usize::MAX { n.checked_sub(1)? } else { *i };
            return (i < n).then_some(i);
        }
    }
    None
}

/// Words a patient may use for an item: its label, plus the full weekday names.
fn match_words(it: &Item, label: &str, off: chrono::FixedOffset) -> Vec<String> {
    let mut out: Vec<String> = words(label).into_iter().filter(|x| !matches!(x.as_str(), "with" | "con" | "dr" | "dra")).collect();
    let start = match it {
        Item::Slot(s) => Some(s.start),
        Item::Appointment(a) => Some(a.start),
        Item::Medication(_) => None,
    };
    if let Some(t) = start {
        let local = t.with_timezone(&off);
        let wd = local.weekday().num_days_from_monday() as usize;
        out.extend(DAY_NAMES[wd].iter().map(|s| s.to_string()));
        out.extend(time_words(local.hour(), local.minute()));
    }
    out
}

/// How a patient may say an offered time: "9", "9am", "2:30", "two thirty", "las once", "the
/// afternoon one".
fn time_words(h: u32, m: u32) -> Vec<String> {
    const SPOKEN: [[&str; 2]; 12] = [
        ["twelve", "doce"], ["one", "una"], ["two", "dos"], ["three", "tres"], ["four", "cuatro"], ["five", "cinco"], ["six", "seis"],
        ["seven", "siete"], ["eight", "ocho"], ["nine", "nueve"], ["ten", "diez"], ["eleven", "once"],
    ];
    let h12 = h % 12;
    let mut out = vec![h.to_string(), h12.max(if h == 12 { 12 } else { 0 }).to_string()];
    out.push(format!("{}{}", if h12 == 0 { 12 } else { h12 }, if h < 12 { "am" } else { "pm" }));
    out.extend(SPOKEN[h12 as usize].iter().map(|s| s.to_string()));
    if m == 30 {
        out.extend(["30", "thirty", "treinta", "media"].map(String::from));
        out.push(format!("{}30", if h12 == 0 { 12 } else { h12 }));
    }
    let part: &[&str] = match h {
        0..=11 => &["morning", "manana", "temprano", "am"],
        12..=16 => &["afternoon", "tarde", "pm"],
        _ => &["evening", "noche", "pm"],
    };
    out.extend(part.iter().map(|s| s.to_string()));
    out
}

fn overlap(msg: &[String], item_words: &[String]) -> usize {
    // A weekday written right is never a typo of another ("tuesday" is not "thursday").
    let weekday = |m: &String| DAY_NAMES.iter().flatten().any(|d| d == m);
    let mut seen: Vec<&String> = Vec::new();
    item_words
        .iter()
        .filter(|k| {
            let fresh = !seen.contains(k);
            seen.push(k);
            fresh && msg.iter().any(|m| m == *k || (k.len() >= 5 && !weekday(m) && fuzzy_eq(m, k)))
        })
        .count()
}
