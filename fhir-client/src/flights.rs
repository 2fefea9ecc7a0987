//! Identical reads in flight at the same moment share one request. When many patients search
//! the same free slots or the same schedule list at once, the EHR answers once and every
//! caller gets that answer: an EHR's searches are its dearest work, and a hospital's EHR often
//! limits what one integration client may ask.
//!
//! A read joins one already in flight only if no write through this client has finished since
//! that one was sent. So a caller that wrote (booked, cancelled) and then reads again always
//! gets an answer sent after its write: read-your-writes holds, as it does without sharing.
//! An answer is never kept once it has been handed out: this is not a cache.
//!
//! If the caller who sent the request goes away before the answer (its turn was cancelled),
//! the callers who joined it send their own instead of failing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::http::Reply;
use crate::Result;

type Waiters = Vec<oneshot::Sender<Result<Reply>>>;

/// The reads in flight, by URL and by how many writes had finished when each was sent.
#[derive(Default)]
pub(crate) struct Flights {
    writes_done: AtomicU64,
    open: Mutex<HashMap<(String, u64), Waiters>>,
}

/// How a read was answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answered {
    /// This caller sent the request.
    Sent,
    /// Another caller's request, in flight already, answered this one too.
    Joined,
}

impl Flights {
    /// Held while a write (anything but a shareable read) is sent. When it is dropped (the
    /// write finished, failed or was abandoned half-way), reads sent before can no longer be
    /// joined.
    pub fn writing(&self) -> Writing<'_> {
        Writing(self)
    }

    fn write_done(&self) {
        self.writes_done.fetch_add(1, SeqCst);
    }

    /// Answers the read of `url`, sending it with `send` unless an identical read that may be
    /// shared is in flight.
    pub async fn read<F, Fut>(&self, url: &str, send: F) -> (Result<Reply>, Answered)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Reply>>,
    {
        loop {
            let key = (url.to_owned(), self.writes_done.load(SeqCst));
            let joined = {
                let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
                match open.get_mut(&key) {
                    Some(waiters) => {
                        let (tx, rx) = oneshot::channel();
                        waiters.push(tx);
                        Some(rx)
                    }
                    None => {
                        open.insert(key.clone(), Vec::new());
                        None
                    }
                }
            };
            let Some(rx) = joined else {
                return (self.lead(key, send()).await, Answered::Sent);
            };
            match rx.await {
                Ok(answer) => return (answer, Answered::Joined),
                // The sender went away before its answer came: send this read ourselves.
                Err(_) => continue,
            }
        }
    }

    /// Sends the read and hands a copy of its answer to everyone who joined meanwhile.
    async fn lead(&self, key: (String, u64), sending: impl Future<Output = Result<Reply>>) -> Result<Reply> {
        let mut guard = Closing { flights: self, key: Some(key) };
        let answer = sending.await;
        for waiter in guard.close() {
            let _ = waiter.send(answer.clone());
        }
        answer
    }
}

/// See [`Flights::writing`].
pub(crate) struct Writing<'a>(&'a Flights);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.write_done();
    }
}

/// Takes a flight out of the open ones when it ends, and also when its sender is dropped
/// mid-flight (the joined callers then see their channel close and send their own).
struct Closing<'a> {
    flights: &'a Flights,
    key: Option<(String, u64)>,
}

