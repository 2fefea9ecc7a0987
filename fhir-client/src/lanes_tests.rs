//! The places and the batching of waiting reads, without HTTP: reads are names, `alone` and
//! `batch` record what they were asked and answer from the name.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::*;

type Answers = fn(&[&'static str]) -> Result<Vec<Entry>>;

#[derive(Clone)]
struct Rig {
    lanes: Arc<Lanes<&'static str>>,
    sent_alone: Arc<Mutex<Vec<&'static str>>>,
    batches: Arc<Mutex<Vec<Vec<&'static str>>>>,
    answers: Answers,
    /// Requests (alone or batches) wait for this when set.
    gate: Option<Arc<Notify>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

fn reply(read: &str) -> Reply {
    Reply { status: 200, body: Some(serde_json::json!({ "read": read })) }
}

fn every_entry_answered(reads: &[&'static str]) -> Result<Vec<Entry>> {
    Ok(reads.iter().map(|r| Entry::Answer(Ok(reply(r)))).collect())
}

impl Rig {
    fn new(places: usize, batching: Batching, answers: Answers) -> Self {
        Self {
            lanes: Arc::new(Lanes::new(places, batching)),
            sent_alone: Arc::default(),
            batches: Arc::default(),
            answers,
            gate: None,
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
        }
    }

    fn gated(mut self) -> Self {
        self.gate = Some(Arc::new(Notify::new()));
        self
    }

    async fn request(&self) {
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most_in_flight.fetch_max(now, SeqCst);
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        self.in_flight.fetch_sub(1, SeqCst);
    }

    fn read(&self, name: &'static str) -> JoinHandle<Result<Reply>> {
        let rig = self.clone();
        tokio::spawn(async move {
            let alone = |r: &'static str| {
                let rig = rig.clone();
                async move {
                    rig.sent_alone.lock().unwrap().push(r);
                    rig.request().await;
                    Ok(reply(r))
                }
            };
            let batch = |rs: Vec<&'static str>| {
                let rig = rig.clone();
                async move {
                    rig.batches.lock().unwrap().push(rs.clone());
                    rig.request().await;
                    (rig.answers)(&rs)
                }
            };
            rig.lanes.read(name, alone, batch).await
        })
    }

    fn alone(&self) -> Vec<&'static str> {
        let mut v = self.sent_alone.lock().unwrap().clone();
        v.sort_unstable();
        v
    }

    fn batches(&self) -> Vec<Vec<&'static str>> {
        self.batches.lock().unwrap().clone()
    }

    /// Starts a read of each name while the one place is taken, then frees the place: by
    /// then every read is waiting.
    async fn while_full(&self, names: &[&'static str]) -> Vec<JoinHandle<Result<Reply>>> {
        let hold = self.lanes.place().await;
        let tasks = names.iter().map(|n| self.read(n)).collect();
        settle().await;
        drop(hold);
        tasks
    }
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

async fn answered(task: JoinHandle<Result<Reply>>, name: &str) {
    let got = task.await.unwrap().unwrap();
    assert_eq!(got.body, reply(name).body, "{name} got another read's answer");
}

async fn all_answered(tasks: Vec<JoinHandle<Result<Reply>>>, names: &[&str]) {
    for (task, name) in tasks.into_iter().zip(names) {
        answered(task, name).await;
    }
}

const NAMES: [&str; 5] = ["Patient/a", "Patient/b", "Slot?x=1", "Slot?x=2", "Task?y=3"];

#[tokio::test]
async fn a_read_with_a_place_free_goes_alone_at_once() {
    let rig = Rig::new(2, Batching::Yes, every_entry_answered);
    answered(rig.read("Patient/a"), "Patient/a").await;
    assert_eq!(rig.alone(), ["Patient/a"]);
    assert!(rig.batches().is_empty());
}

#[tokio::test]
async fn reads_that_wait_for_a_place_go_together_and_each_gets_its_own_answer() {
    let rig = Rig::new(1, Batching::Yes, every_entry_answered);
    let hold = rig.lanes.place().await;
    let tasks: Vec<_> = NAMES.iter().map(|n| rig.read(n)).collect();
    settle().await;
    assert_eq!(rig.lanes.queue().len(), 5, "the reads did not queue");
    drop(hold);
    all_answered(tasks, &NAMES).await;
    assert_eq!(rig.batches(), [NAMES.to_vec()], "one batch, in the order asked");
    assert!(rig.alone().is_empty());
}

#[tokio::test]
async fn never_more_requests_in_flight_than_places() {
    for batching in [Batching::Yes, Batching::No] {
        let rig = Rig::new(2, batching, every_entry_answered).gated();
        let tasks: Vec<_> = NAMES.iter().map(|n| rig.read(n)).collect();
        for _ in 0..10 {
            settle().await;
            rig.gate.as_ref().unwrap().notify_waiters();
        }
        all_answered(tasks, &NAMES).await;
        assert_eq!(rig.most_in_flight.load(SeqCst), 2, "{batching:?}");
        let batched: usize = rig.batches().iter().map(Vec::len).sum();
        assert_eq!(rig.alone().len() + batched, 5, "{batching:?}: each read sent once");
        assert_eq!(batched > 0, batching == Batching::Yes, "{batching:?}");
    }
}

#[tokio::test]
async fn an_entry_without_an_answer_is_sent_again_alone() {
    let rig = Rig::new(1, Batching::Yes, |reads| {
        Ok(reads.iter().map(|r| if r.starts_with("Slot") { Entry::Alone } else { Entry::Answer(Ok(reply(r))) }).collect())
    });
    all_answered(rig.while_full(&NAMES).await, &NAMES).await;
    assert_eq!(rig.alone(), ["Slot?x=1", "Slot?x=2"]);
    assert_eq!(rig.lanes.batching(), Batching::Yes);
}

#[tokio::test]
async fn a_refused_batch_sends_its_reads_alone_and_ends_batching() {
    let rig = Rig::new(1, Batching::Yes, |_| Err(Error::Rejected { status: 400, diagnostics: "not-supported".into() }));
    all_answered(rig.while_full(&NAMES).await, &NAMES).await;
    assert_eq!(rig.alone().len(), 5);
    assert_eq!(rig.lanes.batching(), Batching::No);
    rig.lanes.set_batching(Batching::Yes);
    assert_eq!(rig.lanes.batching(), Batching::No, "a refusal is not undone");

    let more = ["Patient/c", "Patient/d"];
    all_answered(rig.while_full(&more).await, &more).await;
    assert_eq!(rig.batches().len(), 1, "batched again after a refusal");
}

#[tokio::test]
async fn the_reads_of_a_failed_batch_are_sent_again_alone() {
    let rig = Rig::new(1, Batching::Yes, |_| Err(Error::Unavailable("timed out".into())));
    all_answered(rig.while_full(&NAMES).await, &NAMES).await;
    assert_eq!(rig.alone().len(), 5, "each read of the failed batch, alone");
    assert_eq!(rig.lanes.batching(), Batching::Yes, "an EHR that was slow once still takes batches");
}

#[tokio::test]
async fn when_the_sender_of_a_batch_goes_away_its_reads_are_sent_alone() {
    let rig = Rig::new(1, Batching::Yes, every_entry_answered).gated();
    let mut tasks = rig.while_full(&NAMES).await;
    settle().await;
    assert_eq!(rig.batches().len(), 1, "the first in line did not send the batch");
    // The first in line got the place and sent the batch: it goes away mid-flight.
    tasks.remove(0).abort();
    settle().await;
    rig.gate.as_ref().unwrap().notify_waiters();
    for _ in 0..10 {
        settle().await;
        rig.gate.as_ref().unwrap().notify_waiters();
    }
    all_answered(tasks, &NAMES[1..]).await;
    assert_eq!(rig.alone(), ["Patient/b", "Slot?x=1", "Slot?x=2", "Task?y=3"]);
}

#[tokio::test]
async fn without_batching_waiting_reads_go_one_by_one() {
    for batching in [Batching::No, Batching::Unknown] {
        let rig = Rig::new(1, batching, every_entry_answered);
        all_answered(rig.while_full(&NAMES).await, &NAMES).await;
        assert_eq!(rig.alone().len(), 5, "{batching:?}");
        assert!(rig.batches().is_empty(), "{batching:?}");
    }
}
