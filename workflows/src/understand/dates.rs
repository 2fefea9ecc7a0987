//! Our own date-window reader, English and Spanish: "next Tuesday afternoon", "the 3rd",
//! "tomorrow morning", "mañana por la tarde", "el próximo lunes", "in two weeks", "3/12".
//! Relative words are resolved against the clinic's local `today`; the result is a window of
//! whole days plus an optional part of the day, never a single guessed time.
//!
//! Conventions: a bare weekday is its next occurrence after today; "next Friday" is in next
//! week when this week's Friday is still to come; "this Tuesday" may be today. Numeric dates read month/day in English and day/month in Spanish. A month-day
//! already past this year means next year.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::date_combine::{combine, part_from_hours, Piece};
use super::date_words::{day_of_month, lookup, number, ASAP, MONTHS, WEEKDAYS};
use crate::text::{fold, fuzzy_eq, words};
use crate::Lang;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayPart {
    Morning,
    Afternoon,
    Evening,
}

impl DayPart {
    /// Local hours [from, to) the part covers.
    pub fn hours(self) -> (u32, u32) {
        match self {
            DayPart::Morning => (6, 12),
            DayPart::Afternoon => (12, 17),
            DayPart::Evening => (17, 22),
        }
    }
}

/// Whole local days from..=to, optionally only one part of each day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub part: Option<DayPart>,
}

impl DateWindow {
    /// The same window grown by `days` at the end (for a wider search when nothing is free).
    pub fn widened(&self, days: u32) -> DateWindow {
        DateWindow { to: self.to + Duration::days(i64::from(days)), ..self.clone() }
    }
}

pub(super) struct Found {
    pub(super) days: Vec<NaiveDate>,
    pub(super) part: Option<DayPart>,
}

impl Found {
    fn span(&mut self, from: NaiveDate, to: NaiveDate) {
        self.days.push(from);
        self.days.push(to);
    }
}

/// The weekday a word names ("thurs", "miércoles", "wensday"), as the date reader reads it.
pub fn weekday_named(word: &str) -> Option<Weekday> {
    lookup(WEEKDAYS, word)
}

/// Reads a date window from `text`, relative to the local date `today`.
pub fn parse(text: &str, today: NaiveDate, lang: Lang) -> Option<DateWindow> {
    let w = words(text);
    let mut f = Found { days: Vec::new(), part: None };
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let before = f.days.len();
        let len = read_at(&w, i, today, &mut f).max(1);
        if f.days.len() > before {
            pieces.push(Piece { at: i, len, days: f.days.split_off(before) });
        }
        i += len;
    }
    let excluded = combine(&w, &mut pieces, &mut f);
    f.days.extend(numeric_dates(&fold(text), today, lang));
    if crate::text::has_any(&w, ASAP) && f.days.is_empty() {
        f.span(today, today + Duration::days(14));
    }
    if f.part.is_none() {
        f.part = part_from_hours(&w);
    }
    if f.days.is_empty() && !excluded.is_empty() {
        return None; // "not this week": when, then?
    }
    let (mut from, mut to) = (f.days.iter().min().copied(), f.days.iter().max().copied());
    while let (Some(a), Some(b)) = (from, to) {
        match (excluded.contains(&a), excluded.contains(&b)) {
            (true, _) if a < b => from = Some(a + Duration::days(1)),
            (_, true) if a < b => to = Some(b - Duration::days(1)),
            _ => break,
        }
    }
    // A day ruled out inside the window cannot be left out of it: ask again rather than offer it.
    if let (Some(a), Some(b)) = (from, to) {
        if excluded.iter().any(|d| *d > a && *d < b) {
            return None;
        }
    }
    match (from.as_ref(), to.as_ref()) {
        (Some(&from), Some(&to)) => Some(DateWindow { from, to, part: f.part }),
        _ => f.part.map(|p| DateWindow { from: today + Duration::days(1), to: today + Duration::days(14), part: Some(p) }),
    }
}

/// Reads one expression starting at word `i`; returns how many words it used (0 = none).
fn read_at(w: &[String], i: usize, today: NaiveDate, f: &mut Found) -> usize {
    let word = w[i].as_str();
    let prev = if i > 0 { w[i - 1].as_str() } else { "" };
    let next = w.get(i + 1).map(String::as_str).unwrap_or("");
    if read_simple(word, prev, today, f) {
        return 1;
    }
    if let Some(n) = read_relative(w, i, today, f) {
        return n;
    }
    if let Some(wd) = lookup(WEEKDAYS, word) {
        // "el jueves 10": the day of the month says which Thursday.
        if let Some(d) = day_of_month(next).and_then(|d| NaiveDate::from_ymd_opt(today.year(), today.month(), d)) {
            let d = if d < today { d.checked_add_months(chrono::Months::new(1)).unwrap_or(d) } else { d };
            if d.weekday() == wd {
                f.days.push(d);
                return 2;
            }
        }
        f.days.push(weekday_date(today, wd, prev, next));
        return 1;
    }
    if let Some(m) = lookup(MONTHS, word).filter(|_| word != "may" || next.parse::<u32>().is_ok()) {
        read_month(w, i, m, today, f);
        return 1;
    }
    usize::from(read_day_of_month(w, i, today, f))
}

