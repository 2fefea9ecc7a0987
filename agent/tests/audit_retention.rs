//! The retention sweep on SQLite and PostgreSQL: expired conversations (with their messages),
//! turn results and sessions go; recent ones, patients under a legal hold and escalated
//! conversations stay; audit records are kept (counted when past retention) and the log,
//! with the sweep's own record, still verifies.

use agent::audit::retention::{sweep, RetentionSettings};
use agent::audit_cli::verify_store;
use agent::store::*;

const DAY: i64 = 24 * 60 * 60 * 1000;
const NOW: i64 = 1_000 * DAY;

fn conv(id: &str, patient: &str) -> ConversationRow {
    ConversationRow::new(id, patient, "patient", vec![0], 0)
}

/// A turn in `id` at `at` (sets the conversation's last update), optionally saving a result.
async fn turn(s: &SqlStore, id: &str, version: i64, at: i64, key: Option<&str>, escalate: bool) {
    s.begin_turn(id, "L", at, at + 1000).await.unwrap();
    s.commit_turn(&TurnCommit {
        conversation_id: id.into(),
        lock_token: "L".into(),
        expected_state_version: version,
        state: vec![1],
        status: "active".into(),
        script_id: None,
        script_version: None,
        messages: vec![("patient".into(), b"sealed".to_vec())],
        idempotency: key.map(|k| (k.to_owned(), b"r".to_vec())),
        audit: AuditEntry { at, actor: "patient".into(), action: format!("chat.turn/{id}"), payload: vec![1] },
        escalation: escalate.then(|| NewEscalation { id: format!("e-{id}"), priority: "high".into(), reason: "x".into(), due_at: at }),
        outbox: vec![],
        now: at,
    })
    .await
    .unwrap();
}

async fn expired_data_goes_and_held_or_escalated_data_stays(url: String) {
    let s = SqlStore::connect(&url, 4).await.unwrap();
    let old = NOW - 40 * DAY;
    for (id, patient) in [("old", "p1"), ("new", "p1"), ("held", "p2"), ("escalated", "p3")] {
        s.create_conversation(&conv(id, patient)).await.unwrap();
    }
    turn(&s, "old", 0, old, None, false).await;
    turn(&s, "new", 0, old, Some("k-old"), false).await;
    turn(&s, "new", 1, NOW - DAY, Some("k-new"), false).await;
    turn(&s, "held", 0, old, None, false).await;
    turn(&s, "escalated", 0, old, None, true).await;
    s.place_hold("p2", "litigation", &AuditEntry { at: old, actor: "operator".into(), action: "patient.hold".into(), payload: vec![] })
        .await
        .unwrap();
    s.create_session("s-old", "p1", old).await.unwrap();
    s.create_session("s-new", "p1", NOW - 3_600_000).await.unwrap();

    let settings = RetentionSettings { conversations_days: 30, turn_results_days: 7, sessions_days: 1, audit_days: 10 };
    let swept = sweep(&s, &settings, NOW).await.unwrap();
    assert_eq!((swept.conversations, swept.messages, swept.sessions), (1, 1, 1), "{swept:?}");
    assert_eq!(swept.turn_results, 1, "the week-old saved result");
    assert_eq!(swept.audit_past_retention, 5, "five records older than 10 days, all kept");

    assert!(s.conversation("old").await.unwrap().is_none());
    assert!(s.messages("old").await.unwrap().is_empty());
    for id in ["new", "held", "escalated"] {
        assert!(s.conversation(id).await.unwrap().is_some(), "{id} kept");
        assert!(!s.messages(id).await.unwrap().is_empty(), "{id}'s messages kept");
    }
    assert_eq!(s.turn_result("new", "k-old").await.unwrap(), None);
    assert!(s.turn_result("new", "k-new").await.unwrap().is_some());
    assert!(s.session("s-old").await.unwrap().is_none());
    assert!(s.session("s-new").await.unwrap().is_some());

    let v = verify_store(&s, &[], &[]).await.unwrap().expect("the log verifies after the sweep");
    assert_eq!(v.records, 7, "5 turns, the hold, the sweep");
    let last = s.audit_range(7, 1).await.unwrap().remove(0);
    assert_eq!(last.action, "retention.sweep");
}

#[tokio::test]
async fn sqlite_expired_data_goes_and_held_or_escalated_data_stays() {
    let dir = tempfile::tempdir().unwrap();
    expired_data_goes_and_held_or_escalated_data_stays(format!("sqlite://{}/agent.db", dir.path().display())).await;
}

#[tokio::test]
async fn postgres_expired_data_goes_and_held_or_escalated_data_stays() {
    let base = std::env::var("AGENT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    expired_data_goes_and_held_or_escalated_data_stays(format!("{base}{sep}options=-csearch_path%3D{schema}")).await;
}
