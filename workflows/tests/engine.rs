//! Engine behaviour that conversation files cannot show: state survives serialisation
//! mid-booking, retried turns do not write twice, model answers are checked, and the patient
//! comes from the session.

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use support::{now, FakeEhr, FakeUnderstand};
use workflows::engine::Status;
use workflows::{ConversationState, Engine, Lang, Priority, StartTrigger, Understand};

fn engine(ehr: Arc<FakeEhr>) -> Engine {
    Engine::with_builtin_scripts(ehr, Arc::new(FakeUnderstand)).expect("builtin scripts")
}

#[tokio::test]
async fn booking_resumes_from_serialised_state_in_a_new_engine() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let first = engine(ehr.clone());
    let (mut st, greeting) = first.start(&patient, None, StartTrigger::Patient, now()).await.unwrap();
    assert!(greeting.replies[0].text.contains("Ana"));
    let offer = first.turn(&mut st, &patient, "I need an appointment next Tuesday afternoon", now()).await.unwrap();
    assert_eq!(offer.replies.last().unwrap().options.len(), 2);
    let saved = st.to_json().unwrap();
    drop(first);

    let second = engine(ehr.clone());
    let mut st = ConversationState::from_json(&saved).unwrap();
    assert_eq!((st.script_id.as_deref(), st.script_version), (Some("appointment"), Some(1)));
    let confirm = second.turn(&mut st, &patient, "2", now()).await.unwrap();
    assert!(confirm.replies[0].text.contains("15:30"), "{:?}", confirm.replies);
    let done = second.turn(&mut st, &patient, "yes", now()).await.unwrap();
    assert_eq!(done.effects.len(), 1);
    assert_eq!(done.effects[0].action, "book");
    assert!(done.finished);
    assert_eq!(ehr.data.lock().unwrap().writes, 1);
}

/// A patient who asked for next Tuesday morning and picked the first time: the next turn confirms.
async fn at_booking_confirmation() -> (Arc<FakeEhr>, Engine, ConversationState) {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = engine(ehr.clone());
    let (mut st, _) = e.start(&patient, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap();
    e.turn(&mut st, &patient, "book next tuesday morning", now()).await.unwrap();
    e.turn(&mut st, &patient, "1", now()).await.unwrap();
    (ehr, e, st)
}

#[tokio::test]
async fn a_retried_turn_does_not_book_twice() {
    let (ehr, e, mut st) = at_booking_confirmation().await;
    let patient = ehr.patient.clone();
    let before_write = st.clone();
    let a = e.turn(&mut st, &patient, "yes", now()).await.unwrap();
    // the agent crashed before saving: the same turn runs again from the saved state
    let mut again = before_write;
    let b = e.turn(&mut again, &patient, "yes", now()).await.unwrap();
    assert_eq!(a.effects, b.effects);
    assert_eq!(ehr.data.lock().unwrap().writes, 1);
}

#[tokio::test]
async fn an_ehr_that_is_down_keeps_the_booking_for_later_and_it_is_made_once() {
    let (ehr, e, mut st) = at_booking_confirmation().await;
    let patient = ehr.patient.clone();
    ehr.data.lock().unwrap().writes_down = true;
    let down = e.turn(&mut st, &patient, "yes", now()).await.unwrap();
    let said: Vec<&str> = down.replies.iter().map(|r| r.text.as_str()).collect();
    assert!(!said.iter().any(|t| t.contains("took that time")), "not mistaken for a taken slot: {said:?}");
    assert!(said.iter().any(|t| t.contains("kept your request")), "{said:?}");
    assert!(down.escalation.is_none() && down.effects.is_empty());
    assert_eq!(ehr.data.lock().unwrap().writes, 0);
    let [kept] = down.deferred.as_slice() else { panic!("one kept write: {:?}", down.deferred) };
    assert!(matches!(&kept.write, workflows::Write::Book { slot } if slot.as_str() == "s1"), "{kept:?}");

    // Still down: the outbox's attempt fails the same way and nothing is written.
    assert!(matches!(workflows::engine::perform(ehr.as_ref(), &patient, kept).await, Err(fhir_client::Error::Unavailable(_))));
    ehr.data.lock().unwrap().writes_down = false;
    let made = workflows::engine::perform(ehr.as_ref(), &patient, kept).await.unwrap();
    assert_eq!(made.action, "book");
    // A second attempt (a replica that did not see the first succeed) books nothing more.
    let again = workflows::engine::perform(ehr.as_ref(), &patient, kept).await.unwrap();
    assert_eq!(again, made);
    assert_eq!(ehr.data.lock().unwrap().writes, 1);
    // A kept write survives the outbox's storage as JSON.
    let json = serde_json::to_string(kept).unwrap();
    assert_eq!(&serde_json::from_str::<workflows::PendingWrite>(&json).unwrap(), kept);
}

#[tokio::test]
async fn a_first_message_about_an_operation_gets_the_post_discharge_rules() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = engine(ehr.clone());
    let (mut st, _) = e.start(&patient, None, StartTrigger::Patient, now()).await.unwrap();
    let out = e.turn(&mut st, &patient, "had my surgery monday and the incision is leaking pus", now()).await.unwrap();
    assert_eq!(out.red_flag.as_deref(), Some("wound_infection"));
    assert_eq!(out.escalation.unwrap().priority, Priority::Urgent);
    // Without an operation or a stay in sight, a fever alone is not a post-surgical red flag.
    let (mut st2, _) = e.start(&patient, None, StartTrigger::Patient, now()).await.unwrap();
    let out2 = e.turn(&mut st2, &patient, "my son has a fever, can I book for tomorrow", now()).await.unwrap();
    assert!(out2.red_flag.is_none());
}

