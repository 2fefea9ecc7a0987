//! How the pieces of a date answer combine: days the patient rules out ("not this week",
//! "except Monday") come out, weekdays named with a week fall in it, and hours said ("after 3",
//! "after work") give the part of the day. Kept apart from `dates.rs`, which reads the pieces.

use chrono::{Datelike, Duration, NaiveDate};

use super::date_words::{lookup, WEEKDAYS};
use super::dates::{DayPart, Found};

/// Days read from the words at `at..at + len`.
pub(super) struct Piece {
    pub at: usize,
    pub len: usize,
    pub days: Vec<NaiveDate>,
}

/// Days the patient rules out ("not this week", "esta semana no", "except Monday") are taken
/// out of the pieces and returned; weekdays named with a week ("Tuesday or Wednesday next
/// week", "el jueves de la semana que viene") fall in that week. The rest go into `f.days`.
pub(super) fn combine(w: &[String], pieces: &mut Vec<Piece>, f: &mut Found) -> Vec<NaiveDate> {
    let ruled_out = |p: &Piece| {
        // "any day except Tuesday, Thursday and Saturday": back over the other weekdays listed.
        let mut at = p.at;
        while at > 0 && lookup(WEEKDAYS, &w[at - 1]).is_some() {
            at -= 1;
        }
        let before = &w[at.saturating_sub(2)..at];
        before.iter().any(|x| matches!(x.as_str(), "not" | "except" | "excepto" | "menos" | "salvo" | "besides"))
            || w.get(p.at + p.len).is_some_and(|x| x == "no")
            || (p.at > 0 && w[p.at - 1] == "no")
    };
    let mut excluded = Vec::new();
    pieces.retain(|p| {
        let out = ruled_out(p);
        if out {
            let (a, b) = (p.days.iter().min().copied(), p.days.iter().max().copied());
            if let (Some(a), Some(b)) = (a, b) {
                excluded.extend(a.iter_days().take_while(|d| *d <= b));
            }
        }
        !out
    });
    let is_week = |p: &Piece| p.days.len() == 2 && w[p.at..p.at + p.len].iter().any(|x| x == "week" || x == "semana");
    let is_weekday = |p: &Piece| p.len == 1 && lookup(WEEKDAYS, &w[p.at]).is_some();
    if let Some(week) = pieces.iter().find(|p| is_week(p)).map(|p| p.days[0]) {
        if pieces.iter().any(|p| is_weekday(p)) {
            for p in pieces.iter_mut().filter(|p| is_weekday(p)) {
                let wd = p.days[0].weekday().num_days_from_monday();
                p.days = vec![week + Duration::days(i64::from(wd))];
            }
            pieces.retain(|p| !is_week(p));
        }
    }
    f.days.extend(pieces.iter().flat_map(|p| p.days.iter().copied()));
    excluded
}

/// "after 3", "después de las 4", "after work": the part of the day the hours fall in.
pub(super) fn part_from_hours(w: &[String]) -> Option<DayPart> {
    if crate::text::has_any(w, &["after work", "despues del trabajo", "despues de trabajar", "after school", "saliendo del trabajo"]) {
        return Some(DayPart::Evening);
    }
    if crate::text::has_any(w, &["temprano", "early", "before noon", "antes del mediodia"]) && !crate::text::has_any(w, &["mas temprano"]) {
        return Some(DayPart::Morning);
    }
    let at = w.iter().position(|x| matches!(x.as_str(), "after" | "despues" | "at" | "las"))?;
    let h: u32 = w[at + 1..(at + 4).min(w.len())].iter().find_map(|x| x.trim_end_matches(char::is_alphabetic).parse().ok())?;
    Some(match h {
        1..=4 | 12..=16 => DayPart::Afternoon,
        5..=8 | 17..=21 => DayPart::Evening,
        _ => DayPart::Morning,
    })
}

