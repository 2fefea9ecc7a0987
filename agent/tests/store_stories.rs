//! The store's stories, run against every real backend: SQLite (a temp file) and PostgreSQL
//! (a fresh schema in the run's throwaway database).

use std::sync::Arc;

use agent::store::*;

fn conv(id: &str, patient: &str) -> ConversationRow {
    ConversationRow::new(id, patient, "patient", vec![0], 1)
}

fn commit(id: &str, lock: &str, version: i64, texts: &[&str]) -> TurnCommit {
    TurnCommit {
        conversation_id: id.into(),
        lock_token: lock.into(),
        expected_state_version: version,
        state: format!("state-{version}").into_bytes(),
        status: "active".into(),
        script_id: Some("booking".into()),
        script_version: Some(1),
        messages: texts.iter().map(|t| ("patient".to_owned(), t.as_bytes().to_vec())).collect(),
        idempotency: None,
        audit: AuditEntry { at: 5, actor: "patient".into(), action: format!("chat.turn/{id}"), payload: vec![1, 2, 3] },
        escalation: None,
        outbox: vec![],
        now: 10,
    }
}

async fn conversation_and_messages_roundtrip(s: Arc<dyn Store>) {
    s.create_conversation(&conv("c1", "p1")).await.unwrap();
    s.begin_turn("c1", "L1", 100, 200).await.unwrap();
    s.commit_turn(&commit("c1", "L1", 0, &["hello", "book me"])).await.unwrap();
    s.begin_turn("c1", "L2", 100, 200).await.unwrap();
    s.commit_turn(&commit("c1", "L2", 1, &["thanks"])).await.unwrap();
    let msgs = s.messages("c1").await.unwrap();
    let bodies: Vec<_> = msgs.iter().map(|m| String::from_utf8(m.body.clone()).unwrap()).collect();
    assert_eq!(bodies, ["hello", "book me", "thanks"]);
    assert_eq!(msgs.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let c = s.conversation("c1").await.unwrap().unwrap();
    assert_eq!(c.state_version, 2);
    assert_eq!(c.script_id.as_deref(), Some("booking"));
    assert_eq!(s.conversations_of("p1").await.unwrap().len(), 1);
    assert!(s.conversations_of("p2").await.unwrap().is_empty());
}

async fn second_turn_while_one_runs_is_busy(s: Arc<dyn Store>) {
    s.create_conversation(&conv("c1", "p1")).await.unwrap();
    s.begin_turn("c1", "A", 100, 200).await.unwrap();
    assert!(matches!(s.begin_turn("c1", "B", 150, 250).await, Err(StoreError::Busy)));
    // The turn holding it may take it again (a retried write whose first try took it).
    s.begin_turn("c1", "A", 160, 200).await.unwrap();
    // An expired lock (crashed replica) can be taken over.
    s.begin_turn("c1", "B", 201, 300).await.unwrap();
    assert!(matches!(s.begin_turn("nope", "C", 1, 2).await, Err(StoreError::NotFound)));
}

async fn commit_without_the_lock_writes_nothing(s: Arc<dyn Store>) {
    s.create_conversation(&conv("c1", "p1")).await.unwrap();
    s.begin_turn("c1", "A", 100, 200).await.unwrap();
    let err = s.commit_turn(&commit("c1", "stolen", 0, &["x"])).await.unwrap_err();
    assert!(matches!(err, StoreError::LockLost));
    assert!(s.messages("c1").await.unwrap().is_empty());
    assert!(s.audit_range(1, 10).await.unwrap().is_empty());
    // A stale state version is refused too.
    assert!(matches!(s.commit_turn(&commit("c1", "A", 7, &["x"])).await, Err(StoreError::LockLost)));
}

async fn retried_turn_finds_its_result(s: Arc<dyn Store>) {
    s.create_conversation(&conv("c1", "p1")).await.unwrap();
    s.begin_turn("c1", "A", 100, 200).await.unwrap();
    let mut c = commit("c1", "A", 0, &["hi"]);
    c.idempotency = Some(("key-1".into(), b"response".to_vec()));
    s.commit_turn(&c).await.unwrap();
    assert_eq!(s.turn_result("c1", "key-1").await.unwrap().as_deref(), Some(&b"response"[..]));
    assert_eq!(s.turn_result("c1", "key-2").await.unwrap(), None);
    // The turn path's one write: the patient's conversation locked, with the response stored
    // under the key, if any.
    let claim = |patient, key, token| TurnClaim { conversation: "c1", patient, key, token, now: 300, expires: 400 };
    let (row, stored) = s.begin_patient_turn(claim("p1", Some("key-1"), "B")).await.unwrap();
    assert_eq!((row.patient_id.as_str(), row.state_version, stored.as_deref()), ("p1", 1, Some(&b"response"[..])));
    // Held now: another claim is busy, and someone else's claim finds nothing at all.
    assert!(matches!(s.begin_patient_turn(claim("p1", None, "C")).await, Err(StoreError::Busy)));
    assert!(matches!(s.begin_patient_turn(claim("p2", None, "C")).await, Err(StoreError::NotFound)));
    s.release_turn("c1", "B").await.unwrap();
    assert!(matches!(s.begin_patient_turn(claim("p2", Some("key-1"), "C")).await, Err(StoreError::NotFound)));
    let (row, stored) = s.begin_patient_turn(claim("p1", Some("key-2"), "C")).await.unwrap();
    assert_eq!((row.id.as_str(), stored), ("c1", None));
    s.release_turn("c1", "C").await.unwrap();
    assert_eq!(s.begin_patient_turn(claim("p1", None, "D")).await.unwrap().1, None);
}

async fn sessions_live_and_die(s: Arc<dyn Store>) {
    s.create_session("h1", "p1", 100).await.unwrap();
    s.touch_session("h1", 150).await.unwrap();
    let row = s.session("h1").await.unwrap().unwrap();
    assert_eq!((row.patient_id.as_str(), row.created_at, row.last_seen), ("p1", 100, 150));
    s.delete_session("h1").await.unwrap();
    assert!(s.session("h1").await.unwrap().is_none());
}

async fn audit_rows_form_one_chain_under_concurrency(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("c{i}");
            s.create_conversation(&conv(&id, "p1")).await.unwrap();
            s.begin_turn(&id, "L", 1, 1_000).await.unwrap();
            let mut c = commit(&id, "L", 0, &["m"]);
            c.escalation = (i == 3).then(|| NewEscalation {
                id: "e1".into(),
                priority: "urgent".into(),
                reason: "red_flag".into(),
                due_at: 99,
            });
            s.commit_turn(&c).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = s.audit_range(1, 100).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
    let mut prev = AUDIT_GENESIS.to_owned();
    for r in &rows {
        assert_eq!(r.prev_hash, prev);
        let entry = AuditEntry { at: r.at, actor: r.actor.clone(), action: r.action.clone(), payload: r.payload.clone() };
        assert_eq!(r.hash, audit_hash(&prev, r.seq, &entry));
        prev = r.hash.clone();
    }
}

/// Many turns commit at once: they share transactions (group commit). The one whose lock was
/// lost fails alone, and so does the one the database refuses (a response already stored
/// under its key); every other turn is stored whole, with one unbroken audit chain.
async fn one_bad_turn_fails_alone_in_a_group_commit(s: Arc<dyn Store>) {
    s.create_conversation(&conv("g7", "p1")).await.unwrap();
    s.begin_turn("g7", "first", 1, 1_000).await.unwrap();
    let mut first = commit("g7", "first", 0, &["earlier"]);
    first.idempotency = Some(("k7".into(), b"r".to_vec()));
    s.commit_turn(&first).await.unwrap();
    let before = s.writer_stats();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("g{i}");
            if i != 7 {
                s.create_conversation(&conv(&id, "p1")).await.unwrap();
            }
            s.begin_turn(&id, "L", 1, 1_000).await.unwrap();
            let token = if i == 5 { "stolen" } else { "L" };
            let mut c = commit(&id, token, if i == 7 { 1 } else { 0 }, &["m", "reply"]);
            c.idempotency = Some((format!("k{i}"), b"r".to_vec()));
            s.commit_turn(&c).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let done = t.await.unwrap();
        match i {
            5 => assert!(matches!(done, Err(StoreError::LockLost)), "{done:?}"),
            7 => assert!(done.is_err(), "a second response under one key is refused: {done:?}"),
            _ => assert!(done.is_ok(), "turn {i}: {done:?}"),
        }
    }
    for i in 0..32 {
        let id = format!("g{i}");
        let (n, key) = (s.messages(&id).await.unwrap().len(), s.turn_result(&id, &format!("k{i}")).await.unwrap());
        let row = s.conversation(&id).await.unwrap().unwrap();
        let want = match i {
            5 => (0, None, 0),
            7 => (1, Some(&b"r"[..]), 1),
            _ => (2, Some(&b"r"[..]), 1),
        };
        assert_eq!((n, key.as_deref(), row.state_version), want, "turn {i}: nothing of a failed turn stays");
        if i == 5 || i == 7 {
            assert!(matches!(s.begin_turn(&id, "M", 2, 3).await, Err(StoreError::Busy)), "its lock is still held");
        }
    }
    let rows = s.audit_range(1, 100).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=31).collect::<Vec<_>>());
    assert!(rows.windows(2).all(|w| w[1].prev_hash == w[0].hash), "one chain");
    let after = s.writer_stats();
    let (txs, writes) = (after.transactions - before.transactions, after.writes - before.writes);
    assert!(writes >= 64 && txs < writes, "{txs} transactions for {writes} writes: some shared one");
}

