//! The audit store's own SQL, kept apart from the chat store: the log's tip and hashes, and
//! the signed checkpoints (one per tree size; several replicas may race to sign the same size
//! and the first wins).

use async_trait::async_trait;
use sqlx::Row;

use super::{SqlStore, StoreResult};
use crate::audit::checkpoint::Checkpoint;

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The highest sequence number in the log (0 when empty).
    async fn audit_tip(&self) -> StoreResult<i64>;
    /// Chain hashes of records `from..=to`, in order.
    async fn audit_hashes(&self, from: i64, to: i64) -> StoreResult<Vec<String>>;
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;
    async fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>>;
    /// Stores a checkpoint; false when one of that size already exists.
    async fn insert_checkpoint(&self, cp: &Checkpoint) -> StoreResult<bool>;
}

fn checkpoint(r: &sqlx::any::AnyRow) -> StoreResult<Checkpoint> {
    Ok(Checkpoint {
        size: r.try_get::<i64, _>("tree_size")? as u64,
        root: r.try_get("root")?,
        at: r.try_get("at")?,
        key_id: r.try_get("key_id")?,
        signature: r.try_get("signature")?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn audit_tip(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS tip FROM audit_log").fetch_one(self.pool()).await?;
        Ok(row.try_get("tip")?)
    }

    async fn audit_hashes(&self, from: i64, to: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT hash FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq")
            .bind(from)
            .bind(to)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("hash")?)).collect()
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        let rows = sqlx::query("SELECT tree_size, root, at, key_id, signature FROM audit_checkpoints ORDER BY tree_size")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(checkpoint).collect()
    }

    async fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        let row = sqlx::query(
            "SELECT tree_size, root, at, key_id, signature FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(checkpoint).transpose()
    }

    async fn insert_checkpoint(&self, cp: &Checkpoint) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO audit_checkpoints (tree_size, root, at, key_id, signature) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (tree_size) DO NOTHING",
        )
        .bind(cp.size as i64)
        .bind(&cp.root)
        .bind(cp.at)
        .bind(&cp.key_id)
        .bind(&cp.signature)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
