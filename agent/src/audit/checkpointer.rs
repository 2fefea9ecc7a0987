//! Signs checkpoints while the service runs: every `checkpoint_every_records` new records or
//! `checkpoint_every_secs` seconds, whichever comes first. Replicas sharing one PostgreSQL all
//! run this; a tree size is signed once (the insert is first-wins) and only the winner appends
//! the line to its checkpoint file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::checkpoint::{append_to_file, AuditSigner, Checkpoint};
use super::merkle::Accumulator;
use super::record::leaf_of;
use super::AuditSettings;
use crate::clock::Clock;
use crate::store::{AuditStore, StoreError, StoreResult};

/// Hashes read per query while computing a tree head.
const PAGE: i64 = 10_000;

/// The tree head of records `1..=size`, read from the store.
pub async fn tree_head(store: &dyn AuditStore, size: i64) -> StoreResult<super::merkle::Hash> {
    let mut acc = Accumulator::default();
    let mut from = 1;
    while from <= size {
        let to = (from + PAGE - 1).min(size);
        let hashes = store.audit_hashes(from, to).await?;
        if hashes.len() as i64 != to - from + 1 {
            return Err(StoreError::NotFound);
        }
        for h in &hashes {
            acc.push(leaf_of(h).ok_or(StoreError::NotFound)?);
        }
        from = to + 1;
    }
    Ok(acc.root())
}

/// Signs the current tip when it is past the last checkpoint; returns the new checkpoint
/// (also appended to `file`) or `None` when there was nothing new or another replica won.
pub async fn checkpoint_now(
    store: &dyn AuditStore,
    signer: &AuditSigner,
    file: Option<&Path>,
    now: i64,
) -> anyhow::Result<Option<Checkpoint>> {
    let tip = store.audit_tip().await?;
    let last = store.latest_checkpoint().await?.map(|c| c.size as i64).unwrap_or(0);
    if tip <= last {
        return Ok(None);
    }
    let cp = signer.sign(tip as u64, &tree_head(store, tip).await?, now);
    if !store.insert_checkpoint(&cp).await? {
        return Ok(None);
    }
    if let Some(path) = file {
        append_to_file(path, &cp).map_err(|e| anyhow::anyhow!("appending to {}: {e}", path.display()))?;
    }
    Ok(Some(cp))
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
pub fn spawn(store: Arc<dyn AuditStore>, settings: &AuditSettings, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    if !settings.signing_key_file.exists() {
        tracing::warn!(
            file = %settings.signing_key_file.display(),
            "no audit signing key: checkpoints are not signed (run `agent audit keygen`)"
        );
        return Ok(());
    }
    let signer = AuditSigner::from_key_file(&settings.signing_key_file)?;
    let settings = settings.clone();
    let file: PathBuf = settings.checkpoint_file.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = clock.now_ms();
            match due(store.as_ref(), &settings, now).await {
                Ok(true) => match checkpoint_now(store.as_ref(), &signer, Some(&file), now).await {
                    Ok(Some(cp)) => tracing::info!(size = cp.size, "audit checkpoint signed"),
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "audit checkpoint failed"),
                },
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "audit checkpoint check failed"),
            }
        }
    });
    Ok(())
}
