//! Encryption at rest on PostgreSQL: a canary PHI string a patient sends through a real turn
//! reads back through the API, and never appears in a `pg_dump` of the database, neither as
//! text nor hex-encoded (as bytea columns are dumped). SQLite's file and WAL are checked by
//! `patient_api::every_turn_is_audited_sealed_and_chained`.

use e2e::inproc::{postgres_schema_url, InProcess};
use e2e::Patient;

const CANARY: &str = "Quetzalcoatlus-7731";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_sent_through_a_turn_is_absent_from_a_postgres_dump() {
    let url = postgres_schema_url().await;
    let app = InProcess::start_with(&format!("[database]\nurl = \"{url}\"\n")).await;
    let p = Patient::demo(&app.base_url, 3).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    p.say(&conv, &format!("my neighbour {CANARY} says I should see a cardiologist")).await.unwrap();
    let (status, history) = p.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
    assert_eq!(status, 200);
    assert!(history.to_string().contains(CANARY), "reads back: {history}");

    let schema = url.split("search_path%3D").nth(1).expect("schema in the URL");
    let base = url.split('?').next().unwrap();
    let out = std::process::Command::new("pg_dump").args([base, "--schema", schema]).output().expect("pg_dump runs");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    let dump = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(dump.contains("audit_log") && dump.contains("data_keys"), "dumped the right schema");
    assert!(dump.matches("copy ").count() >= 4, "with data");
    assert!(!dump.contains(&CANARY.to_lowercase()), "canary in the dump as text");
    assert!(!dump.contains(&hex::encode(CANARY)), "canary in the dump as bytea");
}
