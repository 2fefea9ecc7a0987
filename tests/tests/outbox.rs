//! The EHR stops answering in the middle of a booking (the real binary, the real model, a real
//! sekmet-fhir that is stopped and started again on the same data): the patient is told their
//! request is kept, not that the time was taken; once the EHR is back, exactly one Appointment
//! exists for that patient, practitioner and slot, the slot is busy, and the patient is told
//! once. On PostgreSQL two replicas work the outbox at the same time and it still holds.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::{agent_command, free_port, init_key, Patient, RunningAgent};
use fhir_client::sekmet::{Sekmet, SekmetOptions};
use fhir_client::{Ehr, FhirClient, PatientId};

const LAUNCH_SECRET: &str = "portal-shared-secret-for-the-outbox-test";

/// An agent on `db` talking to the EHR at `ehr_url`, retrying kept writes every second or two.
async fn agent(data: &Path, key_file: &Path, db: &str, ehr_url: &str) -> RunningAgent {
    let launch_key = data.join("launch.key");
    std::fs::write(&launch_key, LAUNCH_SECRET).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&launch_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = agent_command(data);
    cmd.env("AGENT__DATABASE__URL", db)
        .env("AGENT__CRYPTO__KEY_FILE", key_file)
        .env("AGENT__SERVER__DEMO", "false")
        .env("AGENT__DEMO_EHR__ENABLED", "false")
        .env("AGENT__FHIR__BASE_URL", ehr_url)
        .env("AGENT__FHIR__ALLOW_PLAIN_HTTP", "true")
        .env("AGENT__PORTAL__LAUNCH_KEY_FILE", &launch_key)
        .env("AGENT__PORTAL__AUDIENCE", "patient-agent")
        .env("AGENT__OUTBOX__FIRST_RETRY_SECONDS", "1")
        .env("AGENT__OUTBOX__MAX_RETRY_SECONDS", "2");
    RunningAgent::start(cmd).await.expect("agent starts")
}

