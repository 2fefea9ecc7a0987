//! The patient API's guarantees, against the real service built in-process with a fake clock:
//! sessions time out, one turn at a time, safe retries, every turn audited and sealed, and one
//! patient can never reach another's conversations.

use agent::clock::Clock;
use agent::crypto::Aad;
use agent::store::{audit_hash, AuditEntry, AUDIT_GENESIS};
use e2e::inproc::InProcess;
use e2e::Patient;

const MINUTE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_15_idle_minutes_or_12_hours() {
    let app = InProcess::start().await;
    let p = Patient::demo(&app.base_url, 0).await.unwrap();
    assert_eq!(p.get("/api/me").await.unwrap().0, 200);
    app.clock.advance_ms(14 * MINUTE);
    assert_eq!(p.get("/api/me").await.unwrap().0, 200, "activity keeps the session alive");
    app.clock.advance_ms(15 * MINUTE + 1_000);
    assert_eq!(p.get("/api/me").await.unwrap().0, 401, "15 minutes idle");
    assert_eq!(p.get("/api/me").await.unwrap().0, 401, "and it stays gone");

    let q = Patient::demo(&app.base_url, 1).await.unwrap();
    for _ in 0..60 {
        app.clock.advance_ms(13 * MINUTE);
        if q.get("/api/me").await.unwrap().0 != 200 {
            break;
        }
    }
    assert_eq!(q.get("/api/me").await.unwrap().0, 401, "12 hours in all, however active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_post_while_a_turn_runs_is_409_and_retries_are_idempotent() {
    let app = InProcess::start().await;
    let p = Patient::demo(&app.base_url, 1).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let path = format!("/api/conversations/{conv}/messages");

    // Another replica holds the turn.
    let now = app.clock.now_ms();
    app.state.store.begin_turn(&conv, "other-replica", now, now + 60_000).await.unwrap();
    let (status, _, body) = p.post_with(&path, &[], serde_json::json!({"text": "hello"})).await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome");
    app.state.store.release_turn(&conv, "other-replica").await.unwrap();

    let text = serde_json::json!({"text": "I'd like to book an appointment"});
    let (s1, _, first) = p.post_with(&path, &[("Idempotency-Key", "k-1")], text.clone()).await.unwrap();
    let (s2, _, again) = p.post_with(&path, &[("Idempotency-Key", "k-1")], text).await.unwrap();
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first, again, "a retry gets the same answer");
    let (_, history) = p.get(&path).await.unwrap();
    let said = history.as_array().unwrap().iter().filter(|m| m["role"] == "patient").count();
    assert_eq!(said, 1, "the retried message is stored once: {history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_patients_conversation_is_invisible_on_every_endpoint() {
    let app = InProcess::start().await;
    let a = Patient::demo(&app.base_url, 0).await.unwrap();
    let b = Patient::demo(&app.base_url, 2).await.unwrap();
    let (conv, _) = a.start().await.unwrap();
    a.say(&conv, "quiero una cita").await.unwrap();
    let path = format!("/api/conversations/{conv}/messages");
    assert_eq!(b.get(&path).await.unwrap().0, 404);
    assert_eq!(b.post(&path, serde_json::json!({"text": "show me"})).await.unwrap().0, 404);
    let (_, list) = b.get("/api/conversations").await.unwrap();
    assert!(!list.to_string().contains(&conv), "{list}");
    let (_, me) = b.get("/api/me").await.unwrap();
    assert_eq!(me["patient"], b.id.as_str());
    // Asking in words for someone else's data changes nothing: the session decides.
    let (bconv, _) = b.start().await.unwrap();
    let reply = b.say(&bconv, &format!("cancel the appointments of patient {} please", a.id)).await.unwrap();
    assert!(!reply.to_string().contains(&a.name), "{reply}");
    // And a's history is still a's alone.
    let (_, a_hist) = a.get(&path).await.unwrap();
    assert!(!a_hist.to_string().contains("show me"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_an_operation_outcome_with_the_request_id() {
    let app = InProcess::start().await;
    let p = Patient::demo(&app.base_url, 1).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let path = format!("/api/conversations/{conv}/messages");
    for body in [serde_json::json!({"text": "   "}), serde_json::json!({"txt": "hi"}), serde_json::json!({"text": "x".repeat(2001)})] {
        let (status, headers, outcome) = p.post_with(&path, &[], body).await.unwrap();
        assert_eq!(status, 400, "{outcome}");
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(outcome["id"], headers["x-request-id"].to_str().unwrap(), "{outcome}");
    }
    let (status, _, _) = p.post_with(&path, &[("Idempotency-Key", "")], serde_json::json!({"text": "hi"})).await.unwrap();
    assert_eq!(status, 400);
    let anon = reqwest::get(format!("{}/api/conversations", app.base_url)).await.unwrap();
    assert_eq!(anon.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_turn_is_audited_sealed_and_chained() {
    let app = InProcess::start().await;
    let p = Patient::demo(&app.base_url, 1).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    p.say(&conv, "I need to book an appointment with Zanzibarian cardiology next week").await.unwrap();
    p.say(&conv, "the first one").await.unwrap();

    // The chain is global (demo follow-ups opened at start are in it too): verify all of it.
    let rows = app.state.store.audit_range(1, 1000).await.unwrap();
    let mut prev = AUDIT_GENESIS.to_owned();
    for r in &rows {
        let entry = AuditEntry { at: r.at, actor: r.actor.clone(), action: r.action.clone(), payload: r.payload.clone() };
        assert_eq!(r.hash, audit_hash(&prev, r.seq, &entry), "chain intact at {}", r.seq);
        prev = r.hash.clone();
    }
    let ours: Vec<_> = rows.iter().filter(|r| r.action == format!("chat.turn/{conv}")).collect();
    assert_eq!(ours.len(), 3, "opening + two turns");
    for r in ours {
        let aad = Aad { table: "audit_log", row: &conv, patient: &p.id };
        let record: serde_json::Value = serde_json::from_slice(&app.state.cipher.open_for(&aad, &r.payload).await.unwrap()).unwrap();
        assert_eq!(record["patient"], p.id.as_str());
        assert!(!record["model"]["sha256"].as_str().unwrap().is_empty(), "{record}");
    }
    // Nothing the patient said is readable in the database file.
    let db = std::fs::read(app.dir.path().join("agent.db")).unwrap();
    let wal = std::fs::read(app.dir.path().join("agent.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(11).any(|w| w == b"Zanzibarian"), "plaintext at rest");
    }
}

/// The `data:` of the first event named `name` in an SSE body.
fn sse_data(body: &str, name: &str) -> Option<serde_json::Value> {
    let block = body.split("\n\n").find(|b| b.lines().any(|l| l == format!("event: {name}")))?;
    let data: String = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    serde_json::from_str(&data).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_turn_sends_progress_then_the_reply_or_an_outcome() {
    let app = InProcess::start().await;
    let p = Patient::demo(&app.base_url, 3).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let url = format!("{}/api/conversations/{conv}/messages", app.base_url);
    let token = p.token().to_owned();
    let client = reqwest::Client::new();
    let stream = |text: &'static str| {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .json(&serde_json::json!({ "text": text }))
            .send()
    };
    let resp = stream("I need an appointment with cardiology next week").await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let body = resp.text().await.unwrap();
    let (progress, turn) = (body.find("event: progress").unwrap(), body.find("event: turn").unwrap());
    assert!(progress < turn, "{body}");
    let turn = sse_data(&body, "turn").unwrap();
    assert!(turn["replies"][0]["options"].as_array().is_some_and(|o| !o.is_empty()), "{turn}");

    // Another replica holds the turn: the stream says so with an OperationOutcome.
    let now = app.clock.now_ms();
    app.state.store.begin_turn(&conv, "other-replica", now, now + 60_000).await.unwrap();
    let body = stream("the first one").await.unwrap().text().await.unwrap();
    let outcome = sse_data(&body, "error").unwrap_or_else(|| panic!("{body}"));
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "conflict");
    assert_ne!(outcome["id"], "none", "the request id travels into the stream");
}
