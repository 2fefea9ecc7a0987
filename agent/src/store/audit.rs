//! The audit store's own SQL, kept apart from the chat store: the log's tip and hashes, and
//! the signed checkpoints (one per tree size; several replicas may race to sign the same size
//! and the first wins).

use async_trait::async_trait;
use sqlx::Row;

use super::sql::append_audit;
use super::{SqlStore, Store, StoreResult};
use crate::audit::checkpoint::Checkpoint;
use crate::audit::retention::{sweep_record, Cutoffs, Swept};

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
    /// Deletes what is past its cut-off (sparing held patients and escalated conversations)
    /// and appends the sweep's audit record, in one transaction.
    async fn sweep_expired(&self, cutoffs: &Cutoffs, now: i64) -> StoreResult<Swept>;
}

/// Conversations past their cut-off ($1) that may go.
const EXPIRED_CONVERSATIONS: &str = "SELECT id FROM conversations WHERE updated_at < $1 \
     AND patient_id NOT IN (SELECT patient_id FROM legal_holds) \
     AND id NOT IN (SELECT conversation_id FROM escalations)";

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
        let _gate = self.gate.enter().await;
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

    async fn sweep_expired(&self, c: &Cutoffs, now: i64) -> StoreResult<Swept> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        let mut s = Swept::default();
        // Writes first (SQLite's write lock), children before their conversation.
        let held = "AND conversation_id NOT IN (SELECT c.id FROM conversations c JOIN legal_holds h ON h.patient_id = c.patient_id)";
        let q = format!("DELETE FROM turn_results WHERE created_at < $1 {held}");
        s.turn_results = sqlx::query(sqlx::AssertSqlSafe(q)).bind(c.turn_results).execute(&mut *tx).await?.rows_affected();
        let q = format!("DELETE FROM messages WHERE conversation_id IN ({EXPIRED_CONVERSATIONS})");
        s.messages = sqlx::query(sqlx::AssertSqlSafe(q)).bind(c.conversations).execute(&mut *tx).await?.rows_affected();
        let q = format!("DELETE FROM turn_results WHERE conversation_id IN ({EXPIRED_CONVERSATIONS})");
        s.turn_results += sqlx::query(sqlx::AssertSqlSafe(q)).bind(c.conversations).execute(&mut *tx).await?.rows_affected();
        let q = format!("DELETE FROM conversations WHERE id IN ({EXPIRED_CONVERSATIONS})");
        s.conversations = sqlx::query(sqlx::AssertSqlSafe(q)).bind(c.conversations).execute(&mut *tx).await?.rows_affected();
        s.sessions = sqlx::query("DELETE FROM patient_sessions WHERE last_seen < $1 AND patient_id NOT IN (SELECT patient_id FROM legal_holds)")
            .bind(c.sessions)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let old = sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE at < $1").bind(c.audit).fetch_one(&mut *tx).await?;
        s.audit_past_retention = old.try_get::<i64, _>("n")? as u64;
        append_audit(&mut tx, Store::backend(self), &sweep_record(&s, now)).await?;
        tx.commit().await?;
        Ok(s)
    }
}
