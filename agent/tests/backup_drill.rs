//! The restore drill: patients keep chatting while `agent backup create` runs; the backup is
//! verified, restored into a fresh folder and a service started there, and every turn that was
//! acknowledged before the backup began is in it, each conversation exactly a prefix of what the
//! live service holds, and `agent audit verify` passes on the copy. Then the ways a backup goes
//! bad: one flipped byte, a truncated file, the wrong key file, an existing target.

mod staff_support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use staff_support::{App, Db};

/// The real binary, on the database and keys in `dir`.
fn agent(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(args)
        .current_dir(dir)
        .env_remove("AGENT_CONFIG")
        .env("AGENT__DATABASE__URL", format!("sqlite://{}/agent.db", dir.display()))
        .env("AGENT__CRYPTO__KEY_FILE", dir.join("master.key"))
        .env("AGENT__AUDIT__SIGNING_KEY_FILE", dir.join("audit-signing.key"))
        .env("AGENT__AUDIT__CHECKPOINT_FILE", dir.join("audit-checkpoints.jsonl"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The conversation's messages as its patient reads them.
async fn history(app: &App, token: &str, conv: &str) -> Vec<Value> {
    let resp = app.get(token, &format!("/api/conversations/{conv}/messages")).await;
    assert_eq!(resp.status(), 200);
    resp.json::<Vec<Value>>().await.unwrap()
}

/// Acknowledged turns: (patient index, the message's text).
type Acked = Arc<Mutex<Vec<(usize, String)>>>;

/// Each patient posts turns one after another until `stop`.
fn chat_until(app: &Arc<App>, tokens: &[String], convs: &[String], stop: &Arc<AtomicBool>, acked: &Acked) -> Vec<tokio::task::JoinHandle<()>> {
    (0..tokens.len())
        .map(|p| {
            let (app, stop, acked) = (app.clone(), stop.clone(), acked.clone());
            let (token, conv) = (tokens[p].clone(), convs[p].clone());
            tokio::spawn(async move {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let said = format!("message {i}");
                    let resp = app.post(&token, &format!("/api/conversations/{conv}/messages"), serde_json::json!({"text": said})).await;
                    assert_eq!(resp.status(), 200, "turn {i} of patient {p}");
                    acked.lock().unwrap().push((p, said));
                }
            })
        })
        .collect()
}

async fn wait_for(acked: &Acked, n: usize) {
    while acked.lock().unwrap().len() < n {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_every_acknowledged_turn() {
    let live = Arc::new(App::start(Db::Sqlite).await);
    let dir = live.dir.path().to_path_buf();
    let patients = ["drill-1", "drill-2", "drill-3"];
    let mut tokens = vec![];
    let mut convs = vec![];
    for p in patients {
        let t = live.patient_token(p).await;
        convs.push(live.open_conversation(&t).await);
        tokens.push(t);
    }
    let (stop, acked): (Arc<AtomicBool>, Acked) = Default::default();
    let chatting = chat_until(&live, &tokens, &convs, &stop, &acked);
    wait_for(&acked, 15).await;
    // A signed checkpoint inside the copy: the restored log must still reproduce it.
    let now = live.clock_ms();
    agent::audit::checkpointer::checkpoint_now(live.state.audit.store(), &live.audit_signer(), None, now).await.unwrap().unwrap();
    let before = acked.lock().unwrap().clone();
    let out = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || agent(&dir, &["backup", "create", "drill.bak"])
    })
    .await
    .unwrap();
    let during = acked.lock().unwrap().len() - before.len();
    eprintln!("drill: {} turns acknowledged before the backup, {during} while it ran", before.len());
    assert!(out.status.success(), "backup create: {}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("backup written: drill.bak"), "{}", text(&out.stdout));
    wait_for(&acked, before.len() + during + 6).await;
    stop.store(true, Ordering::SeqCst);
    for c in chatting {
        c.await.unwrap();
    }
    let out = agent(&dir, &["backup", "verify", "drill.bak"]);
    assert!(out.status.success(), "backup verify: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("audit log OK"), "{}", text(&out.stdout));

    let fresh = tempfile::tempdir().unwrap();
    for f in ["master.key", "audit-signing.key", "audit-signing.key.pub"] {
        std::fs::copy(dir.join(f), fresh.path().join(f)).unwrap();
    }
    let target = format!("sqlite://{}/agent.db", fresh.path().display());
    let out = agent(fresh.path(), &["backup", "restore", dir.join("drill.bak").to_str().unwrap(), "--to", &target]);
    assert!(out.status.success(), "restore: {}", text(&out.stderr));
    let out = agent(fresh.path(), &["audit", "verify"]);
    assert!(out.status.success(), "audit verify on the copy: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 checkpoints"), "{}", text(&out.stdout));

    let restored = App::start_in(fresh, &target, 3_600_000).await;
    let mut kept = 0;
    for (p, conv) in convs.iter().enumerate() {
        let live_msgs = history(&live, &tokens[p], conv).await;
        let token = restored.patient_token(patients[p]).await;
        let copy = history(&restored, &token, conv).await;
        assert!(live_msgs.starts_with(&copy), "patient {p}: the copy is not a prefix of the live history");
        for (_, said) in before.iter().filter(|(q, _)| *q == p) {
            assert!(copy.iter().any(|m| m["role"] == "patient" && m["text"] == said.as_str()), "patient {p}: acknowledged {said:?} lost");
        }
        kept += copy.len();
    }
    assert!(kept >= before.len() * 2, "each acknowledged turn has its reply too");
}

#[tokio::test]
async fn a_damaged_truncated_or_foreign_backup_is_refused_in_one_line() {
    let app = App::start(Db::Sqlite).await;
    let dir = app.dir.path();
    let token = app.patient_token("p-bad").await;
    let conv = app.open_conversation(&token).await;
    app.patient_says(&token, &conv, "hello").await;
    assert!(agent(dir, &["backup", "create", "good.bak"]).status.success());
    let again = agent(dir, &["backup", "create", "good.bak"]);
    assert!(!again.status.success() && text(&again.stderr).contains("already exists"), "never overwrites");
    let good = std::fs::read(dir.join("good.bak")).unwrap();

    let refused = |name: &str, bytes: &[u8], needle: &str| {
        std::fs::write(dir.join(name), bytes).unwrap();
        let out = agent(dir, &["backup", "verify", name]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line: {err}");
        assert!(err.contains(needle), "{name}: {err}");
    };
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x20;
    refused("flipped.bak", &flipped, "damaged or tampered");
    refused("short.bak", &good[..good.len() - 100], "truncated");
    refused("plain.bak", b"SQLite format 3\0", "not an agent backup");

    // Another site's key file cannot open it.
    let other = tempfile::tempdir().unwrap();
    agent::crypto::init_key_file(&other.path().join("master.key")).unwrap();
    std::fs::copy(dir.join("good.bak"), other.path().join("good.bak")).unwrap();
    let out = agent(other.path(), &["backup", "verify", "good.bak"]);
    assert!(!out.status.success() && text(&out.stderr).contains("does not open with the key file"), "{}", text(&out.stderr));

    // Restore never writes over a database.
    let out = agent(dir, &["backup", "restore", "good.bak"]);
    assert!(!out.status.success() && text(&out.stderr).contains("exists"), "{}", text(&out.stderr));
}
