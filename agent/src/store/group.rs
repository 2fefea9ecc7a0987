//! The SQL of a batch of turn commits, written set-wise: one conditional update for the
//! batch's turns (each one's lock and state version are checked there, before anything is
//! written), then one statement per table for the whole batch (messages, stored responses,
//! audit records). A statement is a round trip to the database (a thread hop for SQLite, the
//! network for PostgreSQL), so a batch of eight turns costs a handful of statements, not fifty.

use std::collections::HashMap;

use sqlx::Row;

use super::AUDIT_GENESIS;
use super::tx::insert_escalation;
use super::{audit_hash, StoreError, StoreResult, TurnCommit};

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// What the state updates of a batch read back, so that the rest of the batch needs no reads
/// of its own: which went through, each updated conversation's last message number, and the
/// audit log's tip (read by the update, which runs while this transaction is the log's only
/// appender: see `insert_audit_rows`).
#[derive(Debug, Default)]
pub(super) struct Updated {
    pub ok: Vec<bool>,
    last_seq: HashMap<String, i64>,
    tip: Option<(i64, String)>,
}

/// Returned by every state update: the row's id, its last message number, the audit tip.
const READ_BACK: &str = "RETURNING conversations.id, \
     (SELECT MAX(m.seq) FROM messages m WHERE m.conversation_id = conversations.id) AS last_seq, \
     (SELECT a.seq FROM audit_log a ORDER BY a.seq DESC LIMIT 1) AS tip_seq, \
     (SELECT a.hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1) AS tip_hash";

impl Updated {
    fn read(&mut self, row: &sqlx::any::AnyRow) -> StoreResult<String> {
        let id: String = row.try_get("id")?;
        if let Some(last) = row.try_get::<Option<i64>, _>("last_seq")? {
            self.last_seq.insert(id.clone(), last);
        }
        self.tip = match row.try_get::<Option<i64>, _>("tip_seq")? {
            Some(seq) => Some((seq, row.try_get("tip_hash")?)),
            None => Some((0, AUDIT_GENESIS.to_owned())),
        };
        Ok(id)
    }
}

/// The state update of one turn: whether it went through (not when its lock was lost or its
/// state moved on: nothing is written for it then).
async fn update_state(tx: &mut Tx<'_>, c: &TurnCommit, read: &mut Updated) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE conversations SET state = $1, state_version = state_version + 1, status = $2, \
         script_id = $3, script_version = $4, turn_lock = NULL, lock_expires = 0, updated_at = $5 \
         WHERE id = $6 AND turn_lock = $7 AND state_version = $8 {READ_BACK}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&c.state)
        .bind(&c.status)
        .bind(&c.script_id)
        .bind(c.script_version)
        .bind(c.now)
        .bind(&c.conversation_id)
        .bind(&c.lock_token)
        .bind(c.expected_state_version)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(row) => read.read(&row).map(|_| true),
        None => Ok(false),
    }
}

/// The state updates of a batch's turns, one statement for them all when they are of distinct
/// conversations (else one each, in order).
pub(super) async fn update_states(tx: &mut Tx<'_>, commits: &[&TurnCommit]) -> StoreResult<Updated> {
    let mut read = Updated::default();
    let mut ids: Vec<&str> = commits.iter().map(|c| c.conversation_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if commits.len() < 2 || ids.len() < commits.len() {
        for c in commits {
            let ok = update_state(tx, c, &mut read).await?;
            read.ok.push(ok);
        }
        return Ok(read);
    }
    let sql = format!(
        "WITH v (id, lock, version, state, status, script_id, script_version, now) AS (VALUES {}) \
         UPDATE conversations SET state = v.state, state_version = conversations.state_version + 1, status = v.status, \
         script_id = v.script_id, script_version = v.script_version, turn_lock = NULL, lock_expires = 0, updated_at = v.now \
         FROM v WHERE conversations.id = v.id AND conversations.turn_lock = v.lock AND conversations.state_version = v.version \
         {READ_BACK}",
        placeholders(commits.len(), 8)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in commits {
        q = q.bind(&c.conversation_id).bind(&c.lock_token).bind(c.expected_state_version).bind(&c.state);
        q = q.bind(&c.status).bind(&c.script_id).bind(c.script_version).bind(c.now);
    }
    let mut done = Vec::new();
    for row in q.fetch_all(&mut **tx).await? {
        done.push(read.read(&row)?);
    }
    read.ok = commits.iter().map(|c| done.contains(&c.conversation_id)).collect();
    Ok(read)
}

/// Writes the rest of every turn whose state update went through, in order; each turn's audit
/// sequence number.
/// `read`: what their state updates read back.
pub(super) async fn write_rest(tx: &mut Tx<'_>, commits: &[&TurnCommit], read: &Updated) -> StoreResult<Vec<i64>> {
    if commits.is_empty() {
        return Ok(Vec::new());
    }
    // Every update that went through read the tip back.
    let tip = read.tip.clone().ok_or_else(|| StoreError::Batch("no audit tip was read back".into()))?;
    insert_messages(tx, commits, &read.last_seq).await?;
    insert_responses(tx, commits).await?;
    for c in commits {
        if let Some(e) = &c.escalation {
            insert_escalation(tx, &c.conversation_id, e, c.now).await?;
        }
        super::outbox::insert_rows(tx, &c.outbox, c.now).await?;
    }
    insert_audit_rows(tx, commits, tip).await
}

/// `($1,$2,..),($k+1,..)`: placeholders for `rows` rows of `cols` values.
fn placeholders(rows: usize, cols: usize) -> String {
    let row = |r: usize| format!("({})", (1..=cols).map(|c| format!("${}", r * cols + c)).collect::<Vec<_>>().join(","));
    (0..rows).map(row).collect::<Vec<_>>().join(",")
}

/// The batch's messages, numbered on from each conversation's `last` message.
async fn insert_messages(tx: &mut Tx<'_>, commits: &[&TurnCommit], last: &HashMap<String, i64>) -> StoreResult<()> {
    let count: usize = commits.iter().map(|c| c.messages.len()).sum();
    if count == 0 {
        return Ok(());
    }
    let mut next: HashMap<&str, i64> =
        commits.iter().map(|c| (c.conversation_id.as_str(), last.get(&c.conversation_id).copied().unwrap_or(0) + 1)).collect();
    let sql = format!(
        "INSERT INTO messages (conversation_id, seq, role, body, created_at) VALUES {}",
        placeholders(count, 5)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in commits {
        let seq = next.get_mut(c.conversation_id.as_str()).ok_or(StoreError::NotFound)?;
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

/// The batch's audit records, chained after the log's `tip` in the order of the turns; the tip
/// was read and the records are written while this transaction is the log's only appender
/// (SQLite's writer lock, taken by the first update; PostgreSQL's audit lock, taken before it).
async fn insert_audit_rows(tx: &mut Tx<'_>, commits: &[&TurnCommit], (mut seq, mut prev): (i64, String)) -> StoreResult<Vec<i64>> {
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
