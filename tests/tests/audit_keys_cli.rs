//! `agent patient hold|release|shred` and `agent keys rotate|retire` through the real binary:
//! a held patient is not shredded; once released, shredding makes their values unreadable
//! while another patient's still open; rotation rewraps every data key so the old key version
//! can be retired; and the audit log, which records the holds and the shred, still verifies.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use agent::crypto::{Aad, Cipher, KeyPolicy};
use agent::store::SqlStore;
use e2e::{agent_command, init_key};

fn run(data: &Path, args: &[&str]) -> Output {
    agent_command(data).args(args).output().expect("run agent")
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn cipher(data: &Path) -> Cipher {
    let s = Arc::new(SqlStore::connect(&format!("sqlite://{}/agent.db", data.display()), 2).await.unwrap());
    Cipher::from_key_file(&data.join("master.key")).unwrap().with_envelope(s, KeyPolicy::default())
}

fn aad(patient: &str) -> Aad<'_> {
    Aad { table: "messages", row: "c1", patient }
}

#[tokio::test]
async fn shredding_holds_and_key_rotation_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    init_key(data);
    let c = cipher(data).await;
    let p1 = c.seal_for(&aad("p1"), b"CANARY-p1").await.unwrap();
    let p2 = c.seal_for(&aad("p2"), b"CANARY-p2").await.unwrap();

    ok(data, &["patient", "hold", "p1", "--reason", "litigation 2026-17"]);
    let out = run(data, &["patient", "shred", "p1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("legal hold") && err.trim().lines().count() == 1, "{err}");
    ok(data, &["patient", "release", "p1"]);
    assert!(ok(data, &["patient", "shred", "p1"]).contains("1 data keys"));

    let rotated = ok(data, &["keys", "rotate"]);
    assert!(rotated.contains("key version 2") && rotated.contains("1 data keys rewrapped"), "{rotated}");
    assert!(!run(data, &["keys", "retire", "2"]).status.success(), "never the current version");
    assert!(!run(data, &["keys", "retire", "1"]).status.success(), "version 1 needs --force");
    ok(data, &["keys", "retire", "1", "--force"]);

    // A fresh process holding only key version 2: p1 is gone for good, p2 reads back.
    let fresh = cipher(data).await;
    assert!(fresh.open_for(&aad("p1"), &p1).await.is_err());
    assert_eq!(fresh.open_for(&aad("p2"), &p2).await.unwrap(), b"CANARY-p2");

    assert!(ok(data, &["audit", "verify"]).starts_with("audit log OK: 3 records"));
    let records = ok(data, &["audit", "export", "--format", "jsonl"]);
    let actions: Vec<String> = records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["patient.hold", "patient.release", "patient.shred"], "the refused shred left no record");
}
