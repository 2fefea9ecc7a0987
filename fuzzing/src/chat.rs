//! The chat input path before the model: red-flag rules, tokenising and folding, language
//! guess, and the rule readers for dates, providers, yes/no and pain scores, on arbitrary
//! patient text. None may panic; red-flag detection is deterministic and `first` agrees with
//! `detect`; readers give values in range.

use chrono::NaiveDate;
use workflows::redflags::{self, RuleSet};
use workflows::understand::{dates, values};
use workflows::Lang;

pub fn chat_input(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let rules = [RuleSet::PostDischarge];
    let found = redflags::detect(text, &rules);
    assert_eq!(found, redflags::detect(text, &rules), "red flags differ between two runs");
    match redflags::first(text, &rules) {
        Some(c) => assert!(found.contains(&c), "first {c:?} not among {found:?}"),
        None => assert!(found.is_empty(), "detect found {found:?}, first found nothing"),
    }
    let _ = workflows::text::tokens(text);
    let words = workflows::text::words(text);
    for w in &words {
        assert!(!w.is_empty(), "an empty word from {text:?}");
    }
    let _ = workflows::text::fold(text);
    let _ = workflows::text::looks_spanish(text);
    let today = NaiveDate::from_ymd_opt(2026, 11, 26).expect("a date");
    for lang in [Lang::En, Lang::Es] {
        if let Some(w) = dates::parse(text, today, lang) {
            assert!(w.from <= w.to, "window {w:?} ends before it starts");
        }
    }
    if let Some(n) = values::scale(text) {
        assert!(n <= 10, "pain score {n} from {text:?}");
    }
    let _ = values::yes_no(text);
    let _ = values::provider(text);
}
