//! Background follow-ups on SQLite and PostgreSQL with the fake clock: a discharge follow-up
//! nobody answers becomes exactly one `no_reply` case at N hours (none earlier, none twice,
//! none once the patient replied, one however many sweeps race); a refill Task whose status
//! is changed in the real FHIR server (sekmet) is told to the patient once per change, at the
//! next poll by the service clock, in the conversation's language.

mod staff_support;

use std::sync::Arc;
use std::time::Duration;

use agent::chat::{self, Dialogue, DialogueError, Opening};
use agent::followups::{self, no_reply, refills};
use agent::clock::Clock;
use agent::state::AppState;
use agent::store::followups::RefillNotice;
use agent::store::AuditEntry;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fhir_client::{EncounterId, Ehr, IdempotencyKey, PatientId};
use serde_json::{json, Value};
use staff_support::{App, Db};
use workflows::{Effect, Lang, Reply, TurnOutcome};

const HOUR: i64 = 3_600_000;

fn patient(id: &str) -> PatientId {
    PatientId::parse(id).unwrap()
}

async fn follow_up(state: &AppState, who: &PatientId, encounter: &str) -> String {
    let enc = EncounterId::parse(encounter).unwrap();
    agent::outreach::start_followup(state, who, &enc, Lang::En).await.unwrap().expect("a new follow-up").conversation_id
}

async fn unanswered_followup_escalates_once_at_n_hours(db: Db) {
    let app = App::start(db).await;
    let state = &app.state;
    let n = state.policy.outreach.no_reply_hours;
    assert_eq!(n, 24, "the default setting");
    let ana = patient("pat-ana");
    let silent = follow_up(state, &ana, "enc-silent").await;
    let replied = follow_up(state, &patient("pat-ben"), "enc-replied").await;
    chat::post(state, &patient("pat-ben"), &replied, "I am doing fine, thanks", None).await.unwrap();

    app.clock.advance_ms(n * HOUR - 1);
    assert!(no_reply::sweep(state).await.unwrap().is_empty(), "nothing before N hours");
    assert!(state.store.escalations_of(&silent).await.unwrap().is_empty());

    app.clock.advance_ms(1);
    let raised = no_reply::sweep(state).await.unwrap();
    assert_eq!(raised.len(), 1, "one case at N hours");
    let cases = state.store.escalations_of(&silent).await.unwrap();
    assert_eq!(cases.len(), 1);
    let reason: Value = serde_json::from_str(&cases[0].1).unwrap();
    assert_eq!((cases[0].0.as_str(), reason["kind"].as_str(), cases[0].2.as_str()), ("normal", Some("no_reply"), "new"));
    let queue = agent::staff::queue::list(state).await.unwrap();
    assert!(queue.iter().any(|c| c.id == raised[0] && c.conversation_id == silent && c.reason["kind"] == "no_reply"));

    app.clock.advance_ms(5 * HOUR);
    assert!(no_reply::sweep(state).await.unwrap().is_empty(), "never twice");
    assert_eq!(state.store.escalations_of(&silent).await.unwrap().len(), 1);
    assert!(state.store.escalations_of(&replied).await.unwrap().is_empty(), "none once the patient replied");
    let audit = state.store.audit_range(1, 1000).await.unwrap();
    assert_eq!(audit.iter().filter(|r| r.action == format!("outreach.no_reply/{silent}")).count(), 1, "the case is audited once");

    // Replicas sweeping at the same moment still raise one case.
    let late = follow_up(state, &patient("pat-cy"), "enc-race").await;
    app.clock.advance_ms(n * HOUR);
    let (a, b, c) = tokio::join!(no_reply::sweep(state), no_reply::sweep(state), no_reply::sweep(state));
    assert_eq!(a.unwrap().len() + b.unwrap().len() + c.unwrap().len(), 1);
    assert_eq!(state.store.escalations_of(&late).await.unwrap().len(), 1);
}

#[tokio::test]
async fn unanswered_followup_escalates_once_at_n_hours_sqlite() {
    unanswered_followup_escalates_once_at_n_hours(Db::Sqlite).await;
}

#[tokio::test]
async fn unanswered_followup_escalates_once_at_n_hours_postgres() {
    unanswered_followup_escalates_once_at_n_hours(Db::Postgres).await;
}

/// The server's own sweep (spawned by `app::run`) raises the case once the clock passes N hours.
#[tokio::test]
async fn running_service_raises_the_no_reply_case_by_its_clock() {
    let app = App::start_with(Db::Sqlite, 50).await;
    let conv = follow_up(&app.state, &patient("pat-dee"), "enc-dee").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.state.store.escalations_of(&conv).await.unwrap().is_empty());
    app.clock.advance_ms(24 * HOUR);
    assert!(wait_for(|| async { app.state.store.escalations_of(&conv).await.unwrap().len() == 1 }).await);
}

async fn wait_for<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Stands in for the refill script: any message requests a refill of the patient's
/// levothyroxine in the real EHR and reports the Task as the turn's FHIR effect.
struct RefillDialogue {
    ehr: Arc<dyn Ehr>,
}

fn said(text: &str, effects: Vec<Effect>) -> TurnOutcome {
    TurnOutcome {
        replies: vec![Reply { text: text.into(), options: vec![] }],
        escalation: None,
        effects,
        intent: None,
        slots: Value::Null,
        red_flag: None,
        confidence: None,
        script_id: Some("refill".into()),
        script_version: Some(1),
        finished: false,
        trace: vec![],
        deferred: vec![],
    }
}

