//! Signs checkpoints while the service runs: every `checkpoint_every_records` new records or
//! `checkpoint_every_secs` seconds, whichever comes first. Replicas sharing one PostgreSQL all
//! run this; a tree size is signed once (the insert is first-wins) and only the winner appends
//! the line to its checkpoint file. Before signing it checks that the records under the last
//! checkpoint still reproduce it; if not it signs nothing and raises the audit alert.

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

/// The tree head of records `1..=size`, read from the store.
pub async fn tree_head(store: &dyn AuditStore, size: i64) -> StoreResult<super::merkle::Hash> {
    Ok(tree_heads(store, 0, size).await?.1)
}

/// The tree heads of records `1..=at` (when `1 <= at <= size`) and `1..=size`, in one pass.
async fn tree_heads(store: &dyn AuditStore, at: i64, size: i64) -> StoreResult<(Option<super::merkle::Hash>, super::merkle::Hash)> {
    let mut acc = Accumulator::default();
    let mut head_at = None;
    let mut from = 1;
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
    Ok((head_at, acc.root()))
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
    let tip = store.audit_tip().await?;
    let last = store.latest_checkpoint().await?;
    let last_size = last.as_ref().map(|c| c.size as i64).unwrap_or(0);
    if tip <= last_size {
        return Ok(None);
    }
    let altered = || LogAltered { signed_size: last.as_ref().map(|c| c.size).unwrap_or(0) };
    let (head_at_last, head) = match tree_heads(store, last_size, tip).await {
        Ok(heads) => heads,
        // Below the tip a record is missing or its hash is malformed.
        Err(StoreError::NotFound) => return Err(altered().into()),
        Err(e) => return Err(e.into()),
    };
    if last.as_ref().is_some_and(|c| c.size > 0 && head_at_last != c.root_hash()) {
        return Err(altered().into());
    }
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
/// its last checkpoint raises the `audit_verify_failed` alert.
pub async fn round(store: &dyn AuditStore, signer: &AuditSigner, settings: &AuditSettings, alerts: &Alerts, now: i64) {
    match due(store, settings, now).await {
        Ok(true) => match checkpoint_now(store, signer, Some(&settings.checkpoint_file), now).await {
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
        loop {
            tick.tick().await;
            round(store.as_ref(), &signer, &settings, &metrics.alerts, clock.now_ms()).await;
        }
    });
    Ok(())
}
