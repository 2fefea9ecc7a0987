//! SQLite lets one connection write at a time. When two connections of this process meet at
//! that lock, the one that lost sleeps in SQLite's busy handler, in growing steps (1, 2, 5, 10 …
//! then 100 ms at a time), and under load the writer's back-to-back batches kept winning: a
//! data key's next block of uses or a new conversation waited up to 180 ms, and the turns
//! waiting on that seal with it (measured by `agent bench load`, model-free turns, 16 at once:
//! turns up to 730 ms in runs whose p99 was 7 ms). So every write this process makes to SQLite
//! first takes this gate, in the order asked, and holds it until it has committed. Two of our
//! own writes then never meet at SQLite's lock; its busy handler is left for other processes
//! (the CLI, a backup). Readers never take it: WAL lets them read beside the writer.
//!
//! PostgreSQL locks rows, not the database: there the gate is open.
//!
//! Take the gate before a pooled connection, never after: a task holding a connection while it
//! waits here could starve the gate's holder of one.

use tokio::sync::{Mutex, MutexGuard};

pub(super) struct WriteGate(Option<Mutex<()>>);

impl WriteGate {
    pub fn for_backend(backend: &str) -> Self {
        Self((backend == "sqlite").then(|| Mutex::new(())))
    }

    /// Waits for this process's turn to write (SQLite); at once on PostgreSQL. The turn lasts
    /// until the guard is dropped.
    pub async fn enter(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.0 {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_writers_take_turns_and_postgres_ones_do_not_wait() {
        let sqlite = WriteGate::for_backend("sqlite");
        let first = sqlite.enter().await;
        assert!(first.is_some());
        let second = tokio::time::timeout(std::time::Duration::from_millis(20), sqlite.enter()).await;
        assert!(second.is_err(), "a second SQLite writer got in while the first held the gate");
        drop(first);
        assert!(sqlite.enter().await.is_some());

        let postgres = WriteGate::for_backend("postgres");
        let _a = postgres.enter().await;
        assert!(postgres.enter().await.is_none(), "PostgreSQL writes never wait here");
    }
}
