//! PostgreSQL's quick connections: a second pool for the turn path's work that need not wait
//! for the disk and can be done twice (turn locks, releases, session touches and the session
//! look-up). Its connections have `synchronous_commit = off` and are pinged neither before
//! nor after each use (a ping is a round trip, as dear as the statement); work that fails on
//! one is made once more on a pinged connection of the store's own pool, which a dropped
//! connection (a server restart, a terminated backend) calls for.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{StoreError, StoreResult};

/// How long opening a quick connection may take before the work goes to a pinged one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection lent to a try of some work, and given back with what the try came to.
pub(super) type QuickTry<'a, T> = BoxFuture<'a, (Lent, StoreResult<T>)>;

/// The connection a try of some work runs on: a quick one, or (second try) a pinged one of the
/// store's own pool. Either derefs to the connection itself.
pub(super) enum Lent {
    Quick(QuickConn),
    Pinged(PoolConnection<sqlx::Any>),
}

impl Deref for Lent {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            Lent::Quick(q) => &q.conn,
            Lent::Pinged(p) => p,
        }
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Lent::Quick(q) => &mut q.conn,
            Lent::Pinged(p) => p,
        }
    }
}

/// A quick connection and its place among the `max_connections` that may be open.
pub(super) struct QuickConn {
    conn: AnyConnection,
    _slot: OwnedSemaphorePermit,
}

/// PostgreSQL's quick connections, pooled here rather than by sqlx: sqlx pings a connection
/// when it comes back to its pool (a round trip per use, as dear as the statement), to catch
/// one left mid-result by a cancelled query. A quick connection comes back only from work that
/// ran to the end and succeeded; one whose work failed or was dropped midway is closed instead.
pub(super) struct QuickPool {
    url: String,
    settings: &'static [&'static str],
    idle: Mutex<Vec<AnyConnection>>,
    slots: Arc<Semaphore>,
}

impl QuickPool {
    /// Up to `max_connections` connections to `url`, each opened with `settings` run on it.
    pub fn new(url: &str, max_connections: u32, settings: &'static [&'static str]) -> Self {
        let slots = Arc::new(Semaphore::new(max_connections.max(1) as usize));
        Self { url: url.to_owned(), settings, idle: Mutex::new(Vec::new()), slots }
    }

    async fn acquire(&self) -> StoreResult<QuickConn> {
        let slot = self.slots.clone().acquire_owned().await.map_err(|_| StoreError::Batch("the quick pool is closed".into()))?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => tokio::time::timeout(CONNECT_TIMEOUT, open(&self.url, self.settings))
                .await
                .map_err(|_| StoreError::Batch("opening a quick connection timed out".into()))??,
        };
        Ok(QuickConn { conn, _slot: slot })
    }

    fn give_back(&self, q: QuickConn) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(q.conn);
    }

    /// Connections open and idle (for tests).
    #[cfg(test)]
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// What a quick connection to PostgreSQL runs when it opens: it commits without waiting for
/// the disk, and, as every statement on it finds its rows by primary key, its generic plan is
/// the custom one: planned once per connection, not at every execution (PostgreSQL otherwise
/// kept re-planning the turn lock, about 90 us of its server time).
pub(super) const POSTGRES_SETTINGS: &[&str] = &["SET synchronous_commit = off", "SET plan_cache_mode = force_generic_plan"];

