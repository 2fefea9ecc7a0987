//! The SQL of a batch of turn commits, written set-wise: one conditional update for the
//! batch's turns (each one's lock and state version are checked there, before anything is
//! written), then one statement per table for the whole batch (messages, stored responses,
//! audit records). A statement is a round trip to the database (a thread hop for SQLite, the
//! network for PostgreSQL), so a batch of eight turns costs a handful of statements, not fifty.

use std::collections::HashMap;

use sqlx::Row;

use super::sql::audit_tip;
use super::tx::insert_escalation;
use super::{audit_hash, StoreError, StoreResult, TurnCommit};

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// The state update of one turn: `Ok(false)` when its lock was lost or its state moved on
/// (nothing written for it).
pub(super) async fn update_state(tx: &mut Tx<'_>, c: &TurnCommit) -> StoreResult<bool> {
    let updated = sqlx::query(
        "UPDATE conversations SET state = $1, state_version = state_version + 1, status = $2, \
         script_id = $3, script_version = $4, turn_lock = NULL, lock_expires = 0, updated_at = $5 \
         WHERE id = $6 AND turn_lock = $7 AND state_version = $8",
    )
    .bind(&c.state)
    .bind(&c.status)
    .bind(&c.script_id)
    .bind(c.script_version)
    .bind(c.now)
    .bind(&c.conversation_id)
    .bind(&c.lock_token)
    .bind(c.expected_state_version)
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The state updates of a batch's turns, one statement for them all when they are of distinct
/// conversations (else one each, in order): whether each went through.
pub(super) async fn update_states(tx: &mut Tx<'_>, commits: &[&TurnCommit]) -> StoreResult<Vec<bool>> {
    let mut ids: Vec<&str> = commits.iter().map(|c| c.conversation_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if commits.len() < 2 || ids.len() < commits.len() {
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            out.push(update_state(tx, c).await?);
        }
        return Ok(out);
    }
    let sql = format!(
        "WITH v (id, lock, version, state, status, script_id, script_version, now) AS (VALUES {}) \
         UPDATE conversations SET state = v.state, state_version = conversations.state_version + 1, status = v.status, \
         script_id = v.script_id, script_version = v.script_version, turn_lock = NULL, lock_expires = 0, updated_at = v.now \
         FROM v WHERE conversations.id = v.id AND conversations.turn_lock = v.lock AND conversations.state_version = v.version \
         RETURNING conversations.id",
        placeholders(commits.len(), 8)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in commits {
        q = q.bind(&c.conversation_id).bind(&c.lock_token).bind(c.expected_state_version).bind(&c.state);
        q = q.bind(&c.status).bind(&c.script_id).bind(c.script_version).bind(c.now);
    }
    let done: Vec<String> = q.fetch_all(&mut **tx).await?.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    Ok(commits.iter().map(|c| done.contains(&c.conversation_id)).collect())
}

/// Writes the rest of every turn whose state update went through, in order; each turn's audit
/// sequence number.
pub(super) async fn write_rest(tx: &mut Tx<'_>, commits: &[&TurnCommit]) -> StoreResult<Vec<i64>> {
    if commits.is_empty() {
        return Ok(Vec::new());
    }
    insert_messages(tx, commits).await?;
    insert_responses(tx, commits).await?;
    for c in commits {
        if let Some(e) = &c.escalation {
            insert_escalation(tx, &c.conversation_id, e, c.now).await?;
        }
        super::outbox::insert_rows(tx, &c.outbox, c.now).await?;
    }
    insert_audit_rows(tx, commits).await
}

/// `($1,$2,..),($k+1,..)`: placeholders for `rows` rows of `cols` values.
fn placeholders(rows: usize, cols: usize) -> String {
    let row = |r: usize| format!("({})", (1..=cols).map(|c| format!("${}", r * cols + c)).collect::<Vec<_>>().join(","));
    (0..rows).map(row).collect::<Vec<_>>().join(",")
}

/// The next message number of each conversation in the batch.
async fn next_seqs(tx: &mut Tx<'_>, commits: &[&TurnCommit]) -> StoreResult<HashMap<String, i64>> {
    let mut ids: Vec<&str> = commits.iter().map(|c| c.conversation_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
    let sql = format!("SELECT conversation_id, MAX(seq) AS last FROM messages WHERE conversation_id IN ({list}) GROUP BY conversation_id");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        q = q.bind(*id);
    }
    let mut next: HashMap<String, i64> = ids.iter().map(|id| ((*id).to_owned(), 1)).collect();
    for r in q.fetch_all(&mut **tx).await? {
        next.insert(r.try_get("conversation_id")?, r.try_get::<i64, _>("last")? + 1);
    }
    Ok(next)
}

async fn insert_messages(tx: &mut Tx<'_>, commits: &[&TurnCommit]) -> StoreResult<()> {
    let count: usize = commits.iter().map(|c| c.messages.len()).sum();
    if count == 0 {
        return Ok(());
    }
    let mut next = next_seqs(tx, commits).await?;
    let sql = format!(
        "INSERT INTO messages (conversation_id, seq, role, body, created_at) VALUES {}",
        placeholders(count, 5)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in commits {
        let seq = next.get_mut(&c.conversation_id).ok_or(StoreError::NotFound)?;
        for (role, body) in &c.messages {
            q = q.bind(&c.conversation_id).bind(*seq).bind(role).bind(body).bind(c.now);
            *seq += 1;
        }
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Stored responses of retried posts (idempotency keys).
async fn insert_responses(tx: &mut Tx<'_>, commits: &[&TurnCommit]) -> StoreResult<()> {
    let keyed: Vec<(&TurnCommit, &(String, Vec<u8>))> =
        commits.iter().filter_map(|c| c.idempotency.as_ref().map(|k| (*c, k))).collect();
    if keyed.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO turn_results (conversation_id, idempotency_key, response, created_at) VALUES {}",
        placeholders(keyed.len(), 4)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (c, (key, response)) in keyed {
        q = q.bind(&c.conversation_id).bind(key).bind(response).bind(c.now);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// The batch's audit records, chained after the log's tip in the order of the turns; read and
/// written while this transaction is the log's only appender (SQLite's writer lock, taken by
/// the first update; PostgreSQL's audit lock, taken before it).
async fn insert_audit_rows(tx: &mut Tx<'_>, commits: &[&TurnCommit]) -> StoreResult<Vec<i64>> {
    let (mut seq, mut prev) = audit_tip(tx).await?;
    let sql = format!(
        "INSERT INTO audit_log (seq, at, actor, action, payload, prev_hash, hash) VALUES {}",
        placeholders(commits.len(), 7)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    let mut seqs = Vec::with_capacity(commits.len());
    for c in commits {
        seq += 1;
        let hash = audit_hash(&prev, seq, &c.audit);
        let e = &c.audit;
        q = q.bind(seq).bind(e.at).bind(&e.actor).bind(&e.action).bind(&e.payload).bind(prev).bind(hash.clone());
        prev = hash;
        seqs.push(seq);
    }
    q.execute(&mut **tx).await?;
    Ok(seqs)
}