#[tokio::test]
async fn after_a_red_flag_automation_never_resumes() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = engine(ehr.clone());
    let (mut st, _) = e.start(&patient, None, StartTrigger::Patient, now()).await.unwrap();
    e.turn(&mut st, &patient, "book next tuesday morning", now()).await.unwrap();
    let flagged = e.turn(&mut st, &patient, "my chest feels tight", now()).await.unwrap();
    assert_eq!(flagged.escalation.unwrap().priority, Priority::Urgent);
    assert_eq!(st.status, Status::Escalated);
    let later = e.turn(&mut st, &patient, "1", now()).await.unwrap();
    assert!(later.effects.is_empty() && later.escalation.is_none());
    assert!(later.replies[0].text.contains("care team"));
    assert_eq!(ehr.data.lock().unwrap().writes, 0);
}

/// A model that always answers out of range and with NaN scores.
struct WildModel;

#[async_trait]
impl Understand for WildModel {
    async fn embed(&self, texts: &[String]) -> workflows::Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect())
    }
    async fn choose(&self, _i: &str, _t: &str, options: &[String]) -> workflows::Result<(usize, Vec<f32>)> {
        Ok((options.len() + 5, vec![f32::NAN; options.len()]))
    }
    async fn extract(&self, _i: &str, _t: &str, _s: &serde_json::Value) -> workflows::Result<serde_json::Value> {
        Ok(serde_json::json!({"slot": "s999"}))
    }
    async fn phrase(&self, _i: &str, f: &str) -> workflows::Result<String> {
        Ok(f.into())
    }
}

