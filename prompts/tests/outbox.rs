//! The messages a patient gets when a request kept while the EHR was down is finally made (or
//! cannot be): one per action, in both languages, naming what it was about.

use prompts::{outbox_done, outbox_failed, Lang};

#[test]
fn every_write_action_has_a_completion_message_in_both_languages_naming_the_request() {
    for action in ["book", "reschedule", "cancel", "request_refill", "submit_questionnaire"] {
        let en = outbox_done(Lang::En, action, "Tue 1 Dec 09:00").unwrap();
        let es = outbox_done(Lang::Es, action, "Tue 1 Dec 09:00").unwrap();
        assert_ne!(en, es, "{action}");
        assert!(!en.contains('{') && !es.contains('{'), "{action}: {en} / {es}");
        if action != "submit_questionnaire" {
            assert!(en.contains("Tue 1 Dec 09:00") && es.contains("Tue 1 Dec 09:00"), "{action}");
        }
    }
    assert!(outbox_done(Lang::En, "find_slots", "x").is_none(), "a lookup is never kept");
}

#[test]
fn a_write_that_could_not_be_made_says_a_person_will_follow_up() {
    let en = outbox_failed(Lang::En, "Tue 1 Dec 09:00");
    assert!(en.contains("Tue 1 Dec 09:00") && en.contains("team"), "{en}");
    let es = outbox_failed(Lang::Es, "Tue 1 Dec 09:00");
    assert!(es.contains("equipo"), "{es}");
}
