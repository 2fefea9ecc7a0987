//! Group commit for the turn path. Every turn writes twice (it takes the conversation's turn
//! lock, then commits messages, state and audit record), and a durable commit waits for the
//! disk. One writer task per store applies whatever writes have queued up meanwhile in one
//! transaction, so one flush covers many turns. On SQLite each batch, like every other write
//! of the process, first takes the store's write gate (`gate`), so it never meets another of
//! our writes at SQLite's single write lock (no busy-handler sleeps).
//!
//! A turn commit that finds its lock lost (or the state moved on) fails alone: that check is
//! its first statement, before it has written anything. Any other failure rolls the whole
//! transaction back, and its writes are then tried again one transaction each, so only the
//! write at fault fails. Nobody hears back before the transaction holding their write has
//! committed: a reply never claims a write that a later failure in the batch undid.
//!
//! Turn locks, lock releases and session touches commit without waiting for the disk. Losing
//! one of those in a crash is harmless: the crash ended the turn that held the lock, and a lost
//! touch only ends a session a little early. The next durable commit flushes them anyway, as
//! both logs are written in order. On SQLite they queue for the writer like the rest (a batch
//! of only those runs with `synchronous=NORMAL`). On PostgreSQL, where writers do not take
//! turns, each runs at once on its own, on a connection with `synchronous_commit = off`: one
//! statement and no wait for the batch in progress. A turn then waits for the writer once
//! (its commit), not twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use super::gate::WriteGate;
use super::group;
use super::quick::Quick;
use super::sql::{conversation, AUDIT_LOCK, CONVERSATION_COLUMNS};
use super::{ConversationRow, StoreError, StoreResult, TurnCommit, WriterStats};

/// The most writes one transaction takes; the rest wait for the next.
const MAX_BATCH: usize = 128;
/// Writes waiting for the writer; callers wait for a place beyond this.
const QUEUE: usize = 1024;

/// A locked conversation, with the response stored under the claim's key, if any.
pub(super) type Locked = (ConversationRow, Option<Vec<u8>>);

pub(super) enum Op {
    /// `who`: the patient the conversation must belong to, and the idempotency key to look up.
    Lock { id: String, token: String, now: i64, expires: i64, who: Option<Box<(String, Option<String>)>>, reply: oneshot::Sender<StoreResult<Locked>> },
    Release { id: String, token: String, reply: oneshot::Sender<StoreResult<()>> },
    Touch { token_hash: String, now: i64, reply: oneshot::Sender<StoreResult<()>> },
    Commit { commit: Box<TurnCommit>, reply: oneshot::Sender<StoreResult<i64>> },
}

/// What one write came to inside the transaction; sent only once the transaction committed.
enum Done {
    Row(StoreResult<Locked>),
    Unit(StoreResult<()>),
    Seq(StoreResult<i64>),
}

impl Op {
    fn durable(&self) -> bool {
        matches!(self, Op::Commit { .. })
    }

    fn answer(self, done: Done) {
        match (self, done) {
            (Op::Commit { reply, .. }, Done::Seq(r)) => {
                let _ = reply.send(r);
            }
            (Op::Lock { reply, .. }, Done::Row(r)) => {
                let _ = reply.send(r);
            }
            (Op::Release { reply, .. } | Op::Touch { reply, .. }, Done::Unit(r)) => {
                let _ = reply.send(r);
            }
            (op, _) => op.fail("the writer mixed up a write's answer"),
        }
    }

