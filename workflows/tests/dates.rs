//! Date-window reading, English and Spanish, against a fixed "today" (Thursday 26 Nov 2026).

use chrono::NaiveDate;
use workflows::understand::dates::{parse, DayPart};
use workflows::Lang;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap() // a Thursday
}
fn p(text: &str, lang: Lang) -> Option<(String, String, Option<DayPart>)> {
    parse(text, today(), lang).map(|w| (w.from.to_string(), w.to.to_string(), w.part))
}
fn day(s: &str) -> Option<(String, String, Option<DayPart>)> {
    Some((s.into(), s.into(), None))
}

#[test]
fn weekdays_resolve_to_their_next_occurrence() {
    assert_eq!(p("next Tuesday", Lang::En), day("2026-12-01"));
    assert_eq!(p("el próximo lunes", Lang::Es), day("2026-11-30"));
    assert_eq!(p("on thursday", Lang::En), day("2026-12-03"));
    assert_eq!(p("friday", Lang::En), day("2026-11-27"));
    assert_eq!(p("next friday", Lang::En), day("2026-12-04"));
    assert_eq!(p("el viernes que viene", Lang::Es), day("2026-12-04"));
}

#[test]
fn parts_of_the_day_narrow_the_window() {
    assert_eq!(p("next Tuesday afternoon", Lang::En), Some(("2026-12-01".into(), "2026-12-01".into(), Some(DayPart::Afternoon))));
    assert_eq!(p("tomorrow morning", Lang::En), Some(("2026-11-27".into(), "2026-11-27".into(), Some(DayPart::Morning))));
    assert_eq!(p("mañana por la tarde", Lang::Es), Some(("2026-11-27".into(), "2026-11-27".into(), Some(DayPart::Afternoon))));
    assert_eq!(p("mañana por la mañana", Lang::Es), Some(("2026-11-27".into(), "2026-11-27".into(), Some(DayPart::Morning))));
}

#[test]
fn days_of_month_and_month_names() {
    assert_eq!(p("the 3rd", Lang::En), day("2026-12-03"));
    assert_eq!(p("el 28", Lang::Es), day("2026-11-28"));
    assert_eq!(p("December 10th", Lang::En), day("2026-12-10"));
    assert_eq!(p("el 5 de enero", Lang::Es), day("2027-01-05"));
    assert_eq!(p("12/3", Lang::En), day("2026-12-03"));
    assert_eq!(p("3/12", Lang::Es), day("2026-12-03"));
    assert_eq!(p("2026-12-07", Lang::En), day("2026-12-07"));
}

#[test]
fn relative_weeks_become_whole_weeks() {
    assert_eq!(p("in two weeks", Lang::En), Some(("2026-12-07".into(), "2026-12-13".into(), None)));
    assert_eq!(p("next week", Lang::En), Some(("2026-11-30".into(), "2026-12-06".into(), None)));
    assert_eq!(p("la semana que viene", Lang::Es), Some(("2026-11-30".into(), "2026-12-06".into(), None)));
    assert_eq!(p("en dos semanas", Lang::Es), Some(("2026-12-07".into(), "2026-12-13".into(), None)));
    assert_eq!(p("this weekend", Lang::En), Some(("2026-11-28".into(), "2026-11-29".into(), None)));
    // Every cardinal word up to ten counts, in both languages.
    assert_eq!(p("in ten days", Lang::En), day("2026-12-06"));
    assert_eq!(p("en siete dias", Lang::Es), day("2026-12-03"));
    assert_eq!(p("en una semana", Lang::Es), Some(("2026-11-30".into(), "2026-12-06".into(), None)));
}

#[test]
fn several_dates_span_a_window_and_nothing_gives_none() {
    assert_eq!(p("monday or tuesday", Lang::En), Some(("2026-11-30".into(), "2026-12-01".into(), None)));
    assert_eq!(p("as soon as possible", Lang::En), Some(("2026-11-26".into(), "2026-12-10".into(), None)));
    assert_eq!(p("I want to see Dr. Lee", Lang::En), None);
    assert_eq!(p("in the morning", Lang::En), Some(("2026-11-27".into(), "2026-12-10".into(), Some(DayPart::Morning))));
}

#[test]
fn ruled_out_days_weeks_with_weekdays_and_hours() {
    // Today is Thursday 26 Nov 2026.
    assert_eq!(p("not this week, maybe the week after next", Lang::En), Some(("2026-12-07".into(), "2026-12-13".into(), None)));
    assert_eq!(p("any day next week except Monday", Lang::En), Some(("2026-12-01".into(), "2026-12-06".into(), None)));
    assert_eq!(p("Tuesday or Wednesday next week", Lang::En), Some(("2026-12-01".into(), "2026-12-02".into(), None)));
    assert_eq!(p("el jueves de la semana que viene", Lang::Es), day("2026-12-03"));
    assert_eq!(p("el jueves 10", Lang::Es), day("2026-12-10"));
    assert_eq!(p("Esta semana no puedo, la otra semana", Lang::Es), Some(("2026-11-30".into(), "2026-12-06".into(), None)));
    assert_eq!(p("next week after work", Lang::En), Some(("2026-11-30".into(), "2026-12-06".into(), Some(DayPart::Evening))));
    assert_eq!(p("el lunes, después de las 3", Lang::Es), Some(("2026-11-30".into(), "2026-11-30".into(), Some(DayPart::Afternoon))));
    assert_eq!(p("not this week", Lang::En), None);
}

#[test]
fn hours_said_give_the_part_of_the_day_but_counts_do_not() {
    let part = |t: &str, lang| parse(t, today(), lang).and_then(|w| w.part);
    assert_eq!(part("Monday the 30th at 9", Lang::En), Some(DayPart::Morning));
    assert_eq!(part("el lunes después de las 4", Lang::Es), Some(DayPart::Afternoon));
    assert_eq!(part("el lunes a primera hora", Lang::Es), Some(DayPart::Morning));
    assert_eq!(part("monday around noon", Lang::En), Some(DayPart::Afternoon));
    assert_eq!(part("monday, at least 2 days from now", Lang::En), None);
    assert_eq!(part("after 2 weeks", Lang::En), None);
}
