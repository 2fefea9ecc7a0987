//! The outcome figures over a known data set, on SQLite and PostgreSQL: which conversations
//! were contained, escalations by reason, time to a person by priority (nearest-rank median and
//! p90), SLA breaches, conversations finished by script.

use std::sync::Arc;

use agent::store::staff::EscalationChange;
use agent::store::*;

const MIN: i64 = 60_000;

fn audit(action: &str) -> AuditEntry {
    AuditEntry { at: 1, actor: "test".into(), action: action.into(), payload: vec![1] }
}

/// One conversation with one turn ending in `status`, under `script`, escalated when
/// `escalation` is (id, priority, reason kind); the turn commits at `at`.
async fn conversation(s: &dyn Store, id: &str, status: &str, script: &str, escalation: Option<(&str, &str, &str)>, at: i64) {
    s.create_conversation(&ConversationRow::new(id, &format!("p-{id}"), "patient", vec![0], at)).await.unwrap();
    s.begin_turn(id, "L", at, at + 1000).await.unwrap();
    let escalation = escalation.map(|(eid, priority, kind)| NewEscalation {
        id: eid.into(),
        priority: priority.into(),
        reason: format!("{{\"kind\":\"{kind}\"}}"),
        due_at: at + 10 * MIN,
    });
    s.commit_turn(&TurnCommit {
        conversation_id: id.into(),
        lock_token: "L".into(),
        expected_state_version: 0,
        state: vec![1],
        status: status.into(),
        script_id: Some(script.into()),
        script_version: Some(1),
        messages: vec![("patient".into(), b"x".to_vec())],
        idempotency: None,
        audit: audit(&format!("chat.turn/{id}")),
        escalation,
        outbox: vec![],
        now: at,
    })
    .await
    .unwrap();
}

async fn claim(s: &dyn Store, id: &str, at: i64) {
    let change = EscalationChange { id, expected_version: 0, status: "claimed", claimed_by: Some("staff-1"), note: None, resolved_at: None, now: at };
    assert!(s.staff().change_escalation(&change, &audit("staff.case_claimed")).await.unwrap());
    // Work on a claimed case does not move the time a person first took it.
    let later = EscalationChange { expected_version: 1, status: "in_progress", now: at + 60 * MIN, ..change };
    assert!(s.staff().change_escalation(&later, &audit("staff.case_in_progress")).await.unwrap());
}

async fn the_figures_match_a_known_day(s: Arc<dyn Store>) {
    let t0 = 1_800_000_000_000;
    let empty = s.outcomes().figures().await.unwrap();
    assert_eq!((empty.contained, empty.escalated, empty.containment), (0, 0, 0.0));

    conversation(s.as_ref(), "c1", "finished", "appointment", None, t0).await;
    conversation(s.as_ref(), "c2", "finished", "refill", None, t0).await;
    conversation(s.as_ref(), "c3", "active", "appointment", None, t0).await;
    conversation(s.as_ref(), "c7", "finished", "discharge_followup", None, t0).await;
    conversation(s.as_ref(), "c4", "escalated", "appointment", Some(("e4", "urgent", "red_flag")), t0).await;
    conversation(s.as_ref(), "c5", "escalated", "refill", Some(("e5", "normal", "asked_for_person")), t0).await;
    conversation(s.as_ref(), "c6", "escalated", "discharge_followup", Some(("e6", "urgent", "red_flag")), t0).await;
    conversation(s.as_ref(), "c8", "escalated", "refill", Some(("e8", "high", "low_confidence")), t0).await;
    claim(s.as_ref(), "e4", t0 + 5 * MIN).await;
    claim(s.as_ref(), "e6", t0 + 15 * MIN).await;
    claim(s.as_ref(), "e5", t0 + 30 * MIN).await;
    assert!(s.staff().mark_breach("e5", &audit("staff.sla_breach")).await.unwrap());

    let o = s.outcomes().figures().await.unwrap();
    assert_eq!((o.contained, o.escalated, o.active), (3, 4, 1));
    assert!((o.containment - 3.0 / 7.0).abs() < 1e-9, "{}", o.containment);
    let pairs = |m: &std::collections::BTreeMap<String, u64>| m.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>();
    let own = |v: &[(&str, u64)]| v.iter().map(|(k, n)| (k.to_string(), *n)).collect::<Vec<_>>();
    assert_eq!(pairs(&o.escalations_by_reason), own(&[("asked_for_person", 1), ("low_confidence", 1), ("red_flag", 2)]));
    assert_eq!(pairs(&o.sla_breaches), own(&[("normal", 1)]));
    assert_eq!(pairs(&o.completed_by_script), own(&[("appointment", 1), ("discharge_followup", 1), ("refill", 1)]));
    let urgent = &o.time_to_person["urgent"];
    assert_eq!((urgent.count, urgent.median_ms, urgent.p90_ms), (2, 5 * MIN, 15 * MIN));
    let normal = &o.time_to_person["normal"];
    assert_eq!((normal.count, normal.median_ms, normal.p90_ms), (1, 30 * MIN, 30 * MIN));
    assert!(!o.time_to_person.contains_key("high"), "never claimed: no time to a person yet");
}

async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/agent.db", dir.path().display());
    (Arc::new(SqlStore::connect(&url, 4).await.unwrap()), dir)
}

/// A fresh schema in the run's PostgreSQL database (`AGENT_TEST_DATABASE_URL`, set by
/// scripts/test.sh), or in the local server's `postgres` database when run by hand.
async fn postgres_store() -> (Arc<dyn Store>, ()) {
    let base = std::env::var("AGENT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("o_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable for the outcome stories");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    (Arc::new(SqlStore::connect(&url, 4).await.unwrap()), ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_figures_sqlite() {
    let (s, _dir) = sqlite_store().await;
    the_figures_match_a_known_day(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_figures_postgres() {
    let (s, _) = postgres_store().await;
    the_figures_match_a_known_day(s).await;
}
