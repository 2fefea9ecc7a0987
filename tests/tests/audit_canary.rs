//! A real turn on PostgreSQL: a canary PHI string the patient sends reads back through the
//! API and never appears in a `pg_dump` of the database, neither as text nor hex-encoded (as
//! bytea columns are dumped); and the running service signs the turn's audit record into a
//! checkpoint (every record, here) that verifies against the shipped checkpoint file. SQLite's
//! file and WAL are checked by `patient_api::every_turn_is_audited_sealed_and_chained`.

use std::time::{Duration, Instant};

use agent::audit::checkpoint::{init_signing_key, read_file};
use agent::audit_cli::verify_store;
use agent::store::{AuditStore, SqlStore};
use e2e::inproc::{postgres_schema_url, InProcess};
use e2e::Patient;

const CANARY: &str = "Quetzalcoatlus-7731";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_sealed_at_rest_and_signed_into_a_checkpoint() {
    let url = postgres_schema_url().await;
    let keys = tempfile::tempdir().unwrap();
    let (signing, shipped) = (keys.path().join("audit.key"), keys.path().join("checkpoints.jsonl"));
    let public = init_signing_key(&signing).unwrap();
    let app = InProcess::start_with(&format!(
        "[database]\nurl = \"{url}\"\n[audit]\nsigning_key_file = \"{}\"\ncheckpoint_file = \"{}\"\n\
         checkpoint_every_records = 1\n",
        signing.display(),
        shipped.display()
    ))
    .await;
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

    // The service signs a checkpoint covering the turn within a couple of seconds.
    let store = SqlStore::connect(&url, 1).await.unwrap();
    let tip = store.audit_tip().await.unwrap();
    let started = Instant::now();
    while read_file(&shipped).map(|c| c.iter().all(|c| (c.size as i64) < tip)).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(10), "no checkpoint covering record {tip}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let v = verify_store(&store, &read_file(&shipped).unwrap(), &[public]).await.unwrap().unwrap();
    assert!(v.signed_size as i64 >= tip && v.checkpoints >= 1, "{v:?}");
}