    fn fail(self, why: &str) {
        let err = || StoreError::Batch(why.to_owned());
        match self {
            Op::Commit { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Op::Lock { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            Op::Release { reply, .. } | Op::Touch { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
        }
    }
}

/// The handle the store keeps; the task ends when the store (every clone of it) is dropped.
#[derive(Clone)]
pub(super) struct Writer {
    ops: mpsc::Sender<Op>,
    counts: Arc<Counts>,
    quick: Option<Quick>,
}

#[derive(Default)]
struct Counts {
    transactions: AtomicU64,
    writes: AtomicU64,
}

/// Where the writer's transactions go.
pub(super) struct Pools {
    pub pool: AnyPool,
    pub backend: &'static str,
    /// Taken for each batch, before its connection (see `gate`).
    pub gate: Arc<WriteGate>,
}

impl Writer {
    /// `quick`: PostgreSQL's connections for the writes that need not wait for the disk; with
    /// them those writes skip the queue (see the module's notes).
    pub fn spawn(pools: Pools, quick: Option<Quick>) -> Self {
        let (ops, rx) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        tokio::spawn(run(pools, rx, counts.clone()));
        Self { ops, counts, quick }
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            transactions: self.counts.transactions.load(Ordering::Relaxed),
            writes: self.counts.writes.load(Ordering::Relaxed),
        }
    }

    /// Queues one write (or, where the store has quick connections and the write need not wait
    /// for the disk, runs it at once) and waits for its answer.
    pub async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Op) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let op = make(reply);
        match &self.quick {
            Some(quick) if !op.durable() => {
                match apply_alone(quick, &op).await {
                    Ok(done) => {
                        self.counts.add(1);
                        op.answer(done);
                    }
                    Err(e) => op.fail(&format!("the write could not be committed: {e}")),
                }
            }
            _ => self.ops.send(op).await.map_err(|_| StoreError::Batch("the store's writer has stopped".into()))?,
        }
        answer.await.map_err(|_| StoreError::Batch("the store's writer has stopped".into()))?
    }
}

/// A write that need not wait for the disk, as one autocommitted statement on a quick
/// connection (PostgreSQL: its row lock is all it takes, so it cannot wait in a circle). Each
/// can be tried again: a lock the failed try took anyway is taken again by the same token.
async fn apply_alone(quick: &Quick, op: &Op) -> StoreResult<Done> {
    quick.run(|mut conn| {
        Box::pin(async move {
            let done = quick_write(&mut conn, op).await;
            (conn, done)
        })
    })
    .await
}

/// A lock, release or touch, inside a batch's transaction or alone.
async fn quick_write(conn: &mut AnyConnection, op: &Op) -> StoreResult<Done> {
    Ok(match op {
        Op::Lock { id, token, now, expires, who, .. } => Done::Row(lock(conn, id, token, (*now, *expires), who.as_deref()).await?),
        Op::Release { id, token, .. } => Done::Unit(Ok(release(conn, id, token).await?)),
        Op::Touch { token_hash, now, .. } => Done::Unit(Ok(touch(conn, token_hash, *now).await?)),
        Op::Commit { .. } => return Err(StoreError::Batch("a turn commit is not a quick write".into())),
    })
}

async fn run(pools: Pools, mut rx: mpsc::Receiver<Op>, counts: Arc<Counts>) {
    let mut ops = Vec::with_capacity(MAX_BATCH);
    // On PostgreSQL the writer keeps one connection from batch to batch: taking it from the
    // pool and giving it back cost a ping each, a round trip to the server. (SQLite's ping is a
    // hop to the connection's thread, and its pools can be small: there it goes back.)
    let hold = pools.backend == "postgres" && pools.pool.options().get_max_connections() > 1;
    let mut held = None;
    while rx.recv_many(&mut ops, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut ops);
        match apply_held(&pools, hold.then_some(&mut held), &batch).await {
            Ok(done) => {
                counts.add(batch.len());
                batch.into_iter().zip(done).for_each(|(op, d)| op.answer(d));
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(writes = batch.len(), error = %e, "a batch of turn writes failed; trying each alone");
                for op in batch {
                    match apply_held(&pools, hold.then_some(&mut held), std::slice::from_ref(&op)).await {
                        Ok(mut done) => {
                            counts.add(1);
                            op.answer(done.remove(0));
                        }
                        Err(e) => op.fail(&format!("the write could not be committed: {e}")),
                    }
                }
            }
            Err(e) => batch.into_iter().for_each(|op| op.fail(&format!("the write could not be committed: {e}"))),
        }
    }
}

