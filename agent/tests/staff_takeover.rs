//! Live takeover: the coordinator's messages reach the patient's history and live stream, the
//! agent says nothing while a person has the conversation (the patient's posts go to staff),
//! and handing back resumes the script where it was waiting.

mod staff_support;

use std::time::Duration;

use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

async fn history(app: &App, token: &str, conv: &str) -> Vec<(String, String)> {
    let msgs: Vec<Value> = app.get(token, &format!("/api/conversations/{conv}/messages")).await.json().await.unwrap();
    msgs.iter().map(|m| (m["role"].as_str().unwrap().to_owned(), m["text"].as_str().unwrap().to_owned())).collect()
}

/// Reads the patient's event stream until `needle` shows up (10 s at most).
async fn stream_until(stream: &mut reqwest::Response, seen: &mut String, needle: &str) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(needle) {
            match stream.chunk().await {
                Ok(Some(chunk)) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return false,
            }
        }
        true
    })
    .await
    .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_takes_over_the_agent_is_silent_and_hand_back_resumes_sqlite() {
    coordinator_takes_over_the_agent_is_silent_and_hand_back_resumes(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_takes_over_the_agent_is_silent_and_hand_back_resumes_postgres() {
    coordinator_takes_over_the_agent_is_silent_and_hand_back_resumes(Db::Postgres).await;
}

async fn coordinator_takes_over_the_agent_is_silent_and_hand_back_resumes(db: Db) {
    let app = App::start(db).await;
    let coord = app.staff("coord", Role::Coordinator).await;
    let patient = app.patient_token("pat-take").await;
    let conv = app.open_conversation(&patient).await;
    let turn = app.patient_says(&patient, &conv, "first").await;
    assert_eq!(turn["replies"][0]["text"], "step 1: you said first");
    let mut stream = app.get(&patient, &format!("/api/conversations/{conv}/events")).await;
    assert_eq!(stream.status(), 200);

    assert_eq!(app.post(&coord, &format!("/api/staff/conversations/{conv}/takeover"), json!({})).await.status(), 204);
    let mut seen = String::new();
    assert!(stream_until(&mut stream, &mut seen, "joined the conversation").await, "{seen}");

    let sent = app.post(&coord, &format!("/api/staff/conversations/{conv}/messages"), json!({"text": "Hi, I'm Dana from the clinic."})).await;
    assert_eq!(sent.status(), 200);
    assert!(stream_until(&mut stream, &mut seen, "Dana from the clinic").await, "{seen}");

    let calls = app.dialogue_calls();
    let silent = app.patient_says(&patient, &conv, "thanks Dana, what next?").await;
    assert_eq!(silent["replies"], json!([]), "the agent does not answer while taken over");
    assert_eq!(app.dialogue_calls(), calls, "no model or script ran");
    let staff_view: Vec<Value> = app.get(&coord, &format!("/api/staff/conversations/{conv}/messages")).await.json().await.unwrap();
    assert_eq!(staff_view.last().unwrap()["text"], "thanks Dana, what next?");

    assert_eq!(app.post(&coord, &format!("/api/staff/conversations/{conv}/handback"), json!({})).await.status(), 204);
    let resumed = app.patient_says(&patient, &conv, "second").await;
    assert_eq!(resumed["replies"][0]["text"], "step 2: you said second", "the script goes on from step 1");

    let h = history(&app, &patient, &conv).await;
    let roles: Vec<&str> = h.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["agent", "patient", "agent", "staff", "staff", "patient", "agent", "patient", "agent"], "{h:?}");
    assert_eq!(h[4].1, "Hi, I'm Dana from the clinic.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_conversation_runs_again_after_hand_back() {
    let app = App::start(Db::Sqlite).await;
    let coord = app.staff("coord", Role::Coordinator).await;
    let patient = app.patient_token("pat-esc").await;
    let conv = app.open_conversation(&patient).await;
    app.patient_says(&patient, &conv, "first").await;
    app.patient_says(&patient, &conv, "chest pain").await;
    let stuck = app.patient_says(&patient, &conv, "hello?").await;
    assert_eq!(stuck["replies"][0]["text"], "a person will follow up");
    assert_eq!(app.post(&coord, &format!("/api/staff/conversations/{conv}/takeover"), json!({})).await.status(), 204);
    let case = app.state.store.staff().open_escalations().await.unwrap().remove(0);
    assert_eq!(case.status, "in_progress", "taking over works the case");
    assert_eq!(app.post(&coord, &format!("/api/staff/conversations/{conv}/handback"), json!({})).await.status(), 204);
    let resumed = app.patient_says(&patient, &conv, "second").await;
    assert_eq!(resumed["replies"][0]["text"], "step 2: you said second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_coordinator_who_took_over_may_write_or_hand_back() {
    let app = App::start(Db::Sqlite).await;
    let a = app.staff("coord-a", Role::Coordinator).await;
    let b = app.staff("coord-b", Role::Coordinator).await;
    let patient = app.patient_token("pat-two").await;
    let conv = app.open_conversation(&patient).await;
    let msg = format!("/api/staff/conversations/{conv}/messages");
    assert_eq!(app.post(&a, &msg, json!({"text": "hello"})).await.status(), 409, "take it over first");
    assert_eq!(app.post(&a, &format!("/api/staff/conversations/{conv}/takeover"), json!({})).await.status(), 204);
    assert_eq!(app.post(&b, &format!("/api/staff/conversations/{conv}/takeover"), json!({})).await.status(), 409);
    assert_eq!(app.post(&b, &msg, json!({"text": "hello"})).await.status(), 409);
    assert_eq!(app.post(&b, &format!("/api/staff/conversations/{conv}/handback"), json!({})).await.status(), 409);
    assert_eq!(app.post(&a, &msg, json!({"text": "hello"})).await.status(), 200);
    let actions: Vec<String> = app.state.store.audit_range(0, 1000).await.unwrap().into_iter().map(|r| r.action).collect();
    assert!(actions.contains(&format!("staff.takeover/{conv}")) && actions.contains(&format!("staff.message/{conv}")), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_cannot_follow_another_patients_conversation() {
    let app = App::start(Db::Sqlite).await;
    let alice = app.patient_token("pat-alice").await;
    let bob = app.patient_token("pat-bob").await;
    let conv = app.open_conversation(&alice).await;
    assert_eq!(app.get(&bob, &format!("/api/conversations/{conv}/events")).await.status(), 404);
    assert_eq!(app.http.get(app.url(&format!("/api/conversations/{conv}/events"))).send().await.unwrap().status(), 401);
}
