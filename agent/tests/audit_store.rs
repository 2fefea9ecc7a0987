//! The audit log in the real stores (SQLite and PostgreSQL): records appended by committed
//! turns verify; checkpoints are signed once per size, stored and appended to the shipping
//! file; several replicas on one PostgreSQL keep one verifiable sequence; and tampering done
//! with SQL on the database file is caught and located.

use std::sync::Arc;

use agent::audit::checkpoint::{read_file, AuditSigner};
use agent::audit::checkpointer::{checkpoint_now, due};
use agent::audit::AuditSettings;
use agent::audit_cli::verify_store;
use agent::store::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn conv(id: &str) -> ConversationRow {
    ConversationRow::new(id, "p1", "patient", vec![0], 1)
}

/// One committed turn in a new conversation: one audit record.
async fn turn(s: &SqlStore, id: &str, payload: &[u8]) -> i64 {
    s.create_conversation(&conv(id)).await.unwrap();
    s.begin_turn(id, "L", 1, 1_000).await.unwrap();
    s.commit_turn(&TurnCommit {
        conversation_id: id.into(),
        lock_token: "L".into(),
        expected_state_version: 0,
        state: vec![1],
        status: "active".into(),
        script_id: None,
        script_version: None,
        messages: vec![("patient".into(), b"sealed".to_vec())],
        idempotency: None,
        audit: AuditEntry { at: 5, actor: "patient".into(), action: format!("chat.turn/{id}"), payload: payload.to_vec() },
        escalation: None,
        outbox: vec![],
        now: 10,
    })
    .await
    .unwrap()
}

async fn sqlite(dir: &std::path::Path) -> SqlStore {
    SqlStore::connect(&format!("sqlite://{}/agent.db", dir.display()), 4).await.unwrap()
}

