//! The audit viewer's API: an auditor pages through the log's records (sequence, time, actor,
//! action, hash — no payload, no PHI) and sees the log verified against the signed checkpoint;
//! a coordinator is refused; after someone with database access rewrites a record, verify
//! names that record. On SQLite and PostgreSQL.

mod staff_support;

use agent::audit::checkpointer::checkpoint_now;
use agent::staff::Role;
use serde_json::Value;
use staff_support::{App, Db};

async fn get_json(app: &App, token: &str, path: &str) -> Value {
    let resp = app.get(token, path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.unwrap()
}

/// Signs a checkpoint of the log as it is now with the service's key (database and file).
async fn sign_checkpoint(app: &App) -> u64 {
    let file = app.dir.path().join("audit-checkpoints.jsonl");
    let cp = checkpoint_now(app.state.audit.store(), &app.audit_signer(), Some(&file), app.clock_ms()).await.unwrap();
    cp.expect("records to sign").size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_pages_the_log_and_sees_it_verified_sqlite() {
    an_auditor_pages_the_log_and_sees_it_verified(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_pages_the_log_and_sees_it_verified_postgres() {
    an_auditor_pages_the_log_and_sees_it_verified(Db::Postgres).await;
}

async fn an_auditor_pages_the_log_and_sees_it_verified(db: Db) {
    let app = App::start(db).await;
    app.escalated_case("pat-audit-viewer").await;
    let auditor = app.staff("audrey", Role::Auditor).await;
    let signed = sign_checkpoint(&app).await;
    let coordinator = app.staff("cora", Role::Coordinator).await; // one more record, unsigned
    let tip = signed as i64 + 1;

    // The newest page by default; then every page from the start, two records at a time.
    let newest = get_json(&app, &auditor, "/api/admin/audit?limit=2").await;
    assert_eq!(newest["tip"], tip);
    let seqs: Vec<i64> = newest["records"].as_array().unwrap().iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![tip - 1, tip]);
    let mut seen = Vec::new();
    let mut from = 1;
    while from <= tip {
        let page = get_json(&app, &auditor, &format!("/api/admin/audit?from={from}&limit=2")).await;
        let text = page.to_string();
        assert!(!text.contains("chest pain") && !text.contains("pat-audit-viewer"), "no PHI: {text}");
        for r in page["records"].as_array().unwrap() {
            let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(keys, ["action", "actor", "at", "hash", "seq"], "only what is stored in clear");
            assert_eq!(r["hash"].as_str().unwrap().len(), 64);
            seen.push(r["seq"].as_i64().unwrap());
        }
        from += 2;
    }
    assert_eq!(seen, (1..=tip).collect::<Vec<_>>());
    let actions = get_json(&app, &auditor, "/api/admin/audit?from=1&limit=500").await.to_string();
    assert!(actions.contains("\"action\":\"chat.turn/") && actions.contains("\"actor\":\"patient\""), "{actions}");

    let verify = get_json(&app, &auditor, "/api/admin/audit/verify").await;
    assert_eq!(verify["status"], "verified", "{verify}");
    assert_eq!(verify["records"], tip);
    assert_eq!(verify["checkpoints"], 1);
    assert_eq!(verify["signed_size"], signed);

    for bad in ["limit=0", "limit=501", "from=0", "from=abc", "color=red"] {
        assert_eq!(app.get(&auditor, &format!("/api/admin/audit?{bad}")).await.status(), 400, "{bad}");
    }
    for path in ["/api/admin/audit", "/api/admin/audit/verify"] {
        assert_eq!(app.get(&coordinator, path).await.status(), 403, "coordinator {path}");
        assert_eq!(app.get("", path).await.status(), 401, "anonymous {path}");
    }
    let admin = app.staff("ada", Role::Admin).await;
    assert_eq!(get_json(&app, &admin, "/api/admin/audit/verify").await["status"], "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_record_rewritten_in_the_database_sqlite() {
    verify_names_a_record_rewritten_in_the_database(Db::Sqlite, "DROP TRIGGER audit_log_no_update").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_record_rewritten_in_the_database_postgres() {
    verify_names_a_record_rewritten_in_the_database(Db::Postgres, "DROP TRIGGER audit_log_append_only ON audit_log").await;
}

/// Someone with the database drops the append-only trigger and rewrites record 3's actor.
async fn verify_names_a_record_rewritten_in_the_database(db: Db, drop_guard: &'static str) {
    let app = App::start(db).await;
    app.escalated_case("pat-audit-tamper").await;
    let auditor = app.staff("audrey", Role::Auditor).await;
    sign_checkpoint(&app).await;
    assert_eq!(get_json(&app, &auditor, "/api/admin/audit/verify").await["status"], "verified");

    let pool = app.state.audit.store().pool();
    sqlx::query(drop_guard).execute(pool).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").execute(pool).await.unwrap();

    let verify = get_json(&app, &auditor, "/api/admin/audit/verify").await;
    assert_eq!(verify["status"], "failed", "{verify}");
    assert_eq!(verify["first_bad_record"], 3, "{verify}");
    assert!(verify["message"].as_str().unwrap().starts_with("record 3: "), "{verify}");
    let page = get_json(&app, &auditor, "/api/admin/audit?from=3&limit=1").await;
    assert_eq!(page["records"][0]["actor"], "mallory", "the viewer shows the log as it is");
}
