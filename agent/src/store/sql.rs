//! `Store` over sqlx's Any driver. SQL is written once in the portable subset both backends
//! accept (`$n` placeholders, integers for times in ms, blobs for sealed data); the only
//! backend-specific parts are the migrations, SQLite's pragmas, and how the audit chain is
//! serialised across writers.

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use super::*;
use super::gate::WriteGate;
use super::quick::{Quick, QuickPool, POSTGRES_SETTINGS};
use super::writer::{Op, Pools, Writer};

pub struct SqlStore {
    pool: AnyPool,
    /// PostgreSQL: the quick connections (see `quick`), also used for the session
    /// look-up every patient request makes.
    quick: Option<Quick>,
    backend: &'static str,
    /// The turn path's writes, group-committed (see `writer`).
    writer: Writer,
    /// Every other write takes this first (SQLite: one writer at a time; see `gate`).
    pub(super) gate: std::sync::Arc<WriteGate>,
}

impl SqlStore {
    /// Connects, applies SQLite's durability pragmas, runs the migrations, and starts the
    /// writer task (call inside a tokio runtime).
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let url = if backend == "sqlite" { sqlite_url(url)? } else { url.to_owned() };
        let (pool, quick) = if backend == "sqlite" {
            (sqlite_options(max_connections).connect(&url).await?, None)
        } else {
            let pool = AnyPoolOptions::new().max_connections(max_connections).connect(&url).await?;
            let unpinged = std::sync::Arc::new(QuickPool::new(&url, max_connections, POSTGRES_SETTINGS));
            (pool.clone(), Some(Quick { unpinged, pinged: pool }))
        };
        if backend == "sqlite" {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        } else {
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        }
        let gate = std::sync::Arc::new(WriteGate::for_backend(backend));
        let writer = Writer::spawn(Pools { pool: pool.clone(), backend, gate: gate.clone() }, quick.clone());
        Ok(Self { pool, quick, backend, writer, gate })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// WAL for concurrent readers; FULL sync, so an acknowledged turn survives power loss (the
/// writer lowers it for batches that need not wait for the disk); waits instead of failing
/// when another process writes (this one's writes take turns at the gate, see `gate`).
fn sqlite_options(max_connections: u32) -> AnyPoolOptions {
    // An embedded database's connection cannot go stale behind the pool's back: no ping
    // (a round trip to the connection's worker thread) before every use.
    AnyPoolOptions::new().max_connections(max_connections).test_before_acquire(false).after_connect(move |conn, _| {
        Box::pin(async move {
            conn.execute("PRAGMA journal_mode=WAL").await?;
            conn.execute("PRAGMA synchronous=FULL").await?;
            conn.execute("PRAGMA busy_timeout=10000").await?;
            conn.execute("PRAGMA foreign_keys=ON").await?;
            Ok(())
        })
    })
}

/// `sqlite://path` → a URL that creates the file (and its folder) when missing.
fn sqlite_url(url: &str) -> StoreResult<String> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
    }
    Ok(format!("sqlite://{path}?mode=rwc"))
}