impl Closing<'_> {
    fn close(&mut self) -> Waiters {
        let Some(key) = self.key.take() else { return Vec::new() };
        self.flights.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&key).unwrap_or_default()
    }
}

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        drop(self.close());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use tokio::sync::Notify;
    use tokio::task::JoinHandle;

    /// Shared flights, and reads that wait for `gate` before answering, counted in `sends`.
    #[derive(Clone, Default)]
    struct Rig {
        flights: Arc<Flights>,
        gate: Arc<Notify>,
        sends: Arc<AtomicUsize>,
    }

    impl Rig {
        /// Starts a read of `url`; if it is sent, it answers `Some(status)` or fails on `None`.
        fn read(&self, url: &'static str, status: Option<u16>) -> JoinHandle<(Result<Reply>, Answered)> {
            let rig = self.clone();
            tokio::spawn(async move {
                let send = || {
                    let (gate, sends) = (rig.gate.clone(), rig.sends.clone());
                    async move {
                        sends.fetch_add(1, SeqCst);
                        gate.notified().await;
                        match status {
                            Some(status) => Ok(Reply { status, body: Some(serde_json::json!({"n": status})) }),
                            None => Err(crate::Error::Unavailable("HTTP 503".into())),
                        }
                    }
                };
                rig.flights.read(url, send).await
            })
        }

        fn sent(&self) -> usize {
            self.sends.load(SeqCst)
        }

        fn open(&self) -> usize {
            self.flights.open.lock().unwrap().len()
        }
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn identical_reads_at_once_are_sent_once_and_all_answered() {
        let rig = Rig::default();
        let tasks: Vec<_> = (0..5).map(|_| rig.read("http://ehr/Slot?status=free", Some(200))).collect();
        settle().await;
        rig.gate.notify_waiters();
        let mut how = Vec::new();
        for t in tasks {
            let (answer, answered) = t.await.unwrap();
            assert_eq!(answer.unwrap().body, Some(serde_json::json!({"n": 200})));
            how.push(answered);
        }
        assert_eq!(rig.sent(), 1);
        assert_eq!(how.iter().filter(|a| **a == Answered::Sent).count(), 1);
        assert_eq!(rig.open(), 0, "a finished flight stays open");
    }

    #[tokio::test]
    async fn a_read_after_a_finished_write_never_joins_an_earlier_read() {
        let rig = Rig::default();
        let first = rig.read("http://ehr/Appointment?patient=p1", Some(200));
        settle().await;
        drop(rig.flights.writing());
        let second = rig.read("http://ehr/Appointment?patient=p1", Some(201));
        settle().await;
        assert_eq!(rig.sent(), 2, "the read after the write was not sent");
        rig.gate.notify_waiters();
        let (a, b) = (first.await.unwrap(), second.await.unwrap());
        assert_eq!((a.1, b.1), (Answered::Sent, Answered::Sent));
        assert_eq!(b.0.unwrap().status, 201);
    }

    #[tokio::test]
    async fn different_urls_are_sent_apart() {
        let rig = Rig::default();
        let tasks = [rig.read("http://ehr/Patient/a", Some(200)), rig.read("http://ehr/Patient/b", Some(200))];
        settle().await;
        rig.gate.notify_waiters();
        for t in tasks {
            assert_eq!(t.await.unwrap().1, Answered::Sent);
        }
        assert_eq!(rig.sent(), 2);
    }

    #[tokio::test]
    async fn when_the_sender_goes_away_a_joined_read_sends_its_own() {
        let rig = Rig::default();
        let leader = rig.read("http://ehr/Slot", Some(200));
        settle().await;
        let joined = rig.read("http://ehr/Slot", Some(200));
        settle().await;
        assert_eq!(rig.sent(), 1);
        leader.abort();
        settle().await;
        assert_eq!(rig.sent(), 2, "the joined read did not send its own");
        rig.gate.notify_waiters();
        let (answer, answered) = joined.await.unwrap();
        assert_eq!((answer.unwrap().status, answered), (200, Answered::Sent));
        assert_eq!(rig.open(), 0);
    }

    #[tokio::test]
    async fn a_failed_read_fails_everyone_who_joined_it() {
        let rig = Rig::default();
        let a = rig.read("http://ehr/Schedule", None);
        settle().await;
        let b = rig.read("http://ehr/Schedule", None);
        settle().await;
        assert_eq!(rig.sent(), 1);
        rig.gate.notify_waiters();
        for t in [a, b] {
            assert!(matches!(t.await.unwrap().0, Err(crate::Error::Unavailable(_))));
        }
    }
}