fn launch_token(patient: &PatientId) -> String {
    let claims = serde_json::json!({
        "patient": patient.as_str(),
        "aud": "patient-agent",
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(LAUNCH_SECRET.as_bytes()))
        .unwrap()
}

async fn texts(p: &Patient, conv: &str) -> Vec<String> {
    let (_, history) = p.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
    history.as_array().cloned().unwrap_or_default().iter().map(|m| m["text"].as_str().unwrap_or_default().to_owned()).collect()
}

/// The whole story on `db` with `replicas` agents; the patient talks to the first.
async fn booking_survives_the_ehr_going_down(db: &str, replicas: usize) {
    e2e::ensure_models();
    let dir = tempfile::tempdir().unwrap();
    let ehr_opts = SekmetOptions { data_dir: Some(dir.path().join("ehr")), port: free_port(), ..SekmetOptions::default() };
    let ehr = Sekmet::start_async(ehr_opts.clone()).await.expect("sekmet starts");
    let fhir = FhirClient::new(&ehr.config()).unwrap();
    let demo = fhir_client::seed::seed_demo(&fhir, chrono::Utc::now().date_naive()).await.expect("seed");
    let patient = demo.patients[0].id.clone();

    let key_file = dir.path().join("master.key");
    init_key(dir.path());
    let mut agents = Vec::new();
    for i in 0..replicas {
        let data = dir.path().join(format!("replica{i}"));
        std::fs::create_dir_all(&data).unwrap();
        agents.push(agent(&data, &key_file, db, ehr.base_url()).await);
    }
    let p = Patient::launched(&agents[0].base_url, &launch_token(&patient), patient.as_str()).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let offer = p.say(&conv, "I need an appointment with cardiology next week").await.unwrap();
    let chosen = offer["replies"][0]["options"][0].as_str().unwrap_or_else(|| panic!("offer: {offer}")).to_owned();
    let confirm = p.say(&conv, &chosen).await.unwrap();
    assert!(confirm["replies"][0]["text"].as_str().unwrap_or_default().contains("Shall I book"), "{confirm}");

    drop(ehr); // the EHR stops
    let kept = p.say(&conv, "yes").await.unwrap();
    let said = kept["replies"].to_string();
    assert!(said.contains("kept your request") && !said.contains("took that time"), "{kept}");
    assert_eq!(kept["escalated"], false, "no person needed: {kept}");
    // The replica stays in service (the EHR is everyone's): ready, but degraded.
    let ready = reqwest::get(format!("{}/ready", agents[0].base_url)).await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!((ready["status"].as_str(), ready["checks"]["ehr"]["status"].as_str()), (Some("degraded"), Some("down")), "{ready}");
    // Let the outbox find the EHR still down at least once.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let history = texts(&p, &conv).await;
    assert!(!history.iter().any(|t| t.contains("system is back:")), "nothing told while down: {history:?}\n{}", agents[0].logs());

    let ehr = Sekmet::start_async(ehr_opts).await.expect("sekmet starts again on its data");
    let started = Instant::now();
    while !texts(&p, &conv).await.iter().any(|t| t.contains("you're booked")) {
        assert!(started.elapsed() < Duration::from_secs(90), "not told within 90 s: {:?}\n{}", texts(&p, &conv).await, agents[0].logs());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // More passes of every replica's outbox change nothing.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let history = texts(&p, &conv).await;
    assert_eq!(history.iter().filter(|t| t.contains("system is back:")).count(), 1, "told once: {history:?}");

    let fhir = FhirClient::new(&ehr.config()).unwrap();
    let booked = fhir.upcoming_appointments(&patient, chrono::Utc::now()).await.unwrap();
    let [appointment] = booked.as_slice() else { panic!("exactly one Appointment: {booked:?}") };
    let name = appointment.practitioner_name.clone().unwrap_or_default();
    assert!(!name.is_empty() && chosen.contains(name.trim_start_matches("Dr. ")), "practitioner of {chosen:?}: {appointment:?}");
    let slot = appointment.slot.clone().expect("the appointment names its slot");
    let slot_json: serde_json::Value =
        reqwest::get(format!("{}/Slot/{}", ehr.base_url(), slot.as_str())).await.unwrap().json().await.unwrap();
    assert_eq!(slot_json["status"], "busy", "{slot_json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_booking_kept_while_the_ehr_was_down_is_made_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    booking_survives_the_ehr_going_down(&format!("sqlite://{}/agent.db", dir.path().display()), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_replicas_make_a_kept_booking_exactly_once() {
    let db = e2e::inproc::postgres_schema_url().await;
    booking_survives_the_ehr_going_down(&db, 2).await;
}

/// The EHR came back, but another patient took the slot before the outbox got to it: the
/// patient is told a person will sort it out and a coordinator case opens (in-process, real
/// demo EHR and store, fake clock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_booking_whose_slot_was_taken_meanwhile_goes_to_a_person() {
    use agent::store::{AuditEntry, TurnCommit};
    use fhir_client::{IdempotencyKey, SlotQuery};
    use workflows::{Lang, PendingWrite, Write};

    let app = e2e::inproc::InProcess::start().await;
    let p = Patient::demo(&app.base_url, 0).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let patient = PatientId::parse(p.id.clone()).unwrap();
    let query = SlotQuery { from: Some(chrono::Utc::now() + chrono::Duration::days(1)), limit: 1, ..SlotQuery::default() };
    let slot = app.state.ehr.free_slots(&query).await.unwrap().remove(0);
    let rival = PatientId::parse(app.state.demo_patients[1].id.clone()).unwrap();
    app.state.ehr.book(&rival, &slot.id, &IdempotencyKey("rival-first".into())).await.unwrap();

    // The turn that kept the booking (what chat::post commits when the EHR does not answer).
    let kept = PendingWrite { write: Write::Book { slot: slot.id.clone() }, key: format!("{conv}-3-book_act"), label: "Mon 30 Nov, 09:00".into(), lang: Lang::En };
    let now = app.state.clock.now_ms();
    let row = app.state.store.conversation(&conv).await.unwrap().unwrap();
    app.state.store.begin_turn(&conv, "turn", now, now + 60_000).await.unwrap();
    let commit = TurnCommit {
        conversation_id: conv.clone(),
        lock_token: "turn".into(),
        expected_state_version: row.state_version,
        state: row.state.clone(),
        status: "finished".into(),
        script_id: Some("appointment".into()),
        script_version: Some(1),
        messages: vec![],
        idempotency: None,
        audit: AuditEntry { at: now, actor: "patient".into(), action: format!("chat.turn/{conv}"), payload: vec![1] },
        escalation: None,
        outbox: agent::outbox::rows_for(&app.state, &conv, &patient, &[kept], now).await.unwrap(),
        now,
    };
    app.state.store.commit_turn(&commit).await.unwrap();

    // Not due before the first wait, but the EHR answers: the write is made now, not a back-off
    // later. (The service's own sweep may take a pass too: the counts below hold either way.)
    // The service clock never reaches the back-off here: only the EHR answering makes it due.
    agent::outbox::drain(&app.state).await.unwrap();
    agent::outbox::drain(&app.state).await.unwrap();

    let history = texts(&p, &conv).await;
    let told: Vec<&String> = history.iter().filter(|t| t.contains("could not be completed")).collect();
    assert!(matches!(told.as_slice(), [t] if t.contains("Mon 30 Nov, 09:00")), "told once: {history:?}");
    let cases = app.state.store.escalations_of(&conv).await.unwrap();
    assert!(matches!(cases.as_slice(), [(prio, reason, _)] if prio == "normal" && reason.contains("kept_book_refused")), "{cases:?}");
    assert_eq!(app.state.store.outbox().writes_of(&conv).await.unwrap(), [("book".to_owned(), "failed".to_owned())]);
    assert!(app.state.ehr.upcoming_appointments(&patient, chrono::Utc::now()).await.unwrap().is_empty(), "nothing booked for the patient");
}
