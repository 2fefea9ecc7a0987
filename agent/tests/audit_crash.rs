//! kill -9 during writes: a child process (this test binary, re-run as a writer) commits turns
//! to a SQLite file as fast as it can and prints the sequence number of each acknowledged
//! audit record; it is killed at a random moment, 100 times on the same database. After every
//! kill the log verifies and every acknowledged record is in it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use agent::audit_cli::verify_store;
use agent::store::*;
use rand::{Rng, SeedableRng};

const TRIALS: usize = 100;
const CHILD_ENV: &str = "AUDIT_CRASH_CHILD_DB";

async fn write_forever(url: &str) {
    let s = SqlStore::connect(url, 2).await.unwrap();
    loop {
        let id = uuid::Uuid::new_v4().to_string();
        s.create_conversation(&ConversationRow::new(&id, "p1", "patient", vec![0], 1))
        .await
        .unwrap();
        s.begin_turn(&id, "L", 1, 1_000).await.unwrap();
        let seq = s
            .commit_turn(&TurnCommit {
                conversation_id: id.clone(),
                lock_token: "L".into(),
                expected_state_version: 0,
                state: vec![1],
                status: "active".into(),
                script_id: None,
                script_version: None,
                messages: vec![("patient".into(), vec![7; 64])],
                idempotency: None,
                audit: AuditEntry { at: 1, actor: "patient".into(), action: format!("chat.turn/{id}"), payload: vec![9; 48] },
                escalation: None,
                outbox: vec![],
                now: 2,
            })
            .await
            .unwrap();
        println!("ACK {seq}");
    }
}

/// The writer, when this binary is re-run as the child; a no-op otherwise.
#[tokio::test]
async fn crash_child_writer() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        write_forever(&url).await;
    }
}

#[tokio::test]
async fn every_acknowledged_record_survives_kill_9_and_the_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/agent.db", dir.path().display());
    SqlStore::connect(&url, 1).await.unwrap().pool().close().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut acked: Vec<i64> = vec![];
    for trial in 0..TRIALS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(seq) = line.strip_prefix("ACK ") {
                    let _ = tx.send(seq.parse::<i64>().unwrap());
                }
            }
        });
        // Kill mid-stream: after the first acknowledgement and a random pause.
        let first = rx.recv_timeout(Duration::from_secs(20)).expect("the writer acknowledges");
        std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acked.push(first);
        acked.extend(rx.try_iter());

        let s = SqlStore::connect(&url, 1).await.unwrap();
        let v = verify_store(&s, &[], &[]).await.unwrap().unwrap_or_else(|f| panic!("trial {trial}: {f}"));
        let last = *acked.last().unwrap();
        assert!(v.records as i64 >= last, "trial {trial}: record {last} was acknowledged, the log ends at {}", v.records);
        s.pool().close().await;
    }
    eprintln!("{TRIALS} kills, {} acknowledged records, all present", acked.len());
    assert!(acked.windows(2).all(|w| w[0] < w[1]), "one increasing sequence");
}
