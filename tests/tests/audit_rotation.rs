//! Key rotation during chat traffic: two patients chat and read their histories over HTTP
//! while the key-encryption key is rotated twice; the service rewraps the data keys in the
//! background; no turn and no read fails; the old key versions are then retired and a
//! restarted service (nothing in memory) still reads every message.

use std::time::{Duration, Instant};

use agent::crypto::kek;
use agent::store::{KeyStore, SqlStore};
use e2e::inproc::InProcess;
use e2e::Patient;

async fn chat(p: &Patient, conv: &str) -> usize {
    let mut reads = 0;
    for text in ["I need an appointment with cardiology next week", "the first one", "yes"] {
        p.say(conv, text).await.unwrap();
        let (status, history) = p.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
        assert_eq!(status, 200, "{history}");
        reads += history.as_array().unwrap().len();
    }
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_while_patients_chat_and_no_read_fails() {
    let app = InProcess::start_with("[crypto]\nkey_cache_secs = 1\n").await;
    let key = app.dir.path().join("master.key");
    let (a, b) = (Patient::demo(&app.base_url, 1).await.unwrap(), Patient::demo(&app.base_url, 3).await.unwrap());
    let (ca, _) = a.start().await.unwrap();
    let (cb, _) = b.start().await.unwrap();
    let rotate = async {
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            kek::rotate_file(&key).unwrap();
        }
    };
    let (ra, rb, ()) = tokio::join!(chat(&a, &ca), chat(&b, &cb), rotate);
    assert!(ra > 0 && rb > 0);

    // The service's background task rewraps every data key under version 3.
    let store = SqlStore::connect(&format!("sqlite://{}/agent.db", app.dir.path().display()), 1).await.unwrap();
    let started = Instant::now();
    while store.count_data_keys_under(1).await.unwrap() + store.count_data_keys_under(2).await.unwrap() > 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "data keys left under old versions");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    kek::retire_in_file(&key, 1).unwrap();
    kek::retire_in_file(&key, 2).unwrap();
    store.pool().close().await;

    let app = app.restart("").await;
    for (p, conv) in [(a.via(&app.base_url), &ca), (b.via(&app.base_url), &cb)] {
        let (status, history) = p.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
        assert_eq!(status, 200, "{history}");
        assert!(history.as_array().unwrap().len() >= 7, "greeting + 3 turns with replies: {history}");
    }
}