/// One-word expressions: today, tomorrow, parts of the day, "3pm".
fn read_simple(word: &str, prev: &str, today: NaiveDate, f: &mut Found) -> bool {
    let day = |n: i64| today + Duration::days(n);
    let part = match word {
        "today" | "hoy" => {
            f.days.push(today);
            return true;
        }
        "tonight" => {
            f.days.push(today);
            Some(DayPart::Evening)
        }
        "manana" if prev == "la" => Some(DayPart::Morning),
        "manana" => {
            f.days.push(day(if prev == "pasado" { 2 } else { 1 }));
            return true;
        }
        "tarde" if matches!(prev, "la" | "por" | "en") => Some(DayPart::Afternoon),
        "noche" | "evening" | "evenings" | "night" => Some(DayPart::Evening),
        "morning" | "mornings" | "am" => Some(DayPart::Morning),
        "afternoon" | "afternoons" | "pm" => Some(DayPart::Afternoon),
        _ => None,
    };
    if let Some(p) = part {
        f.part = Some(p);
        return true;
    }
    if let Some(h) = word.strip_suffix("pm").or_else(|| word.strip_suffix("am")).and_then(|h| h.parse::<u32>().ok()) {
        let h = if word.ends_with("pm") && h < 12 { h + 12 } else { h };
        f.part = Some(match h {
            0..=11 => DayPart::Morning,
            12..=16 => DayPart::Afternoon,
            _ => DayPart::Evening,
        });
        return true;
    }
    if fuzzy_eq(word, "tomorrow") || word == "tmrw" {
        f.days.push(day(if prev == "after" { 2 } else { 1 }));
        return true;
    }
    false
}

/// A weekday's date: its next occurrence; "next Friday" said on a Thursday is in next week.
fn weekday_date(today: NaiveDate, wd: Weekday, prev: &str, next: &str) -> NaiveDate {
    let this = matches!(prev, "this" | "este" | "esta");
    let next_week = matches!(prev, "next" | "proximo" | "proxima") || matches!(next, "que" | "proximo" | "proxima");
    let mut d = today + Duration::days(if this { 0 } else { 1 });
    while d.weekday() != wd {
        d += Duration::days(1);
    }
    let monday_next = today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()));
    if next_week && d < monday_next {
        d += Duration::days(7);
    }
    d
}

/// "march 3" / "3 de marzo" / "3rd of march"; a month alone means the whole month.
fn read_month(w: &[String], i: usize, m: u32, today: NaiveDate, f: &mut Found) {
    let prev = if i > 0 { w[i - 1].as_str() } else { "" };
    let next = w.get(i + 1).map(String::as_str).unwrap_or("");
    let before_of = if prev == "de" || prev == "of" { i.checked_sub(2).and_then(|j| day_of_month(&w[j])) } else { None };
    let d = day_of_month(next).or_else(|| day_of_month(prev)).or(before_of);
    match d.and_then(|d| next_date(today, m, d)) {
        Some(date) => f.days.push(date),
        None if d.is_none() => {
            if let Some(first) = next_date(today, m, 1).filter(|_| m != today.month()) {
                let last = next_date(first, m % 12 + 1, 1).map(|x| x - Duration::days(1)).unwrap_or(first);
                f.span(first, last);
            }
        }
        None => {}
    }
}

/// "the 3rd", "on the 15th", "el 3", "el dia 3": this month, or next if already past.
fn read_day_of_month(w: &[String], i: usize, today: NaiveDate, f: &mut Found) -> bool {
    let word = w[i].as_str();
    let prev = if i > 0 { w[i - 1].as_str() } else { "" };
    let ordinal = ["st", "nd", "rd", "th"].iter().any(|s| word.ends_with(s));
    if !(matches!(prev, "the" | "el" | "dia") || ordinal) {
        return false;
    }
    let month_near = w[i + 1..(i + 4).min(w.len())].iter().any(|x| lookup(MONTHS, x).is_some() && x != "may");
    let Some(d) = day_of_month(word).filter(|_| !month_near) else {
        return false;
    };
    let (mut y, mut m) = (today.year(), today.month());
    if d < today.day() {
        (m, y) = if m == 12 { (1, y + 1) } else { (m + 1, y) };
    }
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => {
            f.days.push(date);
            true
        }
        None => false,
    }
}

