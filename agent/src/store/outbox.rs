//! The outbox's part of the store: EHR writes kept while the EHR did not answer. Rows come in
//! with the turn that kept them (`TurnCommit::outbox`); a worker leases a due row, makes the
//! write, and ends it with the patient's message and the audit record in one transaction, by a
//! conditional update, so several replicas working the outbox make and tell each write once.

use async_trait::async_trait;
use sqlx::Row;

use super::sql::append_audit;
use super::tx::{insert_escalation, tell_under_lock};
use super::{AuditEntry, NewEscalation, SqlStore, Store, StoreResult};

/// A kept write as the turn commits it.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: String,
    pub conversation_id: String,
    pub patient_id: String,
    /// The script action (book, cancel, ...), in clear for operators' counts.
    pub action: String,
    /// Sealed JSON of the write.
    pub body: Vec<u8>,
    pub next_attempt_at: i64,
}

/// A kept write that is due.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    pub id: String,
    pub conversation_id: String,
    pub patient_id: String,
    pub action: String,
    pub body: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// How a kept write ended: `status` done (the write was made) or failed (the EHR refused it),
/// told to the patient in `message` (sealed) under the conversation's turn lock `lock_token`.
#[derive(Clone, Debug)]
pub struct OutboxEnd<'a> {
    pub id: &'a str,
    pub lease_token: &'a str,
    pub conversation_id: &'a str,
    pub lock_token: &'a str,
    pub status: &'a str,
    /// The resource made, or the error kind.
    pub result: &'a str,
    pub message: Vec<u8>,
    /// A failed write goes to a person.
    pub escalation: Option<NewEscalation>,
    pub audit: AuditEntry,
    pub now: i64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Pending writes due at `now` and not leased, oldest first.
    async fn due_writes(&self, now: i64, limit: i64) -> StoreResult<Vec<OutboxItem>>;
    /// Leases a due write until `until` and counts the attempt; false when another replica
    /// holds it or it is no longer pending or due.
    async fn lease_write(&self, id: &str, token: &str, now: i64, until: i64) -> StoreResult<bool>;
    /// Pending writes waiting out a back-off at `now`.
    async fn waiting_writes(&self, now: i64) -> StoreResult<i64>;
    /// Makes every pending write that is waiting out a back-off due at `now` (the EHR answers
    /// again); how many.
    async fn hasten_writes(&self, now: i64) -> StoreResult<u64>;
    /// Gives the lease back; the next attempt is at `next_at`.
    async fn retry_write(&self, id: &str, token: &str, next_at: i64, now: i64) -> StoreResult<()>;
    /// Ends the write (see [`OutboxEnd`]); false when the lease was lost meanwhile (nothing
    /// written). `LockLost` when the conversation's turn lock was not held.
    async fn end_write(&self, end: &OutboxEnd<'_>) -> StoreResult<bool>;
    /// (action, status) of a conversation's kept writes, oldest first.
    async fn writes_of(&self, conversation_id: &str) -> StoreResult<Vec<(String, String)>>;
}

/// Inserts a turn's kept writes inside its transaction.
pub(super) async fn insert_rows(tx: &mut sqlx::Transaction<'_, sqlx::Any>, rows: &[OutboxRow], now: i64) -> StoreResult<()> {
    for r in rows {
        sqlx::query(
            "INSERT INTO outbox (id, conversation_id, patient_id, action, body, status, attempts, next_attempt_at, \
             lease_until, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,'pending',0,$6,0,$7,$7)",
        )
        .bind(&r.id)
        .bind(&r.conversation_id)
        .bind(&r.patient_id)
        .bind(&r.action)
        .bind(&r.body)
        .bind(r.next_attempt_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn due_writes(&self, now: i64, limit: i64) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query(
            "SELECT id, conversation_id, patient_id, action, body, attempts FROM outbox \
             WHERE status = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1 \
             ORDER BY next_attempt_at, created_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxItem {
                    id: r.try_get("id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    patient_id: r.try_get("patient_id")?,
                    action: r.try_get("action")?,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    async fn lease_write(&self, id: &str, token: &str, now: i64, until: i64) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let leased = sqlx::query(
            "UPDATE outbox SET lease_token = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id = $4 AND status = 'pending' AND next_attempt_at <= $3 AND lease_until <= $3",
        )
        .bind(token)
        .bind(until)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(leased.rows_affected() == 1)
    }

    async fn waiting_writes(&self, now: i64) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND next_attempt_at > $1")
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn hasten_writes(&self, now: i64) -> StoreResult<u64> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1, updated_at = $1 WHERE status = 'pending' AND next_attempt_at > $1",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn retry_write(&self, id: &str, token: &str, next_at: i64, now: i64) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query(
            "UPDATE outbox SET lease_token = NULL, lease_until = 0, next_attempt_at = $1, updated_at = $2 \
             WHERE id = $3 AND lease_token = $4 AND status = 'pending'",
        )
        .bind(next_at)
        .bind(now)
        .bind(id)
        .bind(token)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn end_write(&self, e: &OutboxEnd<'_>) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        // The claim comes first (SQLite's write lock; a second replica on PostgreSQL waits,
        // then finds the row no longer pending).
        let ended = sqlx::query(
            "UPDATE outbox SET status = $1, result = $2, lease_token = NULL, lease_until = 0, updated_at = $3 \
             WHERE id = $4 AND lease_token = $5 AND status = 'pending'",
        )
        .bind(e.status)
        .bind(e.result)
        .bind(e.now)
        .bind(e.id)
        .bind(e.lease_token)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() != 1 {
            return Ok(false);
        }
        tell_under_lock(&mut tx, e.conversation_id, e.lock_token, &e.message, e.now).await?;
        if let Some(esc) = &e.escalation {
            insert_escalation(&mut tx, e.conversation_id, esc, e.now).await?;
        }
        append_audit(&mut tx, self.backend(), &e.audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn writes_of(&self, conversation_id: &str) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT action, status FROM outbox WHERE conversation_id = $1 ORDER BY created_at, id")
            .bind(conversation_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get("action")?, r.try_get("status")?))).collect()
    }
}
