//! Which script a first message starts, decided by the built-in scripts' keywords without the
//! model: a change or cancel cue beats a booking cue (`yields_to`), a denied keyword does not
//! count, and a message nothing recognises is left for the patient to choose.

mod support;

use support::FakeUnderstand;
use workflows::understand::intent::{classify, ExampleCache};
use workflows::script::builtin;

async fn route(text: &str) -> Option<(String, &'static str)> {
    let scripts = builtin().expect("builtin scripts");
    let refs: Vec<_> = scripts.iter().collect();
    let guess = classify(text, &refs, &FakeUnderstand, &ExampleCache::default()).await.expect("classify");
    guess.map(|g| (g.intent, g.source))
}

#[tokio::test]
async fn keywords_route_paraphrases_in_both_languages() {
    for (text, intent) in [
        ("is there anything open on monday morning", "book"),
        ("necesito una cita para mi hijo", "book"),
        ("could you push my 3pm to thursday", "reschedule"),
        ("quiero cambiar la fecha de mi consulta", "reschedule"),
        ("we won't be coming on friday", "cancel"),
        ("ya no voy a ir a la cita del lunes", "cancel"),
        ("I'm almost out of my inhaler", "refill"),
        ("se me está acabando la insulina", "refill"),
        ("can I get her appointment moved to Monday", "reschedule"),
        ("I'd like to move Monday's appointment", "reschedule"),
        ("¿me pueden pasar la cita a telemedicina?", "reschedule"),
        ("no voy a poder llegar el martes, bórrenme de la agenda", "cancel"),
    ] {
        assert_eq!(route(text).await, Some((intent.to_string(), "rule")), "{text}");
    }
}

#[tokio::test]
async fn a_booking_cue_yields_to_a_change_and_a_cancellation_to_a_new_time() {
    assert_eq!(route("cancel my appointment for the checkup").await, Some(("cancel".into(), "rule")));
    assert_eq!(route("I can't come thursday, is there another day?").await, Some(("reschedule".into(), "rule")));
}

#[tokio::test]
async fn a_denied_keyword_does_not_count() {
    assert_eq!(route("please cancel it, I don't want to reschedule").await, Some(("cancel".into(), "rule")));
    assert_ne!(route("no quiero cancelar, solo tengo una pregunta").await.map(|g| g.0), Some("cancel".into()));
}

/// "Cancer" is a word of its own, not a typo of "cancel": a refill for a patient with cancer
/// is a refill; "operada" is not "operadora" (both found in corpus N).
#[test]
fn cancer_is_not_a_typo_of_cancel() {
    assert!(workflows::text::fuzzy_eq("cancl", "cancel"));
    assert!(!workflows::text::fuzzy_eq("cancer", "cancel"));
    // Nor is an operated knee a call for the operator.
    assert!(!workflows::understand::values::asks_for_person("Me duele la rodilla operada cuando subo escaleras"));
    assert!(!workflows::understand::values::asks_for_person("I was operated on last week and the scar itches"));
    assert!(!workflows::understand::values::asks_for_person("me operaron de la rodilla hace una semana y me duele"));
    assert!(workflows::understand::values::asks_for_person("operator please"));
}

/// "¿Puedo ir a trabajar?" asks whether it is safe to work, not for a visit ("puedo ir" is also
/// how a booking starts; found in corpus M).
#[test]
fn asking_whether_one_may_go_back_to_work_is_advice() {
    use workflows::understand::values::asks_for_advice;
    assert!(asks_for_advice("Tengo un poquito de dolor de garganta y mocos, ¿puedo ir a trabajar?"));
    assert!(asks_for_advice("when can I go back to school after the surgery?"));
    assert!(!asks_for_advice("¿puedo ir el martes a mi cita?"));
}
