//! The escalation queue: ordered by priority with SLA due times, claimed by exactly one of two
//! coordinators racing (SQLite and PostgreSQL), context for the person who picks it up,
//! resolved with a note, SLA breaches announced at the due time by the (fake) clock, and live
//! updates to consoles.

mod staff_support;

use std::time::Duration;

use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

async fn two_coordinators_claim_at_once(db: Db) {
    let app = App::start(db).await;
    let a = app.staff("coord-a", Role::Coordinator).await;
    let b = app.staff("coord-b", Role::Coordinator).await;
    for round in 0..5 {
        let (_, case) = app.escalated_case(&format!("pat-race-{round}")).await;
        let path = format!("/api/staff/escalations/{case}/claim");
        let (ra, rb) = tokio::join!(app.post(&a, &path, json!({"version": 0})), app.post(&b, &path, json!({"version": 0})));
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}");
        let row = app.state.store.staff().escalation(&case).await.unwrap().unwrap();
        assert_eq!(row.status, "claimed");
        assert_eq!(row.version, 1, "exactly one change went in");
        let winner = app.state.store.staff().user(row.claimed_by.as_deref().unwrap()).await.unwrap().unwrap();
        let expected = if ra.status() == 200 { "coord-a" } else { "coord-b" };
        assert_eq!(winner.username, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_claim_loses_sqlite() {
    two_coordinators_claim_at_once(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_claim_loses_postgres() {
    two_coordinators_claim_at_once(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_version_is_refused() {
    let app = App::start(Db::Sqlite).await;
    let a = app.staff("coord-a", Role::Coordinator).await;
    let (_, case) = app.escalated_case("pat-stale").await;
    let resp = app.post(&a, &format!("/api/staff/escalations/{case}/claim"), json!({"version": 7})).await;
    assert_eq!(resp.status(), 409);
    let resp = app.post(&a, &format!("/api/staff/escalations/{case}/claim"), json!({})).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_lists_urgent_first_with_sla_due_times() {
    let app = App::start(Db::Sqlite).await;
    let coord = app.staff("coord", Role::Coordinator).await;
    let created = app.clock_ms();
    let (_, urgent) = app.escalated_case("pat-u").await;
    // A normal case, queued directly (the scripted dialogue only raises urgent ones).
    let token = app.patient_token("pat-n").await;
    let conv = app.open_conversation(&token).await;
    insert_case(&app, "case-normal", &conv, "pat-n", "normal", created).await;
    insert_case(&app, "case-high", &conv, "pat-n", "high", created).await;
    let list: Vec<Value> = app.get(&coord, "/api/staff/escalations").await.json().await.unwrap();
    let order: Vec<&str> = list.iter().map(|c| c["priority"].as_str().unwrap()).collect();
    assert_eq!(order, ["urgent", "high", "normal"]);
    assert_eq!(list[0]["id"], urgent.as_str());
    assert_eq!(list[0]["due_at"], created + 15 * 60 * 1000);
    assert_eq!(list[0]["status"], "new");
    assert_eq!(list[0]["reason"]["kind"], "red_flag");
    assert_eq!(list[0]["overdue"], false);
}

async fn insert_case(app: &App, id: &str, conv: &str, patient: &str, priority: &str, now: i64) {
    let due = now + app.state.policy.sla.wait_ms(priority);
    let q = "INSERT INTO escalations (id, conversation_id, patient_id, priority, reason, status, created_at, due_at) \
             VALUES ($1,$2,$3,$4,'{\"kind\":\"asked_for_human\"}','new',$5,$6)";
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}/agent.db", app.dir.path().display())).await.unwrap();
    sqlx::query(q).bind(id).bind(conv).bind(patient).bind(priority).bind(now).bind(due).execute(&pool).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_bundle_has_transcript_slots_references_and_script() {
    let app = App::start(Db::Sqlite).await;
    let clin = app.staff("clin", Role::Clinician).await;
    let token = app.patient_token("pat-ctx").await;
    let conv = app.open_conversation(&token).await;
    app.patient_says(&token, &conv, "I need my refill").await;
    app.patient_says(&token, &conv, "and now chest pain").await;
    let case = app.state.store.staff().open_escalations().await.unwrap().remove(0);
    let bundle: Value = app.get(&clin, &format!("/api/staff/escalations/{}", case.id)).await.json().await.unwrap();
    let texts: Vec<&str> = bundle["transcript"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["step 0: how can I help?", "I need my refill", "step 1: you said I need my refill", "and now chest pain", "call 911"]);
    assert_eq!(bundle["slots"]["last"], "I need my refill");
    let refs: Vec<&str> = bundle["fhir_references"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(refs.contains(&"Patient/pat-ctx") && refs.contains(&"Encounter/enc-1"), "{refs:?}");
    assert_eq!(bundle["script"], json!({"id": "steps", "version": 3}));
    assert_eq!(bundle["case"]["conversation_id"], conv.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_with_a_note_takes_the_case_off_the_queue() {
    let app = App::start(Db::Sqlite).await;
    let coord = app.staff("coord", Role::Coordinator).await;
    let (_, case) = app.escalated_case("pat-res").await;
    assert_eq!(app.post(&coord, &format!("/api/staff/escalations/{case}/claim"), json!({})).await.status(), 200);
    let empty = app.post(&coord, &format!("/api/staff/escalations/{case}/resolve"), json!({"note": "  "})).await;
    assert_eq!(empty.status(), 400);
    let done = app.post(&coord, &format!("/api/staff/escalations/{case}/resolve"), json!({"note": "Sent to the ED; family informed."})).await;
    assert_eq!(done.status(), 200);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["status"], "resolved");
    let list: Vec<Value> = app.get(&coord, "/api/staff/escalations").await.json().await.unwrap();
    assert!(list.is_empty(), "{list:?}");
    let bundle: Value = app.get(&coord, &format!("/api/staff/escalations/{case}")).await.json().await.unwrap();
    assert_eq!(bundle["note"], "Sent to the ED; family informed.");
    let again = app.post(&coord, &format!("/api/staff/escalations/{case}/resolve"), json!({"note": "again"})).await;
    assert_eq!(again.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_breach_fires_at_the_due_time_once_sqlite() {
    sla_breach_fires_at_the_due_time_once(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_breach_fires_at_the_due_time_once_postgres() {
    sla_breach_fires_at_the_due_time_once(Db::Postgres).await;
}

async fn sla_breach_fires_at_the_due_time_once(db: Db) {
    let app = App::start(db).await;
    let mut events = app.state.staff.queue.subscribe();
    let (_, case) = app.escalated_case("pat-sla").await;
    let created = events.recv().await.unwrap();
    assert_eq!((created.kind.as_str(), created.escalation.as_deref()), ("created", Some(case.as_str())));
    app.clock.advance_ms(15 * 60 * 1000 - 1);
    assert!(agent::staff::queue::fire_breaches(&app.state).await.unwrap().is_empty(), "not yet due");
    app.clock.advance_ms(1);
    assert_eq!(agent::staff::queue::fire_breaches(&app.state).await.unwrap(), vec![case.clone()]);
    let breach = events.recv().await.unwrap();
    assert_eq!((breach.kind.as_str(), breach.escalation.as_deref()), ("sla_breach", Some(case.as_str())));
    assert!(agent::staff::queue::fire_breaches(&app.state).await.unwrap().is_empty(), "announced once");
    let actions: Vec<String> = app.state.store.audit_range(0, 1000).await.unwrap().into_iter().map(|r| r.action).collect();
    assert!(actions.contains(&format!("staff.sla_breach/{case}")), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consoles_see_breaches_live_over_sse() {
    let app = App::start_with(Db::Sqlite, 100).await;
    let coord = app.staff("coord", Role::Coordinator).await;
    let (_, case) = app.escalated_case("pat-live").await;
    let mut stream = app.get(&coord, "/api/staff/escalations/events").await;
    assert_eq!(stream.status(), 200);
    app.clock.advance_ms(15 * 60 * 1000);
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("sla_breach") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "{seen}");
    assert!(seen.contains("event: queue") && seen.contains(&case), "{seen}");
}

#[test]
fn sla_minutes_come_from_settings() {
    let s = agent::config::Settings::from_toml_overrides(&["[staff.sla]\nurgent_minutes = 5\n"]).unwrap();
    assert_eq!(s.staff.sla.wait_ms("urgent"), 5 * 60 * 1000);
    assert_eq!(s.staff.sla.wait_ms("high"), 60 * 60 * 1000, "the others keep their defaults");
    assert_eq!(s.staff.sla.wait_ms("normal"), 8 * 60 * 60 * 1000);
    assert!(agent::config::Settings::from_toml_overrides(&["[staff.sla]\nurgnt_minutes = 5\n"]).is_err(), "typos are errors");
    let zero = agent::config::Settings::from_toml_overrides(&["[staff.sla]\nhigh_minutes = 0\n"]).unwrap_err();
    assert_eq!(zero.key, "staff.sla.high_minutes");
}