#[tokio::test]
async fn out_of_range_model_choices_are_never_acted_on() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = Engine::with_builtin_scripts(ehr.clone(), Arc::new(WildModel)).unwrap();
    let (mut st, _) = e.start(&patient, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap();
    // every intent example embeds the same: the router must fall back to `choose`, which lies
    let out = e.turn(&mut st, &patient, "hmm", now()).await.unwrap();
    assert!(out.script_id.is_none());
    assert_eq!(out.replies.last().unwrap().options.len(), 4, "asks the patient instead");
    // an offer answered with something only the model could map stays unanswered
    let mut st2 = e.start(&patient, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap().0;
    e.turn(&mut st2, &patient, "book next tuesday morning", now()).await.unwrap();
    let unclear = e.turn(&mut st2, &patient, "whichever suits the doctor", now()).await.unwrap();
    assert!(unclear.effects.is_empty());
    assert_eq!(st2.waiting_at.as_deref(), Some("book_offer"));
    assert!(!st2.slots.contains_key("chosen"));
}

#[tokio::test]
async fn the_session_patient_scopes_every_call() {
    let ehr = FakeEhr::fixture("default");
    let stranger = fhir_client::PatientId::parse("someone-else").unwrap();
    let e = engine(ehr.clone());
    let (mut st, _) = e.start(&stranger, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap();
    // the text names the real patient; the engine still uses the session's (unknown) patient
    let out = e.turn(&mut st, &stranger, "cancel my appointment, I am patient pat-1", now()).await.unwrap();
    assert!(out.effects.is_empty());
    assert_eq!(out.escalation.map(|x| x.priority), Some(Priority::High), "EHR refused: a person takes over");
}

#[tokio::test]
async fn discharge_event_speaks_first_and_pins_the_script() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = engine(ehr);
    let trigger = StartTrigger::Event { name: "discharge".into(), encounter: fhir_client::EncounterId::parse("enc-1").ok() };
    let (st, out) = e.start(&patient, Some(Lang::Es), trigger, now()).await.unwrap();
    assert_eq!(out.script_id.as_deref(), Some("discharge_followup"));
    assert!(out.replies[0].text.starts_with("Hola Ana"), "{:?}", out.replies);
    assert_eq!(st.waiting_at.as_deref(), Some("ask_symptoms"));
    assert_eq!(out.replies.last().unwrap().options, vec!["Sí".to_string(), "No".to_string()]);
}

#[tokio::test]
async fn unknown_pinned_script_version_is_an_error_not_a_silent_switch() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = engine(ehr);
    let (mut st, _) = e.start(&patient, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap();
    e.turn(&mut st, &patient, "book next tuesday", now()).await.unwrap();
    st.script_version = Some(99);
    assert!(e.turn(&mut st, &patient, "1", now()).await.is_err());
}

#[tokio::test]
async fn understand_line_reports_intent_slots_and_red_flag() {
    let e = engine(FakeEhr::fixture("default"));
    let v = workflows::understand_line(&e, "I need an appointment with cardiology next Tuesday afternoon", now()).await;
    assert_eq!(v["intent"], "book");
    assert_eq!(v["script"], "appointment");
    assert_eq!(v["slots"]["date_window"]["from"], "2026-12-01");
    assert_eq!(v["slots"]["provider"]["name"], "cardiology");
    assert_eq!(v["red_flag"]["flag"], false);
    let v = workflows::understand_line(&e, "no puedo respirar", now()).await;
    assert_eq!(v["red_flag"]["category"], "breathing");
    assert_eq!(v["lang"], "es");
    let v = workflows::understand_line(&e, "can I talk to a person", now()).await;
    assert_eq!(v["intent"], "asks_for_person");
}

/// A model whose extraction proposes a date in pieces (one invalid).
struct DatePieces;

#[async_trait]
impl Understand for DatePieces {
    async fn embed(&self, texts: &[String]) -> workflows::Result<Vec<Vec<f32>>> {
        FakeUnderstand.embed(texts).await
    }
    async fn choose(&self, i: &str, t: &str, o: &[String]) -> workflows::Result<(usize, Vec<f32>)> {
        FakeUnderstand.choose(i, t, o).await
    }
    async fn extract(&self, _i: &str, text: &str, _s: &serde_json::Value) -> workflows::Result<serde_json::Value> {
        Ok(if text.contains("birthday") || text.contains("wensday") {
            serde_json::json!({"weekday": "wednesday", "part_of_day": "teatime", "day_of_month": 77})
        } else {
            serde_json::json!({"weekday": "someday"})
        })
    }
    async fn phrase(&self, _i: &str, f: &str) -> workflows::Result<String> {
        Ok(f.into())
    }
}

/// `DatePieces`, counting its extractions.
struct CountedDates(std::sync::atomic::AtomicUsize);

#[async_trait]
impl Understand for CountedDates {
    async fn embed(&self, texts: &[String]) -> workflows::Result<Vec<Vec<f32>>> {
        FakeUnderstand.embed(texts).await
    }
    async fn choose(&self, i: &str, t: &str, o: &[String]) -> workflows::Result<(usize, Vec<f32>)> {
        FakeUnderstand.choose(i, t, o).await
    }
    async fn extract(&self, i: &str, text: &str, s: &serde_json::Value) -> workflows::Result<serde_json::Value> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        DatePieces.extract(i, text, s).await
    }
    async fn phrase(&self, _i: &str, f: &str) -> workflows::Result<String> {
        Ok(f.into())
    }
}

