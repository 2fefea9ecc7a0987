//! Signs checkpoints while the service runs: every `checkpoint_every_records` new records or
//! `checkpoint_every_secs` seconds, whichever comes first. Replicas sharing one PostgreSQL all
//! run this; a tree size is signed once (the insert is first-wins) and only the winner appends
//! the line to its checkpoint file. Before signing it checks that the records under the last
//! checkpoint still reproduce it; if not it signs nothing and raises the audit alert.
//!
//! Re-reading the whole log for every checkpoint would cost more with every record (a busy
//! site signs every 1,000 records, and the log is kept for years). So the running service
//! keeps the tree it has verified (`Verified`: O(log n) hashes) and reads only the records
//! after it. What it signs is computed from the hashes it verified, never from a record
//! changed since, so it cannot vouch for a change. The whole log is read again at start and
//! every `FULL_CHECK_MS`: that is when a changed old record raises the alert.

use std::path::Path;
use std::sync::Arc;

use super::checkpoint::{append_to_file, AuditSigner, Checkpoint};
use super::merkle::Accumulator;
use super::record::leaf_of;
use super::AuditSettings;
use crate::alerts::{Alerts, Kind};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{AuditStore, StoreError, StoreResult};

/// Hashes read per query while computing a tree head.
const PAGE: i64 = 10_000;
/// How often the running service re-reads the whole log against its last checkpoint.
pub const FULL_CHECK_MS: i64 = 3_600_000;

/// The tree of records `1..=acc.size()` as this process verified it, and when it last read the
/// whole log (ms; `None`: not yet).
#[derive(Clone, Debug, Default)]
pub struct Verified {
    acc: Accumulator,
    full_at: Option<i64>,
}

/// The tree head of records `1..=size`, read from the store.
pub async fn tree_head(store: &dyn AuditStore, size: i64) -> StoreResult<super::merkle::Hash> {
    let mut acc = Accumulator::default();
    extend(store, &mut acc, 0, size).await?;
    Ok(acc.root())
}

/// Pushes records `acc.size() + 1 ..= size` onto `acc`; the head at `at` when it passes it
/// (or is there already). `NotFound` when a record is missing or its hash is malformed.
async fn extend(store: &dyn AuditStore, acc: &mut Accumulator, at: i64, size: i64) -> StoreResult<Option<super::merkle::Hash>> {
    let mut head_at = (acc.size() as i64 == at).then(|| acc.root());
    let mut from = acc.size() as i64 + 1;
    while from <= size {
        let to = (from + PAGE - 1).min(size);
        let hashes = store.audit_hashes(from, to).await?;
        if hashes.len() as i64 != to - from + 1 {
            return Err(StoreError::NotFound);
        }
        for h in &hashes {
            acc.push(leaf_of(h).ok_or(StoreError::NotFound)?);
            if acc.size() as i64 == at {
                head_at = Some(acc.root());
            }
        }
        from = to + 1;
    }
    Ok(head_at)
}

/// The log no longer reproduces its newest signed checkpoint: records it covers were changed
/// or removed. Signing over it would vouch for the change, so nothing is signed.
#[derive(Debug, thiserror::Error)]
#[error("the audit log no longer reproduces the checkpoint signed at size {signed_size}: refusing to sign over it")]
pub struct LogAltered {
    pub signed_size: u64,
}

/// Signs the current tip when it is past the last checkpoint; returns the new checkpoint
/// (also appended to `file`) or `None` when there was nothing new or another replica won.
/// Refuses (`LogAltered`) when the records under the last checkpoint no longer reproduce it.
pub async fn checkpoint_now(
    store: &dyn AuditStore,
    signer: &AuditSigner,
    file: Option<&Path>,
    now: i64,
) -> anyhow::Result<Option<Checkpoint>> {
    checkpoint_from(store, signer, file, now, &mut Verified::default()).await
}

