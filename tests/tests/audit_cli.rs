//! `agent audit` through the real binary: a log written by committed turns verifies, is signed
//! by `audit checkpoint`, exports as FHIR AuditEvents (IHE BALP shape) or JSON lines, proves a
//! record's inclusion and two checkpoints' consistency; and after one byte of a record is
//! changed, `verify` exits non-zero with one line naming that record.

use std::path::Path;
use std::process::Output;

use agent::audit::merkle;
use agent::crypto::{Aad, Cipher};
use agent::store::*;
use e2e::{agent_command, init_key};

fn run(data: &Path, args: &[&str]) -> Output {
    agent_command(data).args(args).output().expect("run agent")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Turns of patient p1 at noon on the given days of January 2026, with sealed audit payloads.
async fn write_turns(data: &Path, days: &[u32]) {
    let cipher = Cipher::from_key_file(&data.join("master.key")).unwrap();
    let s = SqlStore::connect(&format!("sqlite://{}/agent.db", data.display()), 2).await.unwrap();
    for &day in days {
        let id = format!("conv-{day}");
        let at = chrono::NaiveDate::from_ymd_opt(2026, 1, day).unwrap().and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp_millis();
        s.create_conversation(&ConversationRow::new(&id, "p1", "patient", vec![0], at))
        .await
        .unwrap();
        s.begin_turn(&id, "L", at, at + 1000).await.unwrap();
        let record = serde_json::json!({"type": "chat.turn", "patient": "p1", "conversation": id, "outcome": "active"});
        let aad = Aad { table: "audit_log", row: &id, patient: "p1" };
        let payload = cipher.seal(&aad, record.to_string().as_bytes()).unwrap();
        s.commit_turn(&TurnCommit {
            conversation_id: id.clone(),
            lock_token: "L".into(),
            expected_state_version: 0,
            state: vec![1],
            status: "active".into(),
            script_id: None,
            script_version: None,
            messages: vec![],
            idempotency: None,
            audit: AuditEntry { at, actor: "patient".into(), action: format!("chat.turn/{id}"), payload },
            escalation: None,
            outbox: vec![],
            now: at,
        })
        .await
        .unwrap();
    }
    s.pool().close().await;
}

#[tokio::test]
async fn audit_verify_export_and_prove_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    init_key(data);
    assert!(data.join("data/audit-signing.key").exists(), "keys init creates the audit signing key");
    assert!(data.join("data/audit-signing.key.pub").exists());
    write_turns(data, &[10, 11]).await;
    assert!(text(&run(data, &["audit", "checkpoint"]).stdout).contains("size 2"));
    write_turns(data, &[12]).await;
    let out = run(data, &["audit", "checkpoint"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("size 3"), "{}", text(&out.stdout));
    assert!(text(&run(data, &["audit", "checkpoint"]).stdout).contains("nothing new"));
    let shipped = std::fs::read_to_string(data.join("data/audit-checkpoints.jsonl")).unwrap();
    assert_eq!(shipped.lines().count(), 2);

    let out = run(data, &["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("audit log OK: 3 records, 2 checkpoints"), "{}", text(&out.stdout));
    // A verifier holding only the public key and the shipped file, not the signing key.
    std::fs::copy(data.join("data/audit-signing.key.pub"), data.join("auditor.pub")).unwrap();
    std::fs::remove_file(data.join("data/audit-signing.key.pub")).unwrap();
    let pubkey = data.join("auditor.pub");
    let shipped_file = data.join("data/audit-checkpoints.jsonl");
    let args = ["audit", "verify", "--public-key", pubkey.to_str().unwrap(), "--checkpoints", shipped_file.to_str().unwrap()];
    let out = agent_command(data).args(args).env("AGENT__AUDIT__SIGNING_KEY_FILE", data.join("nowhere")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let other = data.join("other.pub");
    std::fs::write(&other, format!("{}\n", hex::encode([9u8; 32]))).unwrap();
    let args = ["audit", "verify", "--public-key", other.to_str().unwrap()];
    let out = agent_command(data).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "checkpoints by an unknown key fail: {}", text(&out.stdout));

    let out = run(data, &["audit", "export", "--from", "2026-01-11", "--to", "2026-01-12", "--format", "fhir"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 2, "11th and the whole 12th: {events:?}");
    assert_eq!(events[0]["resourceType"], "AuditEvent");
    assert_eq!(events[0]["recorded"], "2026-01-11T12:00:00.000Z");
    assert_eq!(events[0]["agent"][0]["who"]["reference"], "Patient/p1");
    let out = run(data, &["audit", "export", "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["record"]["conversation"], "conv-12");

    let out = run(data, &["audit", "prove", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let proof: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = |v: &serde_json::Value| -> merkle::Hash { hex::decode(v.as_str().unwrap()).unwrap().try_into().unwrap() };
    let path: Vec<merkle::Hash> = proof["inclusion_proof"].as_array().unwrap().iter().map(h).collect();
    assert!(merkle::verify_inclusion(1, 3, &h(&proof["leaf_hash"]), &path, &h(&proof["checkpoint"]["root"])));

    let out = run(data, &["audit", "consistency", "2", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let path: Vec<merkle::Hash> = c["consistency_proof"].as_array().unwrap().iter().map(h).collect();
    assert!(merkle::verify_consistency(2, 3, &h(&c["first"]["root"]), &h(&c["second"]["root"]), &path));

    // One byte of record 2's sealed payload changed: verify names it, in one line, exit 1.
    let s = SqlStore::connect(&format!("sqlite://{}/agent.db", data.display()), 1).await.unwrap();
    let mut payload = s.audit_range(2, 1).await.unwrap().remove(0).payload;
    payload[20] ^= 1;
    // Someone with the file drops the append-only trigger first.
    sqlx::query("DROP TRIGGER audit_log_no_update").execute(s.pool()).await.unwrap();
    sqlx::query("UPDATE audit_log SET payload = $1 WHERE seq = 2").bind(payload).execute(s.pool()).await.unwrap();
    s.pool().close().await;
    let out = run(data, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("record 2"), "{err}");
}