fn kept(id: &str, due: i64) -> outbox::OutboxRow {
    outbox::OutboxRow {
        id: id.into(),
        conversation_id: "c1".into(),
        patient_id: "p1".into(),
        action: "book".into(),
        body: vec![7],
        next_attempt_at: due,
    }
}

fn ended<'a>(id: &'a str, lease: &'a str, status: &'a str, escalation: Option<NewEscalation>) -> outbox::OutboxEnd<'a> {
    outbox::OutboxEnd {
        id,
        lease_token: lease,
        conversation_id: "c1",
        lock_token: "T",
        status,
        result: "Appointment/9",
        message: b"told".to_vec(),
        escalation,
        audit: AuditEntry { at: 7, actor: "system".into(), action: format!("outbox.{status}"), payload: vec![4] },
        now: 120,
    }
}

async fn a_kept_write_is_made_by_one_replica_and_told_once(s: Arc<dyn Store>) {
    s.create_conversation(&conv("c1", "p1")).await.unwrap();
    s.begin_turn("c1", "L1", 1, 200).await.unwrap();
    let mut c = commit("c1", "L1", 0, &["yes"]);
    c.outbox = vec![kept("w1", 20), kept("w2", 20)];
    s.commit_turn(&c).await.unwrap();
    let o = s.outbox();
    assert!(o.due_writes(19, 10).await.unwrap().is_empty(), "not due yet");
    let due = o.due_writes(20, 10).await.unwrap();
    assert_eq!((due.len(), due[0].attempts, due[0].body.clone()), (2, 0, vec![7]));
    // Two replicas lease the same write at once: one gets it.
    let (a, b) = tokio::join!(o.lease_write("w1", "A", 20, 80), o.lease_write("w1", "B", 20, 80));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one lease: {a} {b}");
    let (holder, loser) = if a { ("A", "B") } else { ("B", "A") };
    assert_eq!(o.due_writes(30, 10).await.unwrap().len(), 1, "w1 is leased");
    o.retry_write("w1", loser, 40, 30).await.unwrap(); // no lease: changes nothing
    assert!(!o.lease_write("w1", "X", 45, 90).await.unwrap(), "still leased");
    // Its EHR call found the EHR still down: tried again at 50.
    o.retry_write("w1", holder, 50, 30).await.unwrap();
    assert!(o.due_writes(49, 10).await.unwrap().iter().all(|w| w.id != "w1"));
    assert!(o.lease_write("w1", "B", 50, 110).await.unwrap());
    // B dies mid-call; its lease runs out and C takes the write over.
    assert!(o.lease_write("w1", "C", 111, 170).await.unwrap());
    s.begin_turn("c1", "T", 111, 170).await.unwrap();
    assert!(!o.end_write(&ended("w1", "B", "done", None)).await.unwrap(), "a lost lease writes nothing");
    assert!(o.end_write(&ended("w1", "C", "done", None)).await.unwrap());
    assert!(!o.end_write(&ended("w1", "C", "done", None)).await.unwrap(), "told once");
    // The other write is refused by the EHR: told, and a coordinator case opens.
    assert!(o.lease_write("w2", "D", 120, 180).await.unwrap());
    s.begin_turn("c1", "T", 121, 180).await.unwrap();
    let case = NewEscalation { id: "e1".into(), priority: "normal".into(), reason: "kept_book_refused".into(), due_at: 999 };
    assert!(o.end_write(&ended("w2", "D", "failed", Some(case))).await.unwrap());

    let bodies: Vec<Vec<u8>> = s.messages("c1").await.unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, [b"yes".to_vec(), b"told".to_vec(), b"told".to_vec()]);
    assert_eq!(o.writes_of("c1").await.unwrap(), [("book".into(), "done".into()), ("book".into(), "failed".into())]);
    assert_eq!(s.escalations_of("c1").await.unwrap().len(), 1);
    assert_eq!(s.audit_range(1, 10).await.unwrap().len(), 3, "the turn and one record per end");
    assert!(o.due_writes(10_000, 10).await.unwrap().is_empty());
    s.begin_turn("c1", "U", 122, 180).await.unwrap(); // the conversation's lock was released
}