/// `checkpoint_now` from what `verified` holds: the whole log is read when it holds nothing,
/// holds more than the last checkpoint, or its full read is `FULL_CHECK_MS` old; otherwise only
/// the records after it. On success `verified` holds the tree up to the tip.
pub async fn checkpoint_from(
    store: &dyn AuditStore,
    signer: &AuditSigner,
    file: Option<&Path>,
    now: i64,
    verified: &mut Verified,
) -> anyhow::Result<Option<Checkpoint>> {
    let tip = store.audit_tip().await?;
    let last = store.latest_checkpoint().await?;
    let last_size = last.as_ref().map(|c| c.size as i64).unwrap_or(0);
    if tip <= last_size {
        return Ok(None);
    }
    let altered = || LogAltered { signed_size: last.as_ref().map(|c| c.size).unwrap_or(0) };
    let full = verified.full_at.is_none_or(|t| now - t >= FULL_CHECK_MS) || verified.acc.size() as i64 > last_size;
    let mut acc = if full { Accumulator::default() } else { verified.acc.clone() };
    let head_at_last = match extend(store, &mut acc, last_size, tip).await {
        Ok(head) => head,
        // Below the tip a record is missing or its hash is malformed.
        Err(StoreError::NotFound) => return Err(altered().into()),
        Err(e) => return Err(e.into()),
    };
    if last.as_ref().is_some_and(|c| c.size > 0 && head_at_last != c.root_hash()) {
        return Err(altered().into());
    }
    let head = acc.root();
    *verified = Verified { acc, full_at: if full { Some(now) } else { verified.full_at } };
    let cp = signer.sign(tip as u64, &head, now);
    if !store.insert_checkpoint(&cp).await? {
        return Ok(None);
    }
    if let Some(path) = file {
        append_to_file(path, &cp).map_err(|e| anyhow::anyhow!("appending to {}: {e}", path.display()))?;
    }
    Ok(Some(cp))
}

/// One round of the service's checkpointer: signs when due; a log that no longer reproduces
/// its last checkpoint raises the `audit_verify_failed` alert. `verified` is what the previous
/// rounds verified (`Verified::default()`: read the whole log).
pub async fn round(store: &dyn AuditStore, signer: &AuditSigner, settings: &AuditSettings, alerts: &Alerts, now: i64, verified: &mut Verified) {
    match due(store, settings, now).await {
        Ok(true) => match checkpoint_from(store, signer, Some(&settings.checkpoint_file), now, verified).await {
            Ok(Some(cp)) => tracing::info!(size = cp.size, "audit checkpoint signed"),
            Ok(None) => {}
            Err(e) => {
                if let Some(altered) = e.downcast_ref::<LogAltered>() {
                    let details = serde_json::json!({ "signed_size": altered.signed_size, "by": "checkpointer" });
                    alerts.fire(Kind::AuditVerifyFailed, "audit_log", now, details);
                }
                tracing::error!(error = %e, "audit checkpoint failed");
            }
        },
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "audit checkpoint check failed"),
    }
}

/// Whether a checkpoint is due: enough unsigned records, or the last one is old enough.
pub async fn due(store: &dyn AuditStore, settings: &AuditSettings, now: i64) -> StoreResult<bool> {
    let tip = store.audit_tip().await?;
    let (size, at) = store.latest_checkpoint().await?.map(|c| (c.size as i64, c.at)).unwrap_or((0, 0));
    let unsigned = tip - size;
    let age_ms = now - at;
    Ok(unsigned > 0
        && (unsigned as u64 >= settings.checkpoint_every_records
            || age_ms >= (settings.checkpoint_every_secs as i64).saturating_mul(1000)))
}

/// Runs the checkpointer on the current runtime until the process ends. Without a signing key
/// file it logs once and does nothing: the chain and tree still hold, unsigned.
pub fn spawn(store: Arc<dyn AuditStore>, settings: &AuditSettings, clock: Arc<dyn Clock>, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    if !settings.signing_key_file.exists() {
        tracing::warn!(
            file = %settings.signing_key_file.display(),
            "no audit signing key: checkpoints are not signed (run `agent audit keygen`)"
        );
        return Ok(());
    }
    let signer = AuditSigner::from_key_file(&settings.signing_key_file)?;
    let settings = settings.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut verified = Verified::default();
        loop {
            tick.tick().await;
            round(store.as_ref(), &signer, &settings, &metrics.alerts, clock.now_ms(), &mut verified).await;
        }
    });
    Ok(())
}
