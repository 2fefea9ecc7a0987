//! The words of dates the date reader knows, English and Spanish: weekdays, months, numbers
//! written out, "as soon as possible", and days of the month ("3rd", "15th"), matched with the
//! typo tolerance of `text::fuzzy_eq` for the longer words. Kept apart from `dates.rs`, which
//! reads them in order.

use chrono::Weekday;

use crate::text::{fuzzy_eq, CARDINALS};

pub(super) const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
    ("lunes", Weekday::Mon),
    ("martes", Weekday::Tue),
    ("miercoles", Weekday::Wed),
    ("jueves", Weekday::Thu),
    ("viernes", Weekday::Fri),
    ("sabado", Weekday::Sat),
    ("domingo", Weekday::Sun),
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("tues", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("weds", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("thurs", Weekday::Thu),
    ("fri", Weekday::Fri),
];

pub(super) const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
];

/// Words that count like numbers in dates ("in a week", "en una semana", "in a couple of days"),
/// beside [`CARDINALS`].
const NUMBER_EXTRAS: &[(&str, u32)] = &[("a", 1), ("an", 1), ("un", 1), ("una", 1), ("couple", 2), ("few", 3)];

pub(super) const ASAP: &[&str] = &[
    "asap", "as soon as possible", "soonest", "earliest", "any time", "anytime", "whenever", "first available", "lo antes posible",
    "cuanto antes", "ya mismo", "right away", "cuando sea", "lo mas pronto", "primera disponible", "cualquier dia",
];

pub(super) fn lookup<T: Copy>(table: &[(&str, T)], w: &str) -> Option<T> {
    table.iter().find(|(k, _)| *k == w).or_else(|| table.iter().find(|(k, _)| k.len() >= 6 && fuzzy_eq(w, k))).map(|(_, v)| *v)
}

pub(super) fn number(w: &str) -> Option<u32> {
    w.parse().ok().or_else(|| lookup(CARDINALS, w)).or_else(|| lookup(NUMBER_EXTRAS, w))
}

/// Day of month from "3", "3rd", "15th", "1st".
pub(super) fn day_of_month(w: &str) -> Option<u32> {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    let ok_suffix = matches!(suffix, "" | "st" | "nd" | "rd" | "th" | "o" | "ro");
    digits.parse().ok().filter(|d| ok_suffix && (1..=31).contains(d))
}