async fn open(url: &str, settings: &[&'static str]) -> StoreResult<AnyConnection> {
    let mut conn = AnyConnection::connect(url).await?;
    for s in settings {
        conn.execute(*s).await?;
    }
    Ok(conn)
}

/// PostgreSQL's quick connections, and the store's own pool (pinged) for a second try.
#[derive(Clone)]
pub(super) struct Quick {
    pub unpinged: Arc<QuickPool>,
    pub pinged: AnyPool,
}

impl Quick {
    /// Runs `work` on a quick connection; if that fails (say the server dropped the connection
    /// since its last use, or no quick connection could be opened), once more on a pinged one.
    /// Only for work that can be done twice: a read, or a quick write.
    pub async fn run<'a, T>(&self, mut work: impl FnMut(Lent) -> QuickTry<'a, T>) -> StoreResult<T> {
        let failed = match self.unpinged.acquire().await {
            Ok(conn) => match work(Lent::Quick(conn)).await {
                (Lent::Quick(conn), Ok(done)) => {
                    self.unpinged.give_back(conn);
                    return Ok(done);
                }
                // The connection is dropped here: closed, never lent again.
                (_, done) => done.err(),
            },
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            tracing::debug!(error = %e, "work on a quick connection failed; trying it on a pinged one");
        }
        work(Lent::Pinged(self.pinged.acquire().await?)).await.1
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sqlx::any::AnyPoolOptions;
    use sqlx::Row;

    use super::*;

    /// A quick pool and a pinged pool of one connection each on a scratch SQLite file (the
    /// logic is the same whatever the backend).
    async fn pools() -> (tempfile::TempDir, Quick) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/q.db?mode=rwc", dir.path().display());
        let pinged = AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        (dir, Quick { unpinged: Arc::new(QuickPool::new(&url, 1, &[])), pinged })
    }

    /// Work that fails the first time (`fail_first` of them) and reads 7 otherwise; counts the
    /// tries made on a pinged connection in `pinged`.
    fn seven<'t>(tries: &'t AtomicUsize, pinged: &'t AtomicUsize, fail_first: usize) -> impl FnMut(Lent) -> QuickTry<'static, i64> + 't {
        move |mut conn| {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            if matches!(conn, Lent::Pinged(_)) {
                pinged.fetch_add(1, Ordering::SeqCst);
            }
            Box::pin(async move {
                let got = if n < fail_first {
                    Err(StoreError::Batch("the connection was dropped".into()))
                } else {
                    sqlx::query("SELECT 7 AS v").fetch_one(&mut *conn).await.map(|r| r.get::<i64, _>("v")).map_err(StoreError::from)
                };
                (conn, got)
            })
        }
    }

    #[tokio::test]
    async fn failed_work_is_made_once_more_on_a_pinged_connection_and_its_connection_closed() {
        let (_dir, quick) = pools().await;
        let (tries, pinged) = (AtomicUsize::new(0), AtomicUsize::new(0));
        assert_eq!(quick.run(seven(&tries, &pinged, 0)).await.unwrap(), 7);
        assert_eq!((tries.load(Ordering::SeqCst), pinged.load(Ordering::SeqCst)), (1, 0), "one try, on a quick connection");
        assert_eq!(quick.unpinged.idle(), 1, "given back after work that succeeded");
        let (tries, pinged) = (AtomicUsize::new(0), AtomicUsize::new(0));
        assert_eq!(quick.run(seven(&tries, &pinged, 1)).await.unwrap(), 7);
        assert_eq!((tries.load(Ordering::SeqCst), pinged.load(Ordering::SeqCst)), (2, 1), "the second try on a pinged one");
        assert_eq!(quick.unpinged.idle(), 0, "the failed connection is closed, not lent again");
        let (tries, pinged) = (AtomicUsize::new(0), AtomicUsize::new(0));
        assert!(quick.run(seven(&tries, &pinged, 2)).await.is_err(), "two failures are the caller's");
        assert_eq!(tries.load(Ordering::SeqCst), 2, "and no third try");
        let (tries, pinged) = (AtomicUsize::new(0), AtomicUsize::new(0));
        assert_eq!(quick.run(seven(&tries, &pinged, 0)).await.unwrap(), 7, "a new quick connection is opened");
        assert_eq!((pinged.load(Ordering::SeqCst), quick.unpinged.idle()), (0, 1));
    }

    /// Work dropped midway (a cancelled request) takes its connection with it: it might be
    /// mid-result, so it is never lent again, and its place is free for a new one.
    #[tokio::test]
    async fn a_connection_whose_work_was_dropped_is_not_lent_again() {
        let (_dir, quick) = pools().await;
        let (tries, pinged) = (AtomicUsize::new(0), AtomicUsize::new(0));
        assert_eq!(quick.run(seven(&tries, &pinged, 0)).await.unwrap(), 7);
        let stalled = quick.run(|conn| -> QuickTry<'static, i64> {
            Box::pin(async move {
                std::future::pending::<()>().await;
                (conn, Ok(0))
            })
        });
        assert!(tokio::time::timeout(Duration::from_millis(50), stalled).await.is_err());
        assert_eq!(quick.unpinged.idle(), 0);
        let done = tokio::time::timeout(Duration::from_secs(5), quick.run(seven(&tries, &pinged, 0))).await;
        assert_eq!(done.expect("the dropped work's place was freed").unwrap(), 7);
        assert_eq!(pinged.load(Ordering::SeqCst), 0);
    }

    /// On PostgreSQL (when the run has one), a quick connection commits without waiting for the
    /// disk and plans its statements once.
    #[tokio::test]
    async fn quick_connections_skip_the_flush_and_keep_generic_plans() {
        let Ok(url) = std::env::var("AGENT_TEST_DATABASE_URL") else {
            eprintln!("AGENT_TEST_DATABASE_URL unset: PostgreSQL not checked");
            return;
        };
        sqlx::any::install_default_drivers();
        let pool = QuickPool::new(&url, 1, POSTGRES_SETTINGS);
        let mut conn = pool.acquire().await.unwrap();
        for (setting, wanted) in [("synchronous_commit", "off"), ("plan_cache_mode", "force_generic_plan")] {
            let sql = sqlx::AssertSqlSafe(format!("SELECT current_setting('{setting}') AS v"));
            let row = sqlx::query(sql).fetch_one(&mut conn.conn).await.unwrap();
            assert_eq!(row.get::<String, _>("v"), wanted, "{setting}");
        }
    }
}