/// "this week", "next week", "in two weeks", "en 3 dias", "next month", "weekend".
fn read_relative(w: &[String], i: usize, today: NaiveDate, f: &mut Found) -> Option<usize> {
    let word = w[i].as_str();
    let prev = if i > 0 { w[i - 1].as_str() } else { "" };
    let prev2 = if i > 1 { w[i - 2].as_str() } else { "" };
    let next = w.get(i + 1).map(String::as_str).unwrap_or("");
    let monday = |d: NaiveDate| d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
    let is_next = |p: &str| matches!(p, "next" | "proxima" | "proximo" | "siguiente");
    match word {
        "week" | "semana" => {
            let coming = is_next(prev) || matches!(next, "que" | "proxima" | "siguiente") || (prev == "otra" && prev2 == "la");
            if next == "after" && w.get(i + 2).is_some_and(|x| x == "next") {
                let start = monday(today) + Duration::days(14);
                f.span(start, start + Duration::days(6));
                return Some(3); // "the week after next"
            }
            let count = number(prev).filter(|_| matches!(prev2, "in" | "en" | "de")).filter(|_| !coming);
            if let Some(n) = count.or(if word == "week" && prev == "a" { Some(1) } else { None }) {
                let start = monday(today + Duration::days(7 * i64::from(n)));
                f.span(start, start + Duration::days(6));
            } else if coming {
                let start = monday(today) + Duration::days(7);
                f.span(start, start + Duration::days(6));
            } else if matches!(prev, "this" | "esta") {
                f.span(today, monday(today) + Duration::days(6));
            } else if prev == "fin" || prev == "de" && prev2 == "fin" {
                return None;
            } else {
                return Some(0);
            }
            Some(1)
        }
        "weeks" | "semanas" | "days" | "dias" | "months" | "meses" => {
            let n = number(prev)?;
            let per = match word {
                "weeks" | "semanas" => 7,
                "months" | "meses" => 30,
                _ => 1,
            };
            let target = today + Duration::days(per * i64::from(n));
            if per == 1 {
                f.days.push(target);
            } else {
                let start = monday(target);
                f.span(start, start + Duration::days(6));
            }
            Some(1)
        }
        "month" | "mes" if is_next(prev) || next == "que" => {
            let (y, m) = if today.month() == 12 { (today.year() + 1, 1) } else { (today.year(), today.month() + 1) };
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            let last = next_date(first, m % 12 + 1, 1).map(|x| x - Duration::days(1))?;
            f.span(first, last);
            Some(1)
        }
        "weekend" | "finde" => Some(weekend(today, f)),
        "fin" if next == "de" && w.get(i + 2).is_some_and(|x| x == "semana") => Some(weekend(today, f) + 2),
        _ => None,
    }
}

fn weekend(today: NaiveDate, f: &mut Found) -> usize {
    let mut d = today;
    while d.weekday() != Weekday::Sat {
        d += Duration::days(1);
    }
    f.span(d, d + Duration::days(1));
    1
}

/// The next date (today or later) with this month and day.
fn next_date(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this = NaiveDate::from_ymd_opt(today.year(), month, day)?;
    if this >= today {
        Some(this)
    } else {
        NaiveDate::from_ymd_opt(today.year() + 1, month, day)
    }
}

/// "2026-12-03", "12/3", "3/12/2026" (month/day in English, day/month in Spanish).
fn numeric_dates(folded: &str, today: NaiveDate, lang: Lang) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    for raw in folded.split(|c: char| !(c.is_ascii_digit() || c == '/' || c == '-')) {
        let parts: Vec<&str> = raw.split(['/', '-']).filter(|p| !p.is_empty()).collect();
        let nums: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        if nums.len() < 2 || nums.len() != parts.len() {
            continue;
        }
        let date = if parts[0].len() == 4 && nums.len() == 3 {
            NaiveDate::from_ymd_opt(nums[0] as i32, nums[1], nums[2])
        } else {
            let (m, d) = if lang == Lang::Es { (nums[1], nums[0]) } else { (nums[0], nums[1]) };
            match nums.get(2) {
                Some(&y) => NaiveDate::from_ymd_opt(if y < 100 { 2000 + y as i32 } else { y as i32 }, m, d),
                None => next_date(today, m, d),
            }
        };
        out.extend(date);
    }
    out
}