pub(super) fn conversation(row: &AnyRow) -> StoreResult<ConversationRow> {
    Ok(ConversationRow {
        id: row.try_get("id")?,
        patient_id: row.try_get("patient_id")?,
        status: row.try_get("status")?,
        started_by: row.try_get("started_by")?,
        script_id: row.try_get("script_id")?,
        script_version: row.try_get("script_version")?,
        state: row.try_get("state")?,
        state_version: row.try_get("state_version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) const CONVERSATION_COLUMNS: &str = "id, patient_id, status, started_by, script_id, script_version, \
     state, state_version, created_at, updated_at";

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.backend
    }

    fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_conversation(&self, r: &ConversationRow) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query(
            "INSERT INTO conversations (id, patient_id, status, started_by, script_id, script_version, \
             state, state_version, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        )
        .bind(&r.id)
        .bind(&r.patient_id)
        .bind(&r.status)
        .bind(&r.started_by)
        .bind(&r.script_id)
        .bind(r.script_version)
        .bind(&r.state)
        .bind(r.state_version)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationRow>> {
        let q = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(conversation).transpose()
    }

    async fn conversations_of(&self, patient_id: &str) -> StoreResult<Vec<ConversationRow>> {
        let q = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE patient_id = $1 ORDER BY created_at DESC, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(patient_id).fetch_all(&self.pool).await?;
        rows.iter().map(conversation).collect()
    }

    async fn messages(&self, conversation_id: &str) -> StoreResult<Vec<MessageRow>> {
        let rows = sqlx::query(
            "SELECT seq, role, body, created_at FROM messages WHERE conversation_id = $1 ORDER BY seq",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MessageRow {
                    seq: r.try_get("seq")?,
                    role: r.try_get("role")?,
                    body: r.try_get("body")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn begin_turn(&self, id: &str, token: &str, now: i64, expires: i64) -> StoreResult<ConversationRow> {
        let (id, token) = (id.to_owned(), token.to_owned());
        let (row, _) = self.writer.send(|reply| Op::Lock { id, token, now, expires, who: None, reply }).await?;
        Ok(row)
    }

    async fn begin_patient_turn(&self, c: TurnClaim<'_>) -> StoreResult<(ConversationRow, Option<Vec<u8>>)> {
        let (id, token) = (c.conversation.to_owned(), c.token.to_owned());
        let who = Some(Box::new((c.patient.to_owned(), c.key.map(str::to_owned))));
        self.writer.send(|reply| Op::Lock { id, token, now: c.now, expires: c.expires, who, reply }).await
    }

    async fn release_turn(&self, id: &str, token: &str) -> StoreResult<()> {
        let (id, token) = (id.to_owned(), token.to_owned());
        self.writer.send(|reply| Op::Release { id, token, reply }).await
    }

    async fn commit_turn(&self, c: &TurnCommit) -> StoreResult<i64> {
        self.writer.send(|reply| Op::Commit { commit: Box::new(c.clone()), reply }).await
    }

    async fn turn_result(&self, id: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT response FROM turn_results WHERE conversation_id = $1 AND idempotency_key = $2")
            .bind(id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("response")).transpose()?)
    }

    async fn create_session(&self, token_hash: &str, patient_id: &str, now: i64) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("INSERT INTO patient_sessions (token_hash, patient_id, created_at, last_seen) VALUES ($1,$2,$3,$3)")
            .bind(token_hash)
            .bind(patient_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRow>> {
        const SQL: &str = "SELECT patient_id, created_at, last_seen FROM patient_sessions WHERE token_hash = $1";
        let row = match &self.quick {
            Some(quick) => {
                quick.run(|mut conn| {
                    Box::pin(async move {
                        let row = sqlx::query(SQL).bind(token_hash).fetch_optional(&mut *conn).await;
                        (conn, row.map_err(StoreError::from))
                    })
                })
                .await?
            }
            None => sqlx::query(SQL).bind(token_hash).fetch_optional(&self.pool).await?,
        };
        row.map(|r| {
            Ok(SessionRow {
                patient_id: r.try_get("patient_id")?,
                created_at: r.try_get("created_at")?,
                last_seen: r.try_get("last_seen")?,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, token_hash: &str, now: i64) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.writer.send(|reply| Op::Touch { token_hash, now, reply }).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("DELETE FROM patient_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit_range(&self, from_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, payload, prev_hash, hash FROM audit_log \
             WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(from_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    payload: r.try_get("payload")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    async fn claim_outreach(&self, encounter_id: &str, patient_id: &str, now: i64) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query(
            "INSERT INTO outreach (encounter_id, patient_id, created_at) VALUES ($1,$2,$3) \
             ON CONFLICT (encounter_id) DO NOTHING",
        )
        .bind(encounter_id)
        .bind(patient_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_outreach_conversation(&self, encounter_id: &str, conversation_id: &str) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("UPDATE outreach SET conversation_id = $1 WHERE encounter_id = $2")
            .bind(conversation_id)
            .bind(encounter_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn escalations_of(&self, conversation_id: &str) -> StoreResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT priority, reason, status FROM escalations WHERE conversation_id = $1 ORDER BY created_at, id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("priority")?, r.try_get("reason")?, r.try_get("status")?)))
            .collect()
    }

    fn staff(&self) -> &dyn super::staff::StaffStore {
        self
    }

    fn scripts(&self) -> &dyn super::scripts::ScriptStore {
        self
    }

    fn followups(&self) -> &dyn super::followups::FollowupStore {
        self
    }

    fn outcomes(&self) -> &dyn super::outcomes::OutcomeStore {
        self
    }

    fn outbox(&self) -> &dyn super::outbox::OutboxStore {
        self
    }
}

/// Serialises audit appends across PostgreSQL replicas (a transaction-scoped advisory lock).
pub(super) const AUDIT_LOCK: &str = "SELECT pg_advisory_xact_lock(7261001)";

/// Appends one audit row chained to the current tip. Writers are serialised: on PostgreSQL by
/// a transaction-scoped advisory lock (replicas share one sequence), on SQLite by its single
/// writer lock, which the caller's first statement already holds.
pub(super) async fn append_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: &str,
    entry: &AuditEntry,
) -> StoreResult<i64> {
    if backend == "postgres" {
        sqlx::query(AUDIT_LOCK).execute(&mut **tx).await?;
    }
    let tip = audit_tip(tx).await?;
    Ok(insert_audit(tx, &tip, entry).await?.0)
}

/// The last audit row's (seq, hash), or (0, genesis); read under the writers' serialisation.
pub(super) async fn audit_tip(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> StoreResult<(i64, String)> {
    let tip = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match tip {
        Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("hash")?),
        None => (0, AUDIT_GENESIS.to_owned()),
    })
}

/// Inserts `entry` after `tip`; the new row's (seq, hash), the next one's tip.
async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    (prev_seq, prev_hash): &(i64, String),
    entry: &AuditEntry,
) -> StoreResult<(i64, String)> {
    let seq = prev_seq + 1;
    let hash = audit_hash(prev_hash, seq, entry);
    sqlx::query("INSERT INTO audit_log (seq, at, actor, action, payload, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7)")
        .bind(seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.payload)
        .bind(prev_hash)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok((seq, hash))
}