async fn postgres_url() -> String {
    let base = std::env::var("AGENT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

async fn checkpoints_are_signed_once_per_size_and_verify(s: SqlStore, dir: &std::path::Path) {
    let signer = AuditSigner::from_seed([1; 32]);
    let keys = [signer.verifying_key()];
    let file = dir.join("checkpoints.jsonl");
    let settings = AuditSettings { checkpoint_every_records: 3, checkpoint_every_secs: 60, ..AuditSettings::default() };
    assert!(checkpoint_now(&s, &signer, Some(&file), 100).await.unwrap().is_none(), "nothing to sign yet");
    for i in 0..2 {
        turn(&s, &format!("c{i}"), &[i as u8]).await;
    }
    assert!(!due(&s, &settings, 100).await.unwrap(), "2 unsigned records, not yet a minute old");
    assert!(due(&s, &settings, 60_000).await.unwrap(), "no checkpoint for a minute");
    let first = checkpoint_now(&s, &signer, Some(&file), 100).await.unwrap().expect("signed");
    assert_eq!(first.size, 2);
    assert!(checkpoint_now(&s, &signer, Some(&file), 101).await.unwrap().is_none(), "same size twice");
    turn(&s, "c2", b"x").await;
    assert!(!due(&s, &settings, 200).await.unwrap(), "1 unsigned record, young checkpoint");
    assert!(due(&s, &settings, 100 + 60_000).await.unwrap(), "old enough");
    for i in 3..5 {
        turn(&s, &format!("c{i}"), b"y").await;
    }
    assert!(due(&s, &settings, 200).await.unwrap(), "3 unsigned records");
    let second = checkpoint_now(&s, &signer, Some(&file), 200).await.unwrap().expect("signed");
    assert_eq!(second.size, 5);
    assert_eq!(s.checkpoints().await.unwrap(), vec![first.clone(), second.clone()]);
    assert_eq!(read_file(&file).unwrap(), vec![first, second]);
    let v = verify_store(&s, &s.checkpoints().await.unwrap(), &keys).await.unwrap().unwrap();
    assert_eq!((v.records, v.checkpoints, v.signed_size), (5, 2, 5));
}

#[tokio::test]
async fn sqlite_checkpoints_are_signed_once_per_size_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    checkpoints_are_signed_once_per_size_and_verify(sqlite(dir.path()).await, dir.path()).await;
}

#[tokio::test]
async fn postgres_checkpoints_are_signed_once_per_size_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqlStore::connect(&postgres_url().await, 4).await.unwrap();
    checkpoints_are_signed_once_per_size_and_verify(s, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_keep_one_verifiable_sequence() {
    let url = postgres_url().await;
    let replicas = [Arc::new(SqlStore::connect(&url, 4).await.unwrap()), Arc::new(SqlStore::connect(&url, 4).await.unwrap())];
    let signer = Arc::new(AuditSigner::from_seed([2; 32]));
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = replicas[i % 2].clone();
        let signer = signer.clone();
        tasks.push(tokio::spawn(async move {
            turn(&s, &format!("c{i}"), &[i as u8; 3]).await;
            // Both replicas sign as they go; a size is stored once.
            checkpoint_now(s.as_ref(), &signer, None, i as i64).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    checkpoint_now(replicas[0].as_ref(), &signer, None, 99).await.unwrap();
    let cps = replicas[1].checkpoints().await.unwrap();
    assert_eq!(cps.last().unwrap().size, 24);
    let v = verify_store(&replicas[1], &cps, &[signer.verifying_key()]).await.unwrap().unwrap();
    assert_eq!((v.records, v.signed_size), (24, 24));
}

async fn the_log_refuses_changes_through_sql(s: SqlStore) {
    turn(&s, "c1", b"x").await;
    checkpoint_now(&s, &AuditSigner::from_seed([1; 32]), None, 1).await.unwrap().unwrap();
    for sql in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "UPDATE audit_checkpoints SET root = 'x'",
        "DELETE FROM audit_checkpoints",
    ] {
        let err = sqlx::query(sql).execute(s.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(s.audit_range(1, 10).await.unwrap()[0].actor, "patient");
}

#[tokio::test]
async fn sqlite_the_log_refuses_changes_through_sql() {
    let dir = tempfile::tempdir().unwrap();
    the_log_refuses_changes_through_sql(sqlite(dir.path()).await).await;
}

#[tokio::test]
async fn postgres_the_log_refuses_changes_through_sql() {
    let url = postgres_url().await;
    let s = SqlStore::connect(&url, 2).await.unwrap();
    the_log_refuses_changes_through_sql(s).await;
    let s = SqlStore::connect(&url, 2).await.unwrap();
    let err = sqlx::query("TRUNCATE audit_log").execute(s.pool()).await.expect_err("TRUNCATE");
    assert!(err.to_string().contains("append-only"), "{err}");
}

/// Someone with the database file drops the append-only triggers first.
async fn drop_guards(s: &SqlStore) {
    for t in ["audit_log_no_update", "audit_log_no_delete", "audit_checkpoints_no_update", "audit_checkpoints_no_delete"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER {t}"))).execute(s.pool()).await.unwrap();
    }
}

/// The SQL an attacker with the database file could run, and the record verify must name.
async fn sql_tamper(s: &SqlStore, rng: &mut StdRng, n: i64) -> (String, i64) {
    let k = rng.random_range(1..=n);
    let pool = s.pool();
    match rng.random_range(0..4) {
        0 => {
            let rows = s.audit_range(k, 1).await.unwrap();
            let mut payload = rows[0].payload.clone();
            let i = rng.random_range(0..payload.len());
            payload[i] ^= 0x40;
            sqlx::query("UPDATE audit_log SET payload = $1 WHERE seq = $2").bind(payload).bind(k).execute(pool).await.unwrap();
            (format!("flip a payload byte of {k}"), k)
        }
        1 => {
            sqlx::query("DELETE FROM audit_log WHERE seq = $1").bind(k).execute(pool).await.unwrap();
            (format!("delete {k}"), k)
        }
        2 if n > 1 => {
            let j = if k == n { k - 1 } else { k + 1 };
            // Swap two records' contents (seq is the key and stays).
            let a = s.audit_range(k, 1).await.unwrap().remove(0);
            let b = s.audit_range(j, 1).await.unwrap().remove(0);
            for (seq, r) in [(k, &b), (j, &a)] {
                sqlx::query("UPDATE audit_log SET at = $1, actor = $2, action = $3, payload = $4, prev_hash = $5, hash = $6 WHERE seq = $7")
                    .bind(r.at).bind(&r.actor).bind(&r.action).bind(&r.payload).bind(&r.prev_hash).bind(format!("{}x", r.hash)).bind(seq)
                    .execute(pool).await.unwrap();
            }
            (format!("swap {k} and {j}"), k.min(j))
        }
        _ => {
            let keep = k - 1;
            sqlx::query("DELETE FROM audit_log WHERE seq > $1").bind(keep).execute(pool).await.unwrap();
            (format!("truncate to {keep}"), keep + 1)
        }
    }
}

#[tokio::test]
async fn sql_tampering_with_the_sqlite_file_is_caught_and_located() {
    let clean = tempfile::tempdir().unwrap();
    let signer = AuditSigner::from_seed([3; 32]);
    let keys = [signer.verifying_key()];
    let n = 12;
    {
        let s = sqlite(clean.path()).await;
        for i in 0..n {
            turn(&s, &format!("c{i}"), &[i as u8, 7, 7]).await;
        }
        checkpoint_now(&s, &signer, Some(&clean.path().join("shipped.jsonl")), 1).await.unwrap().unwrap();
        s.pool().close().await;
    }
    // The checkpoints as shipped off the machine: deleting them from the database hides nothing.
    let shipped = read_file(&clean.path().join("shipped.jsonl")).unwrap();
    let mut rng = StdRng::seed_from_u64(99);
    for trial in 0..60 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(clean.path().join("agent.db"), dir.path().join("agent.db")).unwrap();
        let s = sqlite(dir.path()).await;
        assert!(verify_store(&s, &shipped, &keys).await.unwrap().is_ok());
        drop_guards(&s).await;
        let (what, first_bad) = sql_tamper(&s, &mut rng, n).await;
        sqlx::query("DELETE FROM audit_checkpoints").execute(s.pool()).await.unwrap();
        let failure = verify_store(&s, &shipped, &keys).await.unwrap().expect_err(&format!("trial {trial}: {what}"));
        assert_eq!(failure.seq, Some(first_bad), "trial {trial}: {what}: {failure}");
        s.pool().close().await;
    }
}