#[async_trait]
impl Dialogue for RefillDialogue {
    async fn open(&self, _: &str, _: &PatientId, lang: Lang, _: Opening, _: DateTime<Utc>) -> Result<(Value, TurnOutcome), DialogueError> {
        Ok((json!({ "status": "active", "lang": lang }), said("hello", vec![])))
    }

    async fn turn(&self, conv: &str, st: Value, who: &PatientId, _: &str, _: DateTime<Utc>) -> Result<(Value, TurnOutcome), DialogueError> {
        let meds = self.ehr.active_medications(who).await.map_err(|e| DialogueError::Other(e.into()))?;
        let med = meds.into_iter().find(|m| m.name.starts_with("Levo")).expect("the seed's levothyroxine");
        let key = IdempotencyKey(format!("refill-{conv}"));
        let task = self.ehr.request_refill(who, &med.request, "running low", &key).await.map_err(|e| DialogueError::Other(e.into()))?;
        let effect = Effect { action: "request_refill".into(), resource: format!("Task/{}", task.id) };
        Ok((st, said("requested", vec![effect])))
    }
}

/// A plain FHIR update of the Task's status, as the prescriber's system would make it.
async fn set_task_status(base: &str, task: &str, status: &str) {
    let http = reqwest::Client::new();
    let url = format!("{base}/Task/{task}");
    let mut body: Value = http.get(&url).send().await.unwrap().error_for_status().unwrap().json().await.unwrap();
    body["status"] = json!(status);
    let put = http.put(&url).header("content-type", "application/fhir+json").json(&body).send().await.unwrap();
    assert!(put.status().is_success(), "FHIR update: {}", put.status());
}

async fn agent_texts(state: &AppState, conv: &str) -> Vec<String> {
    let row = state.store.conversation(conv).await.unwrap().unwrap();
    chat::history(state, &row).await.unwrap().into_iter().filter(|m| m.role == "agent").map(|m| m.text).collect()
}

async fn refill_status_changes_are_told_once_each(db: Db) {
    let sekmet = fhir_client::sekmet::Sekmet::start_async(Default::default()).await.expect("sekmet starts");
    let client = fhir_client::FhirClient::new(&sekmet.config()).unwrap();
    let demo = fhir_client::seed::seed_demo(&client, Utc::now().date_naive()).await.unwrap();
    let who = demo.patients[3].id.clone();
    let app = App::start(db).await;
    let ehr: Arc<dyn Ehr> = Arc::new(client);
    let mut state = app.state.clone();
    state.ehr = ehr.clone();
    state.dialogue = Arc::new(RefillDialogue { ehr });
    let poll_ms = state.policy.outreach.refill_poll_ms();
    assert_eq!(poll_ms, 5 * 60_000, "the default setting");

    let conv = chat::open(&state, &who, Lang::Es, Opening::Patient).await.unwrap().conversation_id;
    chat::post(&state, &who, &conv, "necesito más levotiroxina", None).await.unwrap();
    let sweeps = followups::spawn(state.clone(), Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = agent_texts(&state, &conv).await;
    assert_eq!(before.len(), 2, "no message while the Task is unchanged: {before:?}");

    let task = state.store.followups().open_refill_watches().await.unwrap().remove(0).task_id;
    set_task_status(sekmet.base_url(), &task, "accepted").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(agent_texts(&state, &conv).await.len(), 2, "not before the next poll is due");
    app.clock.advance_ms(poll_ms);
    let accepted = prompts::refill_status(prompts::Lang::Es, "accepted");
    assert!(wait_for(|| async { agent_texts(&state, &conv).await.last() == Some(&accepted) }).await, "told at the next poll, in Spanish");
    app.clock.advance_ms(poll_ms);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(agent_texts(&state, &conv).await.len(), 3, "one message per change");
    drop(sweeps);
    // A replica that read the watch before the change was told commits nothing.
    let now = app.clock.now_ms();
    state.store.begin_turn(&conv, "stale-poll", now, now + 60_000).await.unwrap();
    let stale = RefillNotice {
        task_id: &task,
        conversation_id: &conv,
        lock_token: "stale-poll",
        from: "requested",
        to: "accepted",
        close: false,
        message: vec![1, 2, 3],
        audit: AuditEntry { at: now, actor: "system".into(), action: "test".into(), payload: vec![] },
        now,
    };
    assert!(!state.store.followups().tell_refill_status(&stale).await.unwrap());
    state.store.release_turn(&conv, "stale-poll").await.unwrap();
    assert_eq!(agent_texts(&state, &conv).await.len(), 3);

    // Replicas polling at once tell a change once; a final status ends the watch.
    set_task_status(sekmet.base_url(), &task, "completed").await;
    let (a, b) = tokio::join!(refills::poll(&state), refills::poll(&state));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let texts = agent_texts(&state, &conv).await;
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[3], prompts::refill_status(prompts::Lang::Es, "completed"));
    assert!(state.store.followups().open_refill_watches().await.unwrap().is_empty());
    let audit = state.store.audit_range(1, 1000).await.unwrap();
    assert_eq!(audit.iter().filter(|r| r.action == format!("refill.status_told/{conv}")).count(), 2, "each message audited");
}

#[tokio::test]
async fn refill_status_changes_are_told_once_each_sqlite() {
    refill_status_changes_are_told_once_each(Db::Sqlite).await;
}

#[tokio::test]
async fn refill_status_changes_are_told_once_each_postgres() {
    refill_status_changes_are_told_once_each(Db::Postgres).await;
}
