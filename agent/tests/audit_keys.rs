//! Envelope encryption in the real stores (SQLite and PostgreSQL): per-patient data keys whose
//! ciphertexts open only in their own table, row, patient and key version; a use limit that
//! moves to a new data key (and survives a restart); key rotation while values are sealed and
//! opened concurrently, with zero failures; shredding one patient (refused under a legal
//! hold) leaves everyone else readable and the audit log verifiable.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent::audit_cli::verify_store;
use agent::crypto::{kek, Aad, Cipher, KeyPolicy};
use agent::store::*;

/// No key cache: every seal and open goes to the store and unwraps, the path rotation races.
fn policy(max_uses: u64) -> KeyPolicy {
    KeyPolicy { max_uses, cache: Duration::ZERO }
}

fn aad<'a>(table: &'a str, row: &'a str, patient: &'a str) -> Aad<'a> {
    Aad { table, row, patient }
}

/// A store and a cipher over it, with the key file in `dir`.
async fn setup(url: &str, dir: &std::path::Path, max_uses: u64) -> (Arc<SqlStore>, Cipher) {
    let key = dir.join("master.key");
    if !key.exists() {
        agent::crypto::init_key_file(&key).unwrap();
    }
    let store = Arc::new(SqlStore::connect(url, 4).await.unwrap());
    let cipher = Cipher::from_key_file(&key).unwrap().with_envelope(store.clone(), policy(max_uses));
    (store, cipher)
}

#[test]
fn the_use_limit_must_stay_well_below_two_to_the_32() {
    let e = agent::config::Settings::from_toml_overrides(&["[crypto]\nmax_key_uses = 4294967296\n"]).unwrap_err();
    assert_eq!(e.key, "crypto.max_key_uses");
    let s = agent::config::Settings::from_toml_overrides(&["[crypto]\nmax_key_uses = 16\n"]).unwrap();
    assert_eq!((s.crypto.max_key_uses, s.retention.audit_days), (16, 2190), "audit kept six years by default");
}

fn version_of(sealed: &[u8]) -> u32 {
    assert_eq!(sealed[0], 2, "sealed under a data key");
    u32::from_be_bytes(sealed[1..5].try_into().unwrap())
}

async fn a_moved_ciphertext_does_not_open(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let (_, c) = setup(&url, dir.path(), 1000).await;
    let sealed = c.seal_for(&aad("messages", "r1", "p1"), b"my chest hurts").await.unwrap();
    assert_eq!(c.open_for(&aad("messages", "r1", "p1"), &sealed).await.unwrap(), b"my chest hurts");
    for (t, r, p) in [("messages", "r2", "p1"), ("messages", "r1", "p2"), ("conversations", "r1", "p1")] {
        assert!(c.open_for(&aad(t, r, p), &sealed).await.is_err(), "moved to {t}/{r}/{p}");
    }
    let mut other_version = sealed.clone();
    other_version[4] ^= 1;
    assert!(c.open_for(&aad("messages", "r1", "p1"), &other_version).await.is_err());
}

