//! The example net's opinion on what a first message asks for, inside the engine: it decides
//! where the rules find nothing, overrules a rule only when it clearly disagrees, never judges
//! an answer to a script's question, and is off with `set_uses(_, false)`. The vectors are the
//! scripted bag of words, so the examples below use words no rule knows ("glorp", "zibber").
//! (Its figures with the real embedding model: docs/understanding.md.)

mod support;

use std::sync::Arc;

use support::{now, FakeEhr, FakeUnderstand};
use workflows::redflags::net::{Example, ExampleNet};
use workflows::redflags::Category;
use fhir_client::PatientId;
use workflows::{ConversationState, Engine, EscalationReason, StartTrigger, TurnOutcome, Understand};

/// Said in words no keyword or reader knows; the examples call it a booking.
const BOOKING_IN_OTHER_WORDS: &str = "could you glorp me a zibber sometime";

async fn engine(ehr: Arc<FakeEhr>, intents: bool) -> Engine {
    let e = Engine::with_builtin_scripts(ehr, Arc::new(FakeUnderstand)).unwrap();
    let mut labelled = Vec::new();
    let mut add = |text: &str, flag: Option<Category>, intent: Option<&str>| {
        labelled.push(Example { text: text.into(), flag, intent: intent.map(str::to_string) });
    };
    for day in ["monday", "tuesday", "friday", "soon", "later", "please", "today", "tomorrow", "maybe", "anytime"] {
        add(&format!("glorp zibber {day}"), None, Some("book"));
        add(&format!("blarf wonky human {day}"), None, Some("asks_for_person"));
        add(&format!("parking garage entrance {day}"), None, None);
        add(&format!("crushing chest pain {day}"), Some(Category::ChestPain), None);
    }
    let texts: Vec<String> = labelled.iter().map(|x| x.text.clone()).collect();
    let vectors = FakeUnderstand.embed(&texts).await.unwrap();
    let slot = e.example_net();
    slot.set(ExampleNet::new(vectors, &labelled).unwrap());
    slot.set_uses(true, intents);
    e
}

/// A patient's conversation with the engine (the examples' intents on or off).
async fn setup(intents: bool) -> (Engine, PatientId) {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    (engine(ehr, intents).await, patient)
}

/// A new conversation's first message, and what the engine made of it.
async fn first(e: &Engine, patient: &PatientId, message: &str) -> (ConversationState, TurnOutcome) {
    let (mut st, _) = e.start(patient, None, StartTrigger::Patient, now()).await.unwrap();
    let out = e.turn(&mut st, patient, message, now()).await.unwrap();
    (st, out)
}

#[tokio::test]
async fn what_no_rule_reads_but_the_examples_call_a_booking_is_routed_to_booking() {
    assert!(workflows::understand::intent::keyword_guess(BOOKING_IN_OTHER_WORDS, &[]).is_none());
    for intents in [false, true] {
        let (e, patient) = setup(intents).await;
        let (_, out) = first(&e, &patient, BOOKING_IN_OTHER_WORDS).await;
        if intents {
            assert_eq!(out.intent.as_deref(), Some("book"));
            assert_eq!(out.script_id.as_deref(), Some("appointment"));
        } else {
            // Without the examples' opinion the patient is asked (the menu).
            assert_eq!(out.intent, None, "{:?}", out.replies);
            assert!(out.replies.iter().any(|r| !r.options.is_empty()), "the menu is offered");
        }
    }
}

#[tokio::test]
async fn a_person_asked_for_in_words_no_rule_knows_is_handed_off() {
    let (e, patient) = setup(true).await;
    let (_, out) = first(&e, &patient, "blarf me a wonky human").await;
    assert_eq!(out.escalation.map(|x| x.reason), Some(EscalationReason::AskedForPerson));
}

#[tokio::test]
async fn a_rule_stands_unless_the_examples_clearly_say_otherwise() {
    let (e, patient) = setup(true).await;
    // The refill keyword, and nothing like any example: the rule stands.
    let (_, out) = first(&e, &patient, "I need a refill of my metformin").await;
    assert_eq!(out.intent.as_deref(), Some("refill"));
    // "Parking" is no request, but the booking keyword "appointment" hits; the examples
    // (directions, nothing asked) clearly disagree, so the patient is asked instead.
    let message = "parking garage entrance for my appointment tuesday";
    assert_eq!(workflows::understand::intent::keyword_guess(message, &e.latest()).map(|g| g.intent).as_deref(), Some("book"));
    let (_, out) = first(&e, &patient, message).await;
    assert_eq!(out.intent, None, "{:?}", out.replies);
}

#[tokio::test]
async fn an_intent_no_example_asks_for_is_never_overruled() {
    // These examples never ask for a refill (as they never ask for a site's own intents): a
    // refill read by its keyword stands, however booking-like the rest of the message.
    let (e, patient) = setup(true).await;
    let (_, out) = first(&e, &patient, "refill glorp zibber glorp zibber").await;
    assert_eq!(out.intent.as_deref(), Some("refill"));
}

#[tokio::test]
async fn answers_to_a_scripts_question_are_not_judged() {
    let (e, patient) = setup(true).await;
    let (mut st, out) = first(&e, &patient, "I would like to book a checkup").await;
    assert_eq!(out.intent.as_deref(), Some("book"));
    assert!(st.waiting_at.is_some(), "the booking script asks something: {:?}", out.replies);
    // Mid-script, words the examples call a request for a person are just an answer.
    let out = e.turn(&mut st, &patient, "blarf wonky human", now()).await.unwrap();
    assert_ne!(out.escalation.map(|x| x.reason), Some(EscalationReason::AskedForPerson));
}