impl Counts {
    fn add(&self, writes: usize) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
    }
}

/// `apply` on the connection the writer holds, if it holds one (`held`: None where it keeps
/// none). If that fails, the connection is closed (the server may have dropped it since the
/// last batch), and the batch is tried once more on one taken from the pool, which pings it
/// first. Trying again is safe: a turn commit that did land finds its lock and state version
/// gone and fails alone, and locks are taken by their token.
async fn apply_held(pools: &Pools, mut held: Option<&mut Option<Conn>>, batch: &[Op]) -> StoreResult<Vec<Done>> {
    let _gate = pools.gate.enter().await;
    if let Some(conn) = held.as_mut().and_then(|h| h.take()) {
        match apply(pools, conn, batch).await {
            (Some(conn), Ok(done)) => {
                if let Some(h) = held {
                    *h = Some(conn);
                }
                return Ok(done);
            }
            (_, Err(e)) => tracing::debug!(error = %e, "a batch failed on the writer's connection; trying it on a new one"),
            (None, Ok(done)) => return Ok(done),
        }
    }
    let (conn, done) = apply(pools, pools.pool.acquire().await?, batch).await;
    if let (Some(h), true) = (held, done.is_ok()) {
        *h = conn;
    }
    done
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

/// Applies `batch` on `conn`; gives the connection back unless it must not be used again.
async fn apply(pools: &Pools, mut conn: Conn, batch: &[Op]) -> (Option<Conn>, StoreResult<Vec<Done>>) {
    let durable = batch.iter().any(Op::durable);
    // SQLite's sync mode belongs to the connection: lowered for this batch, restored before the
    // connection is used again (or the connection is closed instead).
    let quick_sqlite = pools.backend == "sqlite" && !durable;
    if quick_sqlite {
        if let Err(e) = conn.execute("PRAGMA synchronous=NORMAL").await {
            return (None, Err(e.into()));
        }
    }
    let done = apply_on(&mut conn, pools.backend, durable, batch).await;
    if quick_sqlite && conn.execute("PRAGMA synchronous=FULL").await.is_err() {
        conn.close_on_drop();
        return (None, done);
    }
    if done.is_err() {
        conn.close_on_drop();
        return (None, done);
    }
    (Some(conn), done)
}

/// Applies `batch` in one transaction and commits it; each write's own outcome in order.
/// Locks, releases and touches run in arrival order, then the turns' state updates and the
/// rest of their writes, set-wise (see `group`).
async fn apply_on(conn: &mut sqlx::AnyConnection, backend: &str, durable: bool, batch: &[Op]) -> StoreResult<Vec<Done>> {
    let mut tx = conn.begin().await?;
    if backend == "postgres" {
        postgres_prelude(&mut tx, durable, batch).await?;
    }
    let mut done = Vec::with_capacity(batch.len());
    let mut commits = Vec::new();
    for op in batch {
        done.push(match op {
            Op::Commit { commit, .. } => {
                commits.push((done.len(), commit.as_ref()));
                Done::Seq(Ok(0))
            }
            other => quick_write(&mut tx, other).await?,
        });
    }
    // The turns' state updates after the locks, releases and touches: a lock taken in the same
    // batch as a commit of the same conversation reads as taken just before that commit.
    let all: Vec<&TurnCommit> = commits.iter().map(|(_, c)| *c).collect();
    let read = group::update_states(&mut tx, &all).await?;
    let mut updated = Vec::new();
    for ((i, c), ok) in commits.iter().zip(&read.ok) {
        if *ok {
            updated.push(*c);
        } else {
            done[*i] = Done::Seq(Err(StoreError::LockLost));
        }
    }
    let mut seqs = group::write_rest(&mut tx, &updated, &read).await?.into_iter();
    tx.commit().await?;
    for d in done.iter_mut() {
        if let Done::Seq(Ok(seq)) = d {
            *seq = seqs.next().ok_or_else(|| StoreError::Batch("audit records miscounted".into()))?;
        }
    }
    Ok(done)
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// PostgreSQL (several replicas, each with its writer): takes the batch's conversation rows
/// in id order, then the audit lock, the order every other transaction uses (one row, then
/// the audit lock), so two batches never wait on each other in a circle.
async fn postgres_prelude(tx: &mut Tx<'_>, durable: bool, batch: &[Op]) -> StoreResult<()> {
    let mut ids: Vec<&str> = batch
        .iter()
        .filter_map(|op| match op {
            Op::Lock { id, .. } | Op::Release { id, .. } => Some(id.as_str()),
            Op::Commit { commit, .. } => Some(commit.conversation_id.as_str()),
            Op::Touch { .. } => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        if durable {
            sqlx::query(AUDIT_LOCK).execute(&mut **tx).await?;
        }
        return Ok(());
    }
    // One statement: the rows are locked in the order the sort returns them, and the audit
    // lock is taken once they all are (the count needs every row first).
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let rows = format!("SELECT id FROM conversations WHERE id IN ({}) ORDER BY id FOR UPDATE", marks.join(","));
    let q = if durable { format!("WITH r AS MATERIALIZED ({rows}) {AUDIT_LOCK} FROM (SELECT count(*) AS n FROM r) AS locked") } else { rows };
    let query = ids.iter().fold(sqlx::query(sqlx::AssertSqlSafe(q)), |q, id| q.bind(*id));
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Takes the turn lock and reads the conversation as it is under it, with the response stored
/// under `who`'s key; `Busy` if another live turn holds it, `NotFound` if there is no such
/// conversation (of `who`'s patient, when given). A database error fails the batch (`Err` of
/// the outer result). Taking it again with the token that holds it succeeds (a turn's token is
/// its own), so a try that failed after the lock was taken can be made again.
async fn lock(conn: &mut AnyConnection, id: &str, token: &str, (now, expires): (i64, i64), who: Option<&(String, Option<String>)>) -> StoreResult<StoreResult<Locked>> {
    let (patient, key) = match who {
        Some((p, k)) => (Some(p.as_str()), k.as_deref()),
        None => (None, None),
    };
    let owner = if patient.is_some() { " AND patient_id = $6" } else { "" };
    let q = format!(
        "UPDATE conversations SET turn_lock = $1, lock_expires = $2 \
         WHERE id = $3 AND (turn_lock IS NULL OR lock_expires < $4 OR turn_lock = $1){owner} RETURNING {CONVERSATION_COLUMNS}, \
         (SELECT t.response FROM turn_results t WHERE t.conversation_id = $3 AND t.idempotency_key = $5) AS stored"
    );
    let mut update = sqlx::query(sqlx::AssertSqlSafe(q)).bind(token).bind(expires).bind(id).bind(now).bind(key);
    if let Some(p) = patient {
        update = update.bind(p);
    }
    if let Some(row) = update.fetch_optional(&mut *conn).await? {
        return Ok(Ok((conversation(&row)?, row.try_get("stored")?)));
    }
    let owner = if patient.is_some() { " AND patient_id = $2" } else { "" };
    let q = format!("SELECT 1 AS one FROM conversations WHERE id = $1{owner}");
    let mut exists = sqlx::query(sqlx::AssertSqlSafe(q)).bind(id);
    if let Some(p) = patient {
        exists = exists.bind(p);
    }
    let exists = exists.fetch_optional(&mut *conn).await?;
    Ok(Err(if exists.is_some() { StoreError::Busy } else { StoreError::NotFound }))
}

async fn release(conn: &mut AnyConnection, id: &str, token: &str) -> StoreResult<()> {
    sqlx::query("UPDATE conversations SET turn_lock = NULL, lock_expires = 0 WHERE id = $1 AND turn_lock = $2")
        .bind(id)
        .bind(token)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn touch(conn: &mut AnyConnection, token_hash: &str, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE patient_sessions SET last_seen = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
