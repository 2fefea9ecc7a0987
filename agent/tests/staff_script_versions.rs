//! Publish and roll back while conversations are open: each open conversation keeps the script
//! version it started on, and new conversations get the newest. The real engine runs the real
//! discharge follow-up script (the model and the EHR are fakes: yes/no answers need neither).

use std::sync::Arc;

use agent::chat::{Dialogue, Opening};
use agent::dialogue::EngineDialogue;
use async_trait::async_trait;
use chrono::Utc;
use fhir_client::*;
use serde_json::Value;
use workflows::Lang;

struct NameOnlyEhr;

#[async_trait]
impl Ehr for NameOnlyEhr {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
    async fn patient_name(&self, _: &PatientId) -> Result<Option<String>> {
        Ok(Some("Ana".into()))
    }
    async fn free_slots(&self, _: &SlotQuery) -> Result<Vec<FreeSlot>> {
        panic!("not used by this story")
    }
    async fn book(&self, _: &PatientId, _: &SlotId, _: &IdempotencyKey) -> Result<Appointment> {
        panic!("not used by this story")
    }
    async fn upcoming_appointments(&self, _: &PatientId, _: chrono::DateTime<chrono::Utc>) -> Result<Vec<Appointment>> {
        panic!("not used by this story")
    }
    async fn reschedule(&self, _: &PatientId, _: &AppointmentId, _: &SlotId, _: &IdempotencyKey) -> Result<Appointment> {
        panic!("not used by this story")
    }
    async fn cancel(&self, _: &PatientId, _: &AppointmentId) -> Result<()> {
        panic!("not used by this story")
    }
    async fn active_medications(&self, _: &PatientId) -> Result<Vec<ActiveMedication>> {
        panic!("not used by this story")
    }
    async fn request_refill(&self, _: &PatientId, _: &MedicationRequestId, _: &str, _: &IdempotencyKey) -> Result<RefillTask> {
        panic!("not used by this story")
    }
    async fn refill_task(&self, _: &PatientId, _: &TaskId) -> Result<RefillTask> {
        panic!("not used by this story")
    }
    async fn recent_discharges(&self, _: &PatientId, _: chrono::DateTime<Utc>) -> Result<Vec<Discharge>> {
        panic!("not used by this story")
    }
    async fn submit_questionnaire_response(
        &self,
        _: &PatientId,
        _: &str,
        _: Option<&EncounterId>,
        _: &[Answer],
        _: &IdempotencyKey,
    ) -> Result<ResourceRef> {
        panic!("not used by this story")
    }
}

/// Yes/no answers are read by rules; anything reaching the model here is a failure.
struct NoUnderstanding;

#[async_trait]
impl workflows::Understand for NoUnderstanding {
    async fn embed(&self, _: &[String]) -> workflows::Result<Vec<Vec<f32>>> {
        Err(workflows::Error::Overloaded)
    }
    async fn choose(&self, _: &str, _: &str, _: &[String]) -> workflows::Result<(usize, Vec<f32>)> {
        Err(workflows::Error::Overloaded)
    }
    async fn extract(&self, _: &str, _: &str, _: &Value) -> workflows::Result<Value> {
        Err(workflows::Error::Overloaded)
    }
    async fn phrase(&self, _: &str, facts: &str) -> workflows::Result<String> {
        Ok(facts.to_owned())
    }
}

const V2_QUESTION: &str = "VERSION TWO: how is your pain from 0 to 10?";

fn builtin_followup() -> &'static str {
    workflows::script::BUILTIN_SOURCES.iter().find(|(p, _)| p.ends_with("discharge_followup.toml")).unwrap().1
}

fn compile(version: i64, edit: impl Fn(&str) -> String) -> workflows::Script {
    let src = edit(&agent::staff::scripts::with_version(builtin_followup(), version).unwrap());
    workflows::script::compile("published.toml", &src).unwrap()
}

fn v2_source(src: &str) -> String {
    let start = src.find("[strings.q_pain]\nen = \"").unwrap() + "[strings.q_pain]\nen = \"".len();
    let end = start + src[start..].find('"').unwrap();
    format!("{}{V2_QUESTION}{}", &src[..start], &src[end..])
}

struct Conv {
    id: String,
    state: Value,
}

async fn open(d: &EngineDialogue, id: &str) -> (Conv, Option<u32>) {
    let patient = PatientId::parse("pat-1").unwrap();
    let opening = Opening::Discharge(EncounterId::parse("enc-1").unwrap());
    let (state, out) = d.open(id, &patient, Lang::En, opening, Utc::now()).await.unwrap();
    (Conv { id: id.into(), state }, out.script_version)
}

/// One turn; returns (script version, the replies' text).
async fn say(d: &EngineDialogue, c: &mut Conv, text: &str) -> (Option<u32>, String) {
    let patient = PatientId::parse("pat-1").unwrap();
    let (state, out) = d.turn(&c.id, c.state.clone(), &patient, text, Utc::now()).await.unwrap();
    c.state = state;
    (out.script_version, out.replies.iter().map(|r| r.text.clone()).collect::<Vec<_>>().join(" | "))
}

#[tokio::test]
async fn open_conversations_keep_their_version_through_publish_and_roll_back() {
    let ehr: Arc<dyn Ehr> = Arc::new(NameOnlyEhr);
    let engine = workflows::Engine::new(workflows::script::builtin().unwrap(), ehr.clone(), Arc::new(NoUnderstanding));
    let d = EngineDialogue::reloadable(Arc::new(engine), ehr);

    let (mut a, va) = open(&d, "conv-a").await;
    assert_eq!(va, Some(1));
    assert!(d.add_script(compile(2, v2_source)), "publish version 2");
    let (mut b, vb) = open(&d, "conv-b").await;
    assert_eq!(vb, Some(2), "new conversations get the published version");

    let (v, text) = say(&d, &mut a, "no").await;
    assert_eq!(v, Some(1));
    assert!(!text.contains(V2_QUESTION) && text.to_lowercase().contains("pain"), "{text}");
    let (v, text) = say(&d, &mut b, "no").await;
    assert_eq!(v, Some(2));
    assert!(text.contains(V2_QUESTION), "{text}");

    // Roll back: version 1's source published again as version 3.
    assert!(d.add_script(compile(3, |s| s.to_owned())), "roll back");
    let (mut c, vc) = open(&d, "conv-c").await;
    assert_eq!(vc, Some(3));
    let (v, text) = say(&d, &mut c, "no").await;
    assert_eq!(v, Some(3));
    assert!(!text.contains(V2_QUESTION), "{text}");
    let (v, _) = say(&d, &mut b, "3").await;
    assert_eq!(v, Some(2), "the conversation on version 2 stays on it after the roll back");
}
