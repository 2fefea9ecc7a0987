//! Pieces of write transactions that several stores share: opening a coordinator case, telling
//! the patient one agent message under the conversation's turn lock (refill news, the outbox's
//! "done"), and ending a conditional write with its audit record, each inside the caller's
//! transaction so it commits with its audit record.

use sqlx::Row;

use super::sql::append_audit;
use super::{AuditEntry, NewEscalation, StoreError, StoreResult};

pub(super) async fn insert_escalation(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: &str,
    e: &NewEscalation,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO escalations (id, conversation_id, patient_id, priority, reason, status, created_at, due_at) \
         SELECT $1, id, patient_id, $2, $3, 'new', $4, $5 FROM conversations WHERE id = $6",
    )
    .bind(&e.id)
    .bind(&e.priority)
    .bind(&e.reason)
    .bind(now)
    .bind(e.due_at)
    .bind(conversation_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends one agent message (sealed) to a conversation whose turn lock `lock_token` the
/// caller holds, releasing the lock, inside `tx`; `LockLost` when the lock was not held.
pub(super) async fn tell_under_lock(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: &str,
    lock_token: &str,
    message: &[u8],
    now: i64,
) -> StoreResult<()> {
    let released = sqlx::query(
        "UPDATE conversations SET state_version = state_version + 1, turn_lock = NULL, lock_expires = 0, updated_at = $1 \
         WHERE id = $2 AND turn_lock = $3",
    )
    .bind(now)
    .bind(conversation_id)
    .bind(lock_token)
    .execute(&mut **tx)
    .await?;
    if released.rows_affected() != 1 {
        return Err(StoreError::LockLost);
    }
    let next: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM messages WHERE conversation_id = $1")
        .bind(conversation_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("next")?;
    sqlx::query("INSERT INTO messages (conversation_id, seq, role, body, created_at) VALUES ($1,$2,'agent',$3,$4)")
        .bind(conversation_id)
        .bind(next)
        .bind(message)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends a conditional write: when it changed exactly one row, appends `entry` to the audit log
/// and commits (true); otherwise drops `tx`, rolling it back (false).
pub(super) async fn audit_if_one(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    affected: u64,
    backend: &str,
    entry: &AuditEntry,
) -> StoreResult<bool> {
    if affected != 1 {
        return Ok(false);
    }
    append_audit(&mut tx, backend, entry).await?;
    tx.commit().await?;
    Ok(true)
}