/// Lock-only batches skip SQLite's flush by lowering the connection's sync mode; the
/// connection goes back to the pool with FULL again, so every other write stays durable.
#[tokio::test]
async fn sqlite_connections_return_to_the_pool_durable() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqlStore::connect(&format!("sqlite://{}/agent.db", dir.path().display()), 1).await.unwrap();
    s.create_conversation(&conv("c1", "p1")).await.unwrap();
    s.begin_turn("c1", "A", 100, 200).await.unwrap();
    s.release_turn("c1", "A").await.unwrap();
    let mode: i64 = sqlx::Row::get(&sqlx::query("PRAGMA synchronous").fetch_one(s.pool()).await.unwrap(), 0);
    assert_eq!(mode, 2, "FULL");
}

/// SQLite lets one connection write at a time. The turn path's writer and every other write of
/// this process (a new conversation, a session, a data key's uses) take turns before they reach
/// SQLite, so none of them ever waits in SQLite's busy handler, which sleeps in growing steps
/// up to 100 ms. Shown with the busy handler off: a write that met another at SQLite's lock
/// would fail at once with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_of_one_process_never_meet_at_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(SqlStore::connect(&format!("sqlite://{}/agent.db", dir.path().display()), 4).await.unwrap());
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = s.pool().acquire().await.unwrap();
        sqlx::query("PRAGMA busy_timeout=0").execute(&mut *c).await.unwrap();
        held.push(c);
    }
    drop(held);
    let key = |p: &str| DataKeyRow { patient_id: p.into(), version: 1, kek_version: 1, wrapped: vec![7; 40], uses: 0 };
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..4 {
        let s = s.clone();
        tasks.spawn(async move {
            for i in 0..30 {
                let id = format!("c{t}-{i}");
                s.create_conversation(&conv(&id, &format!("p{t}"))).await?;
                s.begin_turn(&id, "L", 100, 200).await?;
                s.commit_turn(&commit(&id, "L", 0, &["hi"])).await?;
            }
            Ok::<_, StoreError>(())
        });
    }
    for t in 0..2 {
        let s = s.clone();
        tasks.spawn(async move {
            for i in 0..30 {
                let patient = format!("k{t}-{i}");
                s.insert_data_key(&key(&patient), 1).await?;
                s.reserve_key_uses(&patient, 1, 16).await?;
                s.create_session(&format!("h{t}-{i}"), &patient, 1).await?;
            }
            Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().expect("no write met another at SQLite's lock");
    }
    assert_eq!(s.audit_range(1, 1000).await.unwrap().len(), 120);
}

/// The columns a turn changes (its lock, then its commit) are in no index of `conversations`:
/// PostgreSQL can then keep each new row version on its page (a heap-only tuple) and write no
/// index entry for it, and SQLite rewrites no index entry. An index on any of them would cost
/// every turn an index write per index.
#[tokio::test]
async fn a_turn_changes_no_indexed_column_on_either_backend() {
    const TURN_COLUMNS: [&str; 8] =
        ["state", "state_version", "status", "script_id", "script_version", "turn_lock", "lock_expires", "updated_at"];
    const SQLITE: &str = "SELECT ii.name AS col FROM pragma_index_list('conversations') AS il, pragma_index_info(il.name) AS ii";
    const POSTGRES: &str = "SELECT a.attname::text AS col FROM pg_index i JOIN pg_attribute a \
        ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'conversations'::regclass";
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStore::connect(&format!("sqlite://{}/agent.db", dir.path().display()), 1).await.unwrap();
    let postgres = SqlStore::connect(&postgres_url().await, 1).await.unwrap();
    for (store, sql) in [(&sqlite, SQLITE), (&postgres, POSTGRES)] {
        let rows = sqlx::query(sql).fetch_all(store.pool()).await.unwrap();
        let indexed: Vec<String> = rows.iter().map(|r| sqlx::Row::get(r, "col")).collect();
        assert!(indexed.iter().any(|c| c == "patient_id"), "{}: a patient's conversations are indexed: {indexed:?}", store.backend());
        let hit: Vec<&String> = indexed.iter().filter(|c| TURN_COLUMNS.contains(&c.as_str())).collect();
        assert!(hit.is_empty(), "{}: indexed columns a turn changes: {hit:?}", store.backend());
    }
}

async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/agent.db", dir.path().display());
    (Arc::new(SqlStore::connect(&url, 4).await.unwrap()), dir)
}

