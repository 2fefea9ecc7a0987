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
    use crate::text::has_any;
    if has_any(w, &["after work", "despues del trabajo", "despues de trabajar", "saliendo del trabajo"]) {
        return Some(DayPart::Evening);
    }
    if has_any(w, &["after school", "lunchtime", "lunch time", "noon", "mediodia", "hora de comer"]) {
        return Some(DayPart::Afternoon);
    }
    let early = ["temprano", "early", "before noon", "antes del mediodia", "primera hora", "first thing", "before work", "antes del trabajo"];
    if has_any(w, &early) && !has_any(w, &["mas temprano"]) {
        return Some(DayPart::Morning);
    }
    // "at 9", "a las 4", "after 3", "después de las 5": not "at least 2 days", "after 2 weeks".
    let hour = |i: usize| {
        let x = w.get(i)?;
        let h: u32 = x.trim_end_matches(char::is_alphabetic).parse().ok()?;
        let unit = w.get(i + 1).is_some_and(|n| matches!(n.as_str(), "days" | "day" | "weeks" | "week" | "dias" | "dia" | "semanas" | "semana" | "months" | "meses"));
        (!unit && (1..=21).contains(&h)).then_some(h)
    };
    let h = (0..w.len()).find_map(|i| match w[i].as_str() {
        "at" | "las" => hour(i + 1),
        "after" | "despues" => hour(i + 1).or_else(|| hour(i + 3).filter(|_| w.get(i + 2).is_some_and(|x| x == "las"))),
        _ => None,
    })?;
    Some(match h {
        1..=4 | 12..=16 => DayPart::Afternoon,
        5..=8 | 17..=21 => DayPart::Evening,
        _ => DayPart::Morning,
    })
}
