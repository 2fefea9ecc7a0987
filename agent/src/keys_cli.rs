//! `agent keys rotate|retire` and `agent patient shred|hold|release`, at the binary's edge:
//! key-encryption key versions, rewrapping the patients' data keys, legal holds, and
//! crypto-shredding. Each patient action is itself an audit record.

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use fhir_client::PatientId;

use crate::config::Settings;
use crate::crypto::{kek, Cipher, KeyPolicy};
use crate::store::{AuditEntry, KeyStore, ShredRefused, SqlStore};

#[derive(Subcommand, Debug)]
pub enum PatientCommand {
    /// Destroy the patient's data keys: everything stored about them becomes unreadable; the
    /// audit log still verifies. Refused while a legal hold is in place.
    Shred { patient: String },
    /// Place a legal hold: the patient cannot be shredded until it is released.
    Hold {
        patient: String,
        #[arg(long)]
        reason: String,
    },
    /// Release a legal hold.
    Release { patient: String },
}

/// The data-key policy from settings.
pub fn key_policy(settings: &Settings) -> KeyPolicy {
    KeyPolicy {
        max_uses: settings.crypto.max_key_uses,
        cache: std::time::Duration::from_secs(settings.crypto.key_cache_secs),
    }
}

/// While serving: re-reads the key file every `crypto.key_cache_secs` and rewraps data keys
/// still under an older key-encryption key (after `keys rotate`, here or on another replica),
/// so new data keys are wrapped by the newest version and old versions can be retired.
pub fn spawn_rewrap(cipher: &Cipher, every: std::time::Duration) {
    let Some(env) = cipher.envelope().cloned() else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(std::time::Duration::from_secs(1)));
        loop {
            tick.tick().await;
            match env.rewrap_all().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "data keys rewrapped under the current key version"),
                Err(e) => tracing::warn!(error = %e, "rewrapping data keys failed; retrying later"),
            }
        }
    });
}

async fn open(settings: &Settings) -> anyhow::Result<(Arc<SqlStore>, Cipher)> {
    let store = Arc::new(SqlStore::connect(settings.database.url.expose(), 2).await.context("opening the database")?);
    let cipher = Cipher::from_key_file(&settings.crypto.key_file)?.with_envelope(store.clone(), key_policy(settings));
    Ok((store, cipher))
}

/// `keys rotate`: a new key-encryption key version; every data key is rewrapped under it.
pub async fn rotate(settings: &Settings) -> anyhow::Result<()> {
    let version = kek::rotate_file(&settings.crypto.key_file)?;
    println!("key version {version} added to {}", settings.crypto.key_file.display());
    let (_, cipher) = open(settings).await?;
    let env = cipher.envelope().expect("attached");
    let n = env.rewrap_all().await.context("rewrapping data keys")?;
    println!("{n} data keys rewrapped under version {version}");
    Ok(())
}

/// `keys retire VERSION`: removes an old key-encryption key once nothing needs it.
pub async fn retire(settings: &Settings, version: u32, force: bool) -> anyhow::Result<()> {
    let (store, _) = open(settings).await?;
    let left = store.count_data_keys_under(version).await?;
    anyhow::ensure!(left == 0, "{left} data keys are still wrapped by version {version}; run `agent keys rotate` first");
    anyhow::ensure!(
        version != 1 || force,
        "version 1 also opens values sealed before envelope encryption; pass --force once none are left"
    );
    kek::retire_in_file(&settings.crypto.key_file, version)?;
    println!("key version {version} retired");
    Ok(())
}

fn operator_entry(action: &str, payload: serde_json::Value) -> AuditEntry {
    AuditEntry {
        at: chrono::Utc::now().timestamp_millis(),
        actor: "operator".into(),
        action: action.into(),
        payload: payload.to_string().into_bytes(),
    }
}

pub async fn run(settings: &Settings, command: PatientCommand) -> anyhow::Result<()> {
    let (store, cipher) = open(settings).await?;
    match command {
        PatientCommand::Shred { patient } => {
            let p = PatientId::parse(patient).context("patient id")?;
            let entry = operator_entry("patient.shred", serde_json::json!({"type": "patient.shred", "patient": p.as_str()}));
            match store.shred_patient(p.as_str(), &entry).await? {
                Ok(n) => {
                    if let Some(env) = cipher.envelope() {
                        env.forget(p.as_str());
                    }
                    println!("shredded: {n} data keys of {} destroyed", p.as_str());
                    Ok(())
                }
                Err(ShredRefused::LegalHold(reason)) => anyhow::bail!("{} is under a legal hold ({reason}); not shredded", p.as_str()),
            }
        }
        PatientCommand::Hold { patient, reason } => {
            let p = PatientId::parse(patient).context("patient id")?;
            anyhow::ensure!(!reason.trim().is_empty(), "--reason must not be empty");
            let entry = operator_entry("patient.hold", serde_json::json!({"type": "patient.hold", "patient": p.as_str(), "reason": reason}));
            store.place_hold(p.as_str(), &reason, &entry).await?;
            println!("legal hold placed on {}", p.as_str());
            Ok(())
        }
        PatientCommand::Release { patient } => {
            let p = PatientId::parse(patient).context("patient id")?;
            let entry = operator_entry("patient.release", serde_json::json!({"type": "patient.release", "patient": p.as_str()}));
            anyhow::ensure!(store.release_hold(p.as_str(), &entry).await?, "{} has no legal hold", p.as_str());
            println!("legal hold on {} released", p.as_str());
            Ok(())
        }
    }
}