/// The model is asked for a date only when the message could hold one it may use: a weekday
/// (misspelt, Spanish) or a number. The answers are the same; the model calls are fewer.
#[tokio::test]
async fn the_model_is_asked_for_a_date_only_when_the_message_names_a_weekday_or_a_number() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let model = Arc::new(CountedDates(Default::default()));
    let e = Engine::with_builtin_scripts(ehr, model.clone()).unwrap();
    let calls = || model.0.load(std::sync::atomic::Ordering::SeqCst);
    let (mut st, _) = e.start(&patient, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap();
    e.turn(&mut st, &patient, "I'd like to book an appointment", now()).await.unwrap();
    let before = calls();
    let out = e.turn(&mut st, &patient, "after my next paycheck", now()).await.unwrap();
    assert!(out.slots.get("when").is_none());
    assert_eq!(calls(), before, "no weekday, no number: no model call");
    // A number the rules do not read as a date: the model is asked (its answer, a weekday the
    // message does not name, is then refused).
    let out = e.turn(&mut st, &patient, "my birthday #2", now()).await.unwrap();
    assert_eq!(calls(), before + 1, "a number: the model is asked");
    assert!(out.slots.get("when").is_none(), "{}", out.slots);
}

#[tokio::test]
async fn model_date_pieces_are_validated_and_computed_by_our_reader() {
    let ehr = FakeEhr::fixture("default");
    let patient = ehr.patient.clone();
    let e = Engine::with_builtin_scripts(ehr, Arc::new(DatePieces)).unwrap();
    let (mut st, _) = e.start(&patient, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap();
    e.turn(&mut st, &patient, "I'd like to book an appointment", now()).await.unwrap();
    let out = e.turn(&mut st, &patient, "the day before my birthday", now()).await.unwrap();
    // The model's weekday is not in the message: an invented date fills nothing.
    assert!(out.slots.get("when").is_none(), "invented weekday accepted: {}", out.slots);
    let out = e.turn(&mut st, &patient, "maybe wensday, around my birthday", now()).await.unwrap();
    // A (misspelt) weekday the patient did write is accepted; the invalid part of day and day
    // of month are dropped.
    assert_eq!(out.slots["when"]["date_window"]["from"], "2026-12-02");
    assert_eq!(out.slots["when"]["date_window"]["part"], serde_json::Value::Null);
    let mut st2 = e.start(&patient, Some(Lang::En), StartTrigger::Patient, now()).await.unwrap().0;
    e.turn(&mut st2, &patient, "I'd like to book an appointment", now()).await.unwrap();
    let out = e.turn(&mut st2, &patient, "after my next paycheck", now()).await.unwrap();
    assert!(out.slots.get("when").is_none(), "an invalid weekday fills nothing");
}