/// A fresh schema in the run's PostgreSQL database (`AGENT_TEST_DATABASE_URL`, set by
/// scripts/test.sh), or in the local server's `postgres` database when run by hand.
async fn postgres_store() -> (Arc<dyn Store>, ()) {
    (Arc::new(SqlStore::connect(&postgres_url().await, 4).await.unwrap()), ())
}

/// The URL of a fresh schema (see `postgres_store`).
async fn postgres_url() -> String {
    let base = std::env::var("AGENT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable for the store stories");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

macro_rules! stories {
    ($backend:ident, $make:ident) => {
        mod $backend {
            use super::super::*;
            stories!(@each $make; conversation_and_messages_roundtrip, second_turn_while_one_runs_is_busy,
                commit_without_the_lock_writes_nothing, retried_turn_finds_its_result,
                sessions_live_and_die, audit_rows_form_one_chain_under_concurrency,
                a_kept_write_is_made_by_one_replica_and_told_once, one_bad_turn_fails_alone_in_a_group_commit);
        }
    };
    (@each $make:ident; $($story:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() {
                let (store, _guard) = $make().await;
                super::super::$story(store).await;
            }
        )*
    };
}

mod stories {
    stories!(sqlite, sqlite_store);
    stories!(postgres, postgres_store);
}
