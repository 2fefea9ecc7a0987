//! Security alerts, each provoked once through the real routes and store and seen as a count on
//! `/metrics` (and, for the webhook, as a POST received), and none raised by a normal day: a
//! patient's conversation, a coordinator signing in and working a case, an auditor checking an
//! intact log.

mod staff_support;

use std::sync::Arc;

use agent::alerts::{AlertSettings, Alerts, Kind};
use agent::crypto::{Aad, Cipher, KeyPolicy};
use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

async fn scraped(app: &App, kind: Kind) -> u64 {
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let prefix = format!("agent_security_alerts_total{{kind=\"{}\"}} ", kind.as_str());
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{prefix} missing from /metrics"));
    line[prefix.len()..].trim().parse().unwrap()
}

async fn all_zero(app: &App) {
    for k in Kind::ALL {
        assert_eq!(scraped(app, k).await, 0, "{} raised during normal work", k.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_day_raises_no_alert() {
    let app = App::start(Db::Sqlite).await;
    let patient = app.patient_token("p-normal").await;
    let conv = app.open_conversation(&patient).await;
    for text in ["hello", "I need a refill", "thanks"] {
        app.patient_says(&patient, &conv, text).await;
    }
    let (_, case) = app.escalated_case("p-urgent").await;
    let cora = app.staff("cora", Role::Coordinator).await;
    assert_eq!(app.get(&cora, "/api/staff/escalations").await.status(), 200);
    assert_eq!(app.post(&cora, &format!("/api/staff/escalations/{case}/claim"), json!({})).await.status(), 200);
    assert_eq!(app.get(&cora, &format!("/api/staff/escalations/{case}")).await.status(), 200);
    assert_eq!(app.get(&cora, &format!("/api/staff/conversations/{conv}/messages")).await.status(), 200);
    let audra = app.staff("audra", Role::Auditor).await;
    let verify: Value = app.get(&audra, "/api/admin/audit/verify").await.json().await.unwrap();
    assert_eq!(verify["status"], "verified");
    // One mistyped password is not an attack.
    let wrong = json!({"username": "cora", "password": "typo"});
    assert_eq!(app.post("", "/api/staff/login", wrong).await.status(), 401);
    all_zero(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_raise_one_alert_and_are_audited_with_the_address() {
    let app = App::start(Db::Sqlite).await;
    app.add_user("cora", Role::Coordinator).await;
    let wrong = json!({"username": "cora", "password": "not it"});
    for _ in 0..4 {
        assert_eq!(app.post("", "/api/staff/login", wrong.clone()).await.status(), 401);
    }
    assert_eq!(scraped(&app, Kind::FailedSignIns).await, 0);
    assert_eq!(app.post("", "/api/staff/login", wrong.clone()).await.status(), 401);
    assert_eq!(scraped(&app, Kind::FailedSignIns).await, 1);
    // Names nobody has count together.
    for i in 0..5 {
        let body = json!({"username": format!("ghost{i}"), "password": "x"});
        assert_eq!(app.post("", "/api/staff/login", body).await.status(), 401);
    }
    assert_eq!(scraped(&app, Kind::FailedSignIns).await, 2);
    let rows = app.state.store.audit_range(0, 1000).await.unwrap();
    let failed: Vec<_> = rows.iter().filter(|r| r.action.starts_with("staff.sign_in_failed/")).collect();
    assert_eq!(failed.len(), 10);
    let record = app.state.cipher.open(&Aad { table: "audit_log", row: "unknown", patient: "" }, &failed[9].payload).unwrap();
    let record: Value = serde_json::from_slice(&record).unwrap();
    assert_eq!(record["source"]["address"], "127.0.0.1", "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_reading_many_patients_raises_an_alert() {
    let app = App::start(Db::Sqlite).await;
    let cora = app.staff("cora", Role::Coordinator).await;
    let limit = AlertSettings::default().distinct_patients;
    for i in 0..limit {
        let token = app.patient_token(&format!("p-many-{i}")).await;
        let conv = app.open_conversation(&token).await;
        // Reading one patient twice is still one patient.
        for _ in 0..2 {
            assert_eq!(app.get(&cora, &format!("/api/staff/conversations/{conv}/messages")).await.status(), 200);
        }
        let expected = u64::from(i + 1 == limit);
        assert_eq!(app.state.metrics.alerts.count(Kind::PatientReads), expected, "after {} patients", i + 1);
    }
    assert_eq!(scraped(&app, Kind::PatientReads).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_and_a_tampered_log_raise_alerts() {
    let app = App::start(Db::Sqlite).await;
    let ada = app.staff("ada", Role::Admin).await;
    let ok = app.post(&ada, "/api/staff/break-glass", json!({"reason": "patient collapsed in clinic", "minutes": 5})).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(scraped(&app, Kind::BreakGlass).await, 1);

    assert!(agent::alerts::verify_log(&app.state.audit, &app.state.metrics.alerts, 0).await.unwrap());
    let pool = app.state.audit.store().pool();
    sqlx::query("DROP TRIGGER audit_log_no_update").execute(pool).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1").execute(pool).await.unwrap();
    assert!(!agent::alerts::verify_log(&app.state.audit, &app.state.metrics.alerts, 0).await.unwrap());
    let verify: Value = app.get(&ada, "/api/admin/audit/verify").await.json().await.unwrap();
    assert_eq!(verify["status"], "failed");
    assert_eq!(scraped(&app, Kind::AuditVerifyFailed).await, 2, "the periodic check and the viewer's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_key_near_its_use_limit_raises_one_alert() {
    let app = App::start(Db::Sqlite).await;
    let key = app.dir.path().join("master.key");
    let aad = Aad { table: "messages", row: "r", patient: "p-keys" };
    for (max_uses, expected) in [(1 << 30, 0), (64, 1)] {
        let alerts = Arc::new(Alerts::default());
        let policy = KeyPolicy { max_uses, ..KeyPolicy::default() };
        let store: Arc<agent::store::SqlStore> = Arc::new(agent::store::SqlStore::connect(&format!("sqlite://{}/keys-{max_uses}.db", app.dir.path().display()), 2).await.unwrap());
        let cipher = Cipher::from_key_file(&key).unwrap().with_envelope(store, policy);
        let hook = alerts.clone();
        cipher.envelope().unwrap().on_usage(Arc::new(move |before, after, max| hook.key_uses(before, after, max, 0)));
        for _ in 0..64 {
            cipher.seal_for(&aad, b"x").await.unwrap();
        }
        assert_eq!(alerts.count(Kind::KeyUse), expected, "max_uses {max_uses}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_gets_the_alert_without_phi_and_a_dead_one_holds_nothing_up() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    let alerts = Alerts::new(AlertSettings { webhook_url: Some(url), distinct_patients: 2, ..AlertSettings::default() });
    alerts.patient_read("staff-1", "patient-secret-id", 10);
    alerts.patient_read("staff-1", "patient-other-id", 11);
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert_eq!(got["alert"], "patient_reads");
    assert_eq!(got["subject"], "staff-1");
    assert_eq!(got["details"]["distinct_patients"], 2);
    assert!(!got.to_string().contains("patient-secret-id"), "{got}");

    // A receiver that never answers: firing returns at once.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let alerts = Alerts::new(AlertSettings { webhook_url: Some(url), webhook_timeout_ms: 200, ..AlertSettings::default() });
    let started = std::time::Instant::now();
    alerts.fire(Kind::BreakGlass, "staff-1", 0, json!({}));
    assert!(started.elapsed() < std::time::Duration::from_millis(100));
    assert_eq!(alerts.count(Kind::BreakGlass), 1);
}

/// Audit record 1 rewritten behind the store's back, with a well-formed hash of its own (the
/// stored tree changes).
async fn rewrite_first_record(app: &App) {
    let pool = app.state.audit.store().pool();
    sqlx::query("DROP TRIGGER audit_log_no_update").execute(pool).await.unwrap();
    let q = format!("UPDATE audit_log SET payload = X'00', hash = '{}' WHERE seq = 1", "ab".repeat(32));
    sqlx::query(sqlx::AssertSqlSafe(q)).execute(pool).await.unwrap();
}

/// A patient's session and conversation with one turn in it, and checkpointer settings that
/// sign after every record.
async fn chatted(app: &App, patient: &str) -> (String, String, agent::audit::AuditSettings) {
    let patient = app.patient_token(patient).await;
    let conv = app.open_conversation(&patient).await;
    app.patient_says(&patient, &conv, "hello").await;
    let settings = agent::audit::AuditSettings { checkpoint_every_records: 1, checkpoint_file: app.dir.path().join("cp.jsonl"), ..Default::default() };
    (patient, conv, settings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpointer_refuses_to_sign_over_a_changed_record_and_raises_the_alert() {
    use agent::audit::checkpointer::{checkpoint_now, round, LogAltered};
    use agent::store::AuditStore;
    let app = App::start(Db::Sqlite).await;
    let (patient, conv, settings) = chatted(&app, "p-cp").await;
    let store = app.state.audit.store();
    let signer = app.audit_signer();
    let signed = checkpoint_now(store, &signer, None, 1).await.unwrap().unwrap();
    app.patient_says(&patient, &conv, "again").await;
    // An honest round signs the new records and raises nothing.
    round(store, &signer, &settings, &app.state.metrics.alerts, 2, &mut Default::default()).await;
    let honest = store.latest_checkpoint().await.unwrap().unwrap();
    assert!(honest.size > signed.size);
    assert_eq!(scraped(&app, Kind::AuditVerifyFailed).await, 0);

    rewrite_first_record(&app).await;
    app.patient_says(&patient, &conv, "once more").await;
    let e = checkpoint_now(store, &signer, None, 3).await.unwrap_err();
    assert!(e.downcast_ref::<LogAltered>().is_some(), "{e}");
    round(store, &signer, &settings, &app.state.metrics.alerts, 3, &mut Default::default()).await;
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, honest.size, "nothing signed over the change");
    assert_eq!(scraped(&app, Kind::AuditVerifyFailed).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_checkpointer_reads_only_new_records_yet_never_vouches_for_a_change() {
    use agent::audit::checkpointer::{round, tree_head, Verified, FULL_CHECK_MS};
    use agent::store::AuditStore;
    let app = App::start(Db::Sqlite).await;
    let (patient, conv, settings) = chatted(&app, "p-inc").await;
    let (store, signer, alerts) = (app.state.audit.store(), app.audit_signer(), &app.state.metrics.alerts);
    let mut verified = Verified::default();
    round(store, &signer, &settings, alerts, 1, &mut verified).await; // reads the whole log
    app.patient_says(&patient, &conv, "again").await;
    round(store, &signer, &settings, alerts, 2, &mut verified).await; // only the new records
    let honest = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(Some(tree_head(store, honest.size as i64).await.unwrap()), honest.root_hash(), "the same head as a full read");

    rewrite_first_record(&app).await;
    app.patient_says(&patient, &conv, "more").await;
    round(store, &signer, &settings, alerts, 3, &mut verified).await;
    // Signed from the hashes it had verified: the changed log does not reproduce it, so
    // `agent audit verify` still names the change.
    let next = store.latest_checkpoint().await.unwrap().unwrap();
    assert!(next.size > honest.size);
    assert_ne!(Some(tree_head(store, next.size as i64).await.unwrap()), next.root_hash());
    assert_eq!(scraped(&app, Kind::AuditVerifyFailed).await, 0, "not read again yet");
    // The periodic full read finds it, raises the alert and signs nothing more.
    app.patient_says(&patient, &conv, "and more").await;
    round(store, &signer, &settings, alerts, 3 + FULL_CHECK_MS, &mut verified).await;
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, next.size);
    assert_eq!(scraped(&app, Kind::AuditVerifyFailed).await, 1);
}
