//! The refill status messages: one per outcome in each language, the status filled in where
//! the template names it.

use prompts::{refill_status, Lang};

#[test]
fn each_refill_outcome_has_its_own_message_in_both_languages() {
    for lang in [Lang::En, Lang::Es] {
        let texts: Vec<String> = ["accepted", "completed", "rejected", "on-hold"].iter().map(|s| refill_status(lang, s)).collect();
        for (i, t) in texts.iter().enumerate() {
            assert!(!t.is_empty() && !t.contains('{'), "{lang:?}: {t}");
            assert!(texts[i + 1..].iter().all(|u| u != t), "{lang:?}: {t} repeated");
        }
        assert!(texts[3].contains("\"on-hold\""), "{lang:?}: {}", texts[3]);
        assert_eq!(refill_status(lang, "cancelled"), texts[2], "cancelled reads as not approved");
    }
    assert_ne!(refill_status(Lang::En, "accepted"), refill_status(Lang::Es, "accepted"));
}
