//! PostgreSQL's quick connections: a second pool for the turn path's work that need not wait
//! for the disk and can be done twice (turn locks, releases, session touches and the session
//! look-up). Its connections have `synchronous_commit = off` and are not pinged before each
//! use (a ping is a round trip, as dear as the statement); work that fails on one is made
//! once more on a pinged connection of the store's own pool, which a dropped connection
//! (a server restart, a terminated backend) calls for.

use futures::future::BoxFuture;
use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{AnyPool, Executor};

use super::StoreResult;

/// A quick connection lent to a try of some work, and given back with what the try came to.
pub(super) type QuickTry<'a, T> = BoxFuture<'a, (PoolConnection<sqlx::Any>, StoreResult<T>)>;

/// PostgreSQL's quick connections (`synchronous_commit = off`, not pinged before use: a ping is
/// a round trip), and the store's own pool (pinged) for a second try.
#[derive(Clone)]
pub(super) struct Quick {
    pub unpinged: AnyPool,
    pub pinged: AnyPool,
}

impl Quick {
    /// Runs `work` on a quick connection; if that fails (say the server dropped the connection
    /// since its last use), once more on a pinged one. Only for work that can be done twice: a
    /// read, or a quick write.
    pub async fn run<'a, T>(&self, mut work: impl FnMut(PoolConnection<sqlx::Any>) -> QuickTry<'a, T>) -> StoreResult<T> {
        let (mut conn, done) = work(self.unpinged.acquire().await?).await;
        match done {
            Err(e) => {
                tracing::debug!(error = %e, "work on a quick connection failed; trying it on a pinged one");
                conn.close_on_drop();
                drop(conn);
                work(self.pinged.acquire().await?).await.1
            }
            done => done,
        }
    }
}

/// PostgreSQL connections for the turn path's writes that need not wait for the disk (turn
/// locks, releases, session touches; see `writer`): a second pool of up to `max_connections`.
/// Not pinged before each use: work that fails on one is tried again on a pinged one instead.
pub(super) fn quick_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max_connections).test_before_acquire(false).after_connect(|conn, _| {
        Box::pin(async move {
            conn.execute("SET synchronous_commit = off").await?;
            // Every statement here finds its rows by primary key, so the generic plan is the
            // custom one: planned once per connection, not at every execution (PostgreSQL
            // otherwise kept re-planning the turn lock, about 90 us of its server time).
            conn.execute("SET plan_cache_mode = force_generic_plan").await?;
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sqlx::Row;

    use super::*;
    use crate::store::StoreError;

    /// Two pools of one connection each on a scratch SQLite file (the logic is the same
    /// whatever the backend; one connection, so that a connection closed is seen in `size`).
    async fn pools() -> (tempfile::TempDir, Quick) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/q.db?mode=rwc", dir.path().display());
        let pool = || AnyPoolOptions::new().max_connections(1).connect(&url);
        let (unpinged, pinged) = (pool().await.unwrap(), pool().await.unwrap());
        (dir, Quick { unpinged, pinged })
    }

    /// Work that fails the first time (`fail_first` of them) and reads 7 otherwise.
    fn seven(tries: &AtomicUsize, fail_first: usize) -> impl FnMut(PoolConnection<sqlx::Any>) -> QuickTry<'static, i64> + '_ {
        move |mut conn| {
            let n = tries.fetch_add(1, Ordering::SeqCst);
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
        let tries = AtomicUsize::new(0);
        assert_eq!(quick.run(seven(&tries, 0)).await.unwrap(), 7);
        // Each pool opened one connection when it connected.
        assert_eq!((tries.load(Ordering::SeqCst), quick.unpinged.size(), quick.pinged.size()), (1, 1, 1), "one try");
        let tries = AtomicUsize::new(0);
        assert_eq!(quick.run(seven(&tries, 1)).await.unwrap(), 7);
        assert_eq!(tries.load(Ordering::SeqCst), 2);
        // The failed connection is closed (not lent again), in the background.
        for _ in 0..100 {
            if quick.unpinged.size() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!((quick.unpinged.size(), quick.pinged.size()), (0, 1), "the failed connection closed");
        let tries = AtomicUsize::new(0);
        assert!(quick.run(seven(&tries, 2)).await.is_err(), "two failures are the caller's");
        assert_eq!(tries.load(Ordering::SeqCst), 2, "and no third try");
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
        let pool = quick_options(1).connect(&url).await.unwrap();
        for (setting, wanted) in [("synchronous_commit", "off"), ("plan_cache_mode", "force_generic_plan")] {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT current_setting('{setting}') AS v"))).fetch_one(&pool).await.unwrap();
            assert_eq!(row.get::<String, _>("v"), wanted, "{setting}");
        }
    }
}
