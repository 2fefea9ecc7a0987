//! Turning facts into words: slot values and offered items as short labels in the
//! conversation's language and the clinic's local time, and script strings with their
//! `{slot}` / `{slot.field}` placeholders filled.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Utc};

use super::state::{ConversationState, Item, SlotValue};
use crate::script::Script;
use crate::understand::dates::{DateWindow, DayPart};
use crate::understand::values::Provider;
use crate::Lang;

const DAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const DAYS_ES: [&str; 7] = ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"];
const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTHS_ES: [&str; 12] = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"];

pub fn offset(minutes: i32) -> FixedOffset {
    FixedOffset::east_opt(minutes * 60).unwrap_or(FixedOffset::east_opt(0).expect("zero offset is valid"))
}

pub fn date(d: NaiveDate, lang: Lang) -> String {
    let wd = d.weekday().num_days_from_monday() as usize;
    let m = d.month0() as usize;
    match lang {
        Lang::En => format!("{} {} {}", DAYS_EN[wd], d.day(), MONTHS_EN[m]),
        Lang::Es => format!("{} {} {}", DAYS_ES[wd], d.day(), MONTHS_ES[m]),
    }
}

pub fn time(t: DateTime<Utc>, off: FixedOffset, lang: Lang) -> String {
    let local = t.with_timezone(&off);
    format!("{}, {:02}:{:02}", date(local.date_naive(), lang), local.hour(), local.minute())
}

fn with_whom(name: Option<&String>, lang: Lang) -> String {
    match (name, lang) {
        (Some(n), Lang::En) => format!(" with {n}"),
        (Some(n), Lang::Es) => format!(" con {n}"),
        (None, _) => String::new(),
    }
}

/// A one-line label for an offered item (also the quick-reply text).
pub fn item(it: &Item, off: FixedOffset, lang: Lang) -> String {
    match it {
        Item::Slot(s) => format!("{}{}", time(s.start, off, lang), with_whom(s.practitioner_name.as_ref(), lang)),
        Item::Appointment(a) => format!("{}{}", time(a.start, off, lang), with_whom(a.practitioner_name.as_ref(), lang)),
        Item::Medication(m) => m.name.clone(),
    }
}

pub fn window(w: &DateWindow, lang: Lang) -> String {
    let days = if w.from == w.to { date(w.from, lang) } else { format!("{} – {}", date(w.from, lang), date(w.to, lang)) };
    let part = match (w.part, lang) {
        (None, _) => "",
        (Some(DayPart::Morning), Lang::En) => " (morning)",
        (Some(DayPart::Afternoon), Lang::En) => " (afternoon)",
        (Some(DayPart::Evening), Lang::En) => " (evening)",
        (Some(DayPart::Morning), Lang::Es) => " (por la mañana)",
        (Some(DayPart::Afternoon), Lang::Es) => " (por la tarde)",
        (Some(DayPart::Evening), Lang::Es) => " (por la noche)",
    };
    format!("{days}{part}")
}

/// The value of `{slot}` or `{slot.field}`.
fn slot_text(v: &SlotValue, field: Option<&str>, off: FixedOffset, lang: Lang, today: NaiveDate) -> String {
    let yes_no = |b: bool| match (b, lang) {
        (true, Lang::En) => "yes",
        (false, Lang::En) => "no",
        (true, Lang::Es) => "sí",
        (false, Lang::Es) => "no",
    };
    match (v, field) {
        (SlotValue::Medication(m), Some("prescriber")) => m.prescriber_name.clone().unwrap_or_else(|| match lang {
            Lang::En => "your prescriber".into(),
            Lang::Es => "su médico".into(),
        }),
        (SlotValue::Medication(m), Some("refill_from")) => date(super::actions::refill_from(m).unwrap_or(today), lang),
        (SlotValue::Medication(m), _) => m.name.clone(),
        (SlotValue::DateWindow(w), _) => window(w, lang),
        (SlotValue::Choice(it), _) => item(it, off, lang),
        (SlotValue::YesNo(b), _) => yes_no(*b).into(),
        (SlotValue::Scale(n), _) => n.to_string(),
        (SlotValue::Text(t), _) => t.clone(),
        (SlotValue::Provider(Provider::Specialty(s) | Provider::Practitioner(s)), _) => s.clone(),
        (SlotValue::Provider(Provider::Anyone), _) => match lang {
            Lang::En => "any available clinician".into(),
            Lang::Es => "cualquier profesional disponible".into(),
        },
    }
}

/// The script string `key` in the conversation's language, placeholders filled.
pub fn text(
    script: &Script,
    key: &str,
    st: &ConversationState,
    patient_name: Option<&str>,
    off: FixedOffset,
    now: DateTime<Utc>,
) -> String {
    let template = script.string(key, st.lang);
    let today = now.with_timezone(&off).date_naive();
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let (name, field) = match inner.split_once('.') {
            Some((n, f)) => (n, Some(f)),
            None => (inner, None),
        };
        let value = match name {
            "patient" => patient_name.map(|n| format!(" {n}")).unwrap_or_default(),
            _ => st.slots.get(name).map(|v| slot_text(v, field, off, st.lang, today)).unwrap_or_default(),
        };
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Local midnight at the start of `d`, in UTC.
pub fn day_start(d: NaiveDate, off: FixedOffset) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    DateTime::<Utc>::from_naive_utc_and_offset(naive - Duration::seconds(i64::from(off.local_minus_utc())), Utc)
}

pub fn yes_no_options(lang: Lang) -> Vec<String> {
    match lang {
        Lang::En => vec!["Yes".into(), "No".into()],
        Lang::Es => vec!["Sí".into(), "No".into()],
    }
}