async fn the_use_limit_moves_to_a_new_data_key(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let (store, c) = setup(&url, dir.path(), 4).await;
    let mut sealed = vec![];
    for i in 0..10 {
        sealed.push(c.seal_for(&aad("messages", "r", "p1"), format!("m{i}").as_bytes()).await.unwrap());
    }
    let versions: Vec<u32> = sealed.iter().map(|s| version_of(s)).collect();
    assert_eq!(versions, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
    for (i, s) in sealed.iter().enumerate() {
        assert_eq!(c.open_for(&aad("messages", "r", "p1"), s).await.unwrap(), format!("m{i}").as_bytes());
    }
    assert_eq!(store.data_key("p1", 1).await.unwrap().unwrap().uses, 4, "the count is persisted");
    // A restarted service continues the count instead of starting over.
    let (_, again) = setup(&url, dir.path(), 4).await;
    let v: Vec<u32> = {
        let mut v = vec![];
        for _ in 0..3 {
            v.push(version_of(&again.seal_for(&aad("messages", "r", "p1"), b"x").await.unwrap()));
        }
        v
    };
    assert_eq!(v, [3, 3, 4]);
}

async fn rotation_during_traffic_fails_no_read(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    let (store, c) = setup(&url, dir.path(), 1 << 20).await;
    // Traffic runs until both rotations are done (at least 40 values each), so the rotations
    // always overlap it, however loaded the machine; `overlap` counts values sealed meanwhile.
    let phase = Arc::new(AtomicUsize::new(0));
    let overlap = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for t in 0..4 {
        let (c, phase, overlap) = (c.clone(), phase.clone(), overlap.clone());
        tasks.push(tokio::spawn(async move {
            let (patient, mut failures, mut values) = (format!("p{t}"), 0, vec![]);
            let mut i = 0;
            while i < 40 || phase.load(Ordering::Acquire) < 2 {
                let text = format!("value {i}");
                values.push(c.seal_for(&aad("messages", "r", &patient), text.as_bytes()).await.unwrap());
                if phase.load(Ordering::Acquire) == 1 {
                    overlap.fetch_add(1, Ordering::AcqRel);
                }
                // Re-read the most recent values (all of them while there are few).
                let from = values.len().saturating_sub(40);
                for (j, v) in values.iter().enumerate().skip(from) {
                    if c.open_for(&aad("messages", "r", &patient), v).await.ok() != Some(format!("value {j}").into_bytes()) {
                        failures += 1;
                    }
                }
                i += 1;
                tokio::task::yield_now().await;
            }
            (failures, values)
        }));
    }
    // Two rotations while the traffic runs, each rewrapping in the background.
    tokio::time::sleep(Duration::from_millis(10)).await;
    phase.store(1, Ordering::Release);
    for _ in 0..2 {
        kek::rotate_file(&key).unwrap();
        // Traffic may already have rewrapped its own keys on use; none may be left behind (below).
        c.envelope().unwrap().rewrap_all().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    phase.store(2, Ordering::Release);
    assert!(overlap.load(Ordering::Acquire) > 0, "values were sealed while the keys rotated");
    let mut all = vec![];
    for (t, task) in tasks.into_iter().enumerate() {
        let (failures, values) = task.await.unwrap();
        assert_eq!(failures, 0, "reads failed for p{t}");
        all.push(values);
    }
    c.envelope().unwrap().rewrap_all().await.unwrap();
    assert_eq!(store.count_data_keys_under(1).await.unwrap() + store.count_data_keys_under(2).await.unwrap(), 0);
    kek::retire_in_file(&key, 1).unwrap();
    kek::retire_in_file(&key, 2).unwrap();
    // A fresh process with only the newest key reads everything.
    let (_, fresh) = setup(&url, dir.path(), 1 << 20).await;
    for (t, values) in all.iter().enumerate() {
        for (j, v) in values.iter().enumerate() {
            let got = fresh.open_for(&aad("messages", "r", &format!("p{t}")), v).await.unwrap();
            assert_eq!(got, format!("value {j}").into_bytes());
        }
    }
}

fn entry(action: &str, payload: Vec<u8>) -> AuditEntry {
    AuditEntry { at: 1, actor: "operator".into(), action: action.into(), payload }
}

async fn shredding_one_patient_spares_the_others_and_the_audit_log(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let (store, c) = setup(&url, dir.path(), 1000).await;
    let mut sealed = vec![];
    for p in ["p1", "p2", "p3"] {
        let canary = format!("CANARY-{p}-rash");
        let v = c.seal_for(&aad("messages", "c", p), canary.as_bytes()).await.unwrap();
        // The audit record of that patient's turn carries ciphertext under their key.
        let audit = c.seal_for(&aad("audit_log", "c", p), canary.as_bytes()).await.unwrap();
        store.place_hold("nobody", "setup", &entry("patient.hold", audit)).await.unwrap();
        sealed.push((p, canary, v));
    }
    store.place_hold("p1", "litigation", &entry("patient.hold", b"{}".to_vec())).await.unwrap();
    let refused = store.shred_patient("p1", &entry("patient.shred", b"{}".to_vec())).await.unwrap();
    assert_eq!(refused, Err(ShredRefused::LegalHold("litigation".into())));
    assert!(c.open_for(&aad("messages", "c", "p1"), &sealed[0].2).await.is_ok(), "held data intact");
    assert!(store.release_hold("p1", &entry("patient.release", b"{}".to_vec())).await.unwrap());
    assert_eq!(store.shred_patient("p1", &entry("patient.shred", b"{}".to_vec())).await.unwrap(), Ok(1));
    c.envelope().unwrap().forget("p1");

    let (_, fresh) = setup(&url, dir.path(), 1000).await;
    for cipher in [&c, &fresh] {
        assert!(cipher.open_for(&aad("messages", "c", "p1"), &sealed[0].2).await.is_err(), "p1 unreadable");
        for (p, canary, v) in &sealed[1..] {
            assert_eq!(cipher.open_for(&aad("messages", "c", p), v).await.unwrap(), canary.as_bytes());
        }
    }
    let v = verify_store(&store, &[], &[]).await.unwrap().expect("the audit log still verifies");
    assert_eq!(v.records, 6, "3 holds, hold, release, shred");
}

async fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/agent.db", dir.path().display())
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

macro_rules! both {
    ($($name:ident),*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$name(super::sqlite_url(&dir).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::postgres_url().await).await;
                }
            )*
        }
    };
}

both!(
    a_moved_ciphertext_does_not_open,
    the_use_limit_moves_to_a_new_data_key,
    rotation_during_traffic_fails_no_read,
    shredding_one_patient_spares_the_others_and_the_audit_log
);
