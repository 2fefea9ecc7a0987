//! The red-flag example net inside the engine: a message the rules miss but that lies among
//! flagged examples is escalated like any red flag; without the net, or for a one-word answer,
//! the rules stand alone. (Its figures with the real embedding model: docs/understanding.md
//! and tests/tests/understand_corpus.rs.)

mod support;

use std::sync::Arc;

use support::{now, FakeEhr, FakeUnderstand};
use workflows::redflags::net::{examples, ExampleNet};
use workflows::{Engine, EscalationReason, Priority, StartTrigger, Understand};

/// A report of breathlessness the rules do not read ("sob" is too short to match safely); it
/// is one of the shipped flagged examples.
const MISSED_BY_RULES: &str = "sob since this am, worse lying flat";

async fn engine_with_net(ehr: Arc<FakeEhr>, net: bool) -> Engine {
    let e = Engine::with_builtin_scripts(ehr, Arc::new(FakeUnderstand)).unwrap();
    if net {
        let labelled = examples();
        let texts: Vec<String> = labelled.iter().map(|x| x.text.clone()).collect();
        let vectors = FakeUnderstand.embed(&texts).await.unwrap();
        e.example_net().set(ExampleNet::new(vectors, &labelled).unwrap());
    }
    e
}

#[tokio::test]
async fn what_the_rules_miss_but_the_examples_hold_is_escalated_as_a_red_flag() {
    assert!(workflows::redflags::first(MISSED_BY_RULES, &[]).is_none(), "the rules must miss it for this test to mean anything");
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    for net in [false, true] {
        let e = engine_with_net(ehr.clone(), net).await;
        let (mut st, _) = e.start(&patient, None, StartTrigger::Patient, now()).await.unwrap();
        let out = e.turn(&mut st, &patient, MISSED_BY_RULES, now()).await.unwrap();
        // The category is the neighbours' (meaningless with these bag-of-words vectors).
        assert_eq!(out.red_flag.is_some(), net, "net installed: {net}");
        if net {
            let escalation = out.escalation.unwrap();
            assert_eq!(escalation.priority, Priority::Urgent);
            // The coordinator is told no rule matched.
            let EscalationReason::RedFlag(detail) = escalation.reason else { panic!("not a red flag") };
            assert!(detail.ends_with("(like flagged messages; no rule matched)"), "{detail}");
        }
    }
}

#[tokio::test]
async fn requests_and_short_answers_are_not_flagged_by_the_examples() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = engine_with_net(ehr, true).await;
    for message in ["I would like to book a checkup next month", "yes", "necesito renovar mi receta de metformina"] {
        let (mut st, _) = e.start(&patient, None, StartTrigger::Patient, now()).await.unwrap();
        let out = e.turn(&mut st, &patient, message, now()).await.unwrap();
        assert!(out.red_flag.is_none(), "{message:?} flagged {:?}", out.red_flag);
    }
}
