//! The background follow-ups' part of the store: follow-ups nobody answered (one coordinator
//! case each) and the refill Tasks whose status changes the patient is told of. Every write is
//! conditional on the state it read, and commits with its audit record, so several replicas
//! sweeping at once still raise each case and send each message exactly once.

use async_trait::async_trait;
use sqlx::Row;

use super::sql::append_audit;
use super::tx::{insert_escalation, tell_under_lock};
use super::{AuditEntry, NewEscalation, SqlStore, Store, StoreResult};

/// A follow-up the agent started that the patient has not answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Unanswered {
    pub conversation_id: String,
    pub patient_id: String,
}

/// A refill Task a conversation created, with the status the patient last heard of.
#[derive(Clone, Debug, PartialEq)]
pub struct RefillWatch {
    pub task_id: String,
    pub conversation_id: String,
    pub patient_id: String,
    pub last_status: String,
}

/// One status change to tell: the message (sealed) goes into the conversation, whose turn lock
/// `lock_token` the caller holds, and the watch moves from `from` to `to` in the same commit.
#[derive(Clone, Debug)]
pub struct RefillNotice<'a> {
    pub task_id: &'a str,
    pub conversation_id: &'a str,
    pub lock_token: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    /// The Task reached a final status: no more polling.
    pub close: bool,
    pub message: Vec<u8>,
    pub audit: AuditEntry,
    pub now: i64,
}

#[async_trait]
pub trait FollowupStore: Send + Sync {
    /// Active follow-ups started at or before `started_by` with no patient message and no
    /// no-reply case yet.
    async fn unanswered_followups(&self, started_by: i64) -> StoreResult<Vec<Unanswered>>;
    /// Raises the no-reply case with its audit record; false when it was raised already (by
    /// this or another replica) or the patient replied meanwhile.
    async fn escalate_no_reply(&self, conversation_id: &str, e: &NewEscalation, now: i64, audit: &AuditEntry) -> StoreResult<bool>;

    /// Starts watching a refill Task; false when it is watched already.
    async fn watch_refill(&self, w: &RefillWatch, now: i64) -> StoreResult<bool>;
    /// Watches whose Task has not reached a final status.
    async fn open_refill_watches(&self) -> StoreResult<Vec<RefillWatch>>;
    /// Commits the notice; false when the watch already moved on from `from` (nothing written).
    /// `LockLost` when the turn lock was not held.
    async fn tell_refill_status(&self, n: &RefillNotice<'_>) -> StoreResult<bool>;
}

const NO_PATIENT_MESSAGE: &str =
    "NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = o.conversation_id AND m.role = 'patient')";

#[async_trait]
impl FollowupStore for SqlStore {
    async fn unanswered_followups(&self, started_by: i64) -> StoreResult<Vec<Unanswered>> {
        let q = format!(
            "SELECT o.conversation_id, o.patient_id FROM outreach o JOIN conversations c ON c.id = o.conversation_id \
             WHERE o.no_reply_escalation IS NULL AND o.created_at <= $1 AND c.status = 'active' AND {NO_PATIENT_MESSAGE} \
             ORDER BY o.created_at, o.conversation_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(started_by).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| Ok(Unanswered { conversation_id: r.try_get("conversation_id")?, patient_id: r.try_get("patient_id")? }))
            .collect()
    }

    async fn escalate_no_reply(&self, conversation_id: &str, e: &NewEscalation, now: i64, audit: &AuditEntry) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        // The claim comes first: it takes SQLite's write lock, and on PostgreSQL a second
        // replica's update waits for this one and then finds the column set.
        let claimed = sqlx::query(
            "UPDATE outreach SET no_reply_escalation = $1 WHERE conversation_id = $2 AND no_reply_escalation IS NULL \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = $2 AND m.role = 'patient')",
        )
        .bind(&e.id)
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        insert_escalation(&mut tx, conversation_id, e, now).await?;
        append_audit(&mut tx, self.backend(), audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn watch_refill(&self, w: &RefillWatch, now: i64) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query(
            "INSERT INTO refill_watches (task_id, conversation_id, patient_id, last_status, closed, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,0,$5,$5) ON CONFLICT (task_id) DO NOTHING",
        )
        .bind(&w.task_id)
        .bind(&w.conversation_id)
        .bind(&w.patient_id)
        .bind(&w.last_status)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn open_refill_watches(&self) -> StoreResult<Vec<RefillWatch>> {
        let rows = sqlx::query(
            "SELECT task_id, conversation_id, patient_id, last_status FROM refill_watches WHERE closed = 0 ORDER BY updated_at, task_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RefillWatch {
                    task_id: r.try_get("task_id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    patient_id: r.try_get("patient_id")?,
                    last_status: r.try_get("last_status")?,
                })
            })
            .collect()
    }

    async fn tell_refill_status(&self, n: &RefillNotice<'_>) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE refill_watches SET last_status = $1, closed = $2, updated_at = $3 \
             WHERE task_id = $4 AND last_status = $5 AND closed = 0",
        )
        .bind(n.to)
        .bind(i64::from(n.close))
        .bind(n.now)
        .bind(n.task_id)
        .bind(n.from)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        tell_under_lock(&mut tx, n.conversation_id, n.lock_token, &n.message, n.now).await?;
        append_audit(&mut tx, self.backend(), &n.audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
