//! Faults under load, against the real service: the binary killed with SIGKILL at random
//! moments while a patient chats (`FAULT_KILLS`, default 20; `scripts/fault-bench` runs 1,000),
//! after which every turn whose reply the client received is in the history and
//! `agent audit verify` passes; PostgreSQL connections terminated under load
//! (`pg_terminate_backend` on a database of the test's own, every 100 ms while two patients
//! chat), and the PostgreSQL server itself crashed or stopped and started again while three
//! patients chat (a server of the test's own), after which the service answers again and
//! nothing acknowledged is lost or stored twice; and a model kept busy by heavy jobs hands each turn to a person within the deadline
//! instead of leaving a spinner.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::inproc::InProcess;
use e2e::{agent_command, audit_verify, ensure_models, env_or, init_key, workspace_root, RunningAgent};
use jsonwebtoken::{encode, EncodingKey, Header};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const LAUNCH_SECRET: &str = "fault-suite-portal-secret";

/// One acknowledged turn: what the patient said and the first reply they got.
#[derive(Clone, Debug)]
struct Ack {
    conversation: String,
    said: String,
    reply: String,
}

/// A session for `patient` from a signed portal launch token.
async fn session(http: &reqwest::Client, base: &str, patient: &str) -> anyhow::Result<String> {
    let claims = json!({ "patient": patient, "aud": "fault-suite", "exp": chrono::Utc::now().timestamp() + 3600 });
    let jwt = encode(&Header::default(), &claims, &EncodingKey::from_secret(LAUNCH_SECRET.as_bytes()))?;
    let body: Value = http.post(format!("{base}/api/session")).json(&json!({ "launch_token": jwt })).send().await?.json().await?;
    Ok(body["token"].as_str().ok_or_else(|| anyhow::anyhow!("no token: {body}"))?.to_owned())
}

/// Chats until killed: a new conversation, then turns one after another; each reply received
/// is recorded in `acks` before the next turn is sent.
async fn chat_until_killed(base: String, token: String, trial: u64, acks: Arc<Mutex<Vec<Ack>>>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let Ok(r) = http.post(format!("{base}/api/conversations")).bearer_auth(&token).json(&json!({})).send().await else { return };
    let Ok(body) = r.json::<Value>().await else { return };
    let Some(conv) = body["conversation_id"].as_str().map(str::to_owned) else { return };
    let lines = ["I need an appointment next week", "with cardiology please", "actually the first one", "no thanks"];
    for k in 0.. {
        let said = format!("{} (trial {trial} turn {k})", lines[k % lines.len()]);
        let sent = http
            .post(format!("{base}/api/conversations/{conv}/messages"))
            .bearer_auth(&token)
            .json(&json!({ "text": said }))
            .send()
            .await;
        let Ok(resp) = sent else { return };
        if resp.status() != 200 {
            return;
        }
        let Ok(turn) = resp.json::<Value>().await else { return };
        let reply = turn["replies"][0]["text"].as_str().unwrap_or_default().to_owned();
        acks.lock().unwrap().push(Ack { conversation: conv.clone(), said, reply });
        if turn["finished"] == true || turn["escalated"] == true {
            return;
        }
    }
}

/// Every acknowledged turn is in its conversation's history, with the reply the client got.
async fn assert_all_present(http: &reqwest::Client, base: &str, token: &str, acks: &[Ack]) {
    let mut histories: std::collections::HashMap<String, String> = Default::default();
    for a in acks {
        if !histories.contains_key(&a.conversation) {
            let r = http.get(format!("{base}/api/conversations/{}/messages", a.conversation)).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status(), 200, "history of {}", a.conversation);
            let h: Value = r.json().await.unwrap();
            histories.insert(a.conversation.clone(), h.to_string());
        }
        let h = &histories[&a.conversation];
        assert_eq!(h.matches(&serde_json::to_string(&a.said).unwrap()).count(), 1, "{:?} stored once: {h}", a.said);
        assert!(h.contains(&serde_json::to_string(&a.reply).unwrap()), "reply to {:?} lost: {h}", a.said);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_turns_survive_sigkill_and_the_audit_log_verifies() {
    ensure_models();
    let kills = env_or("FAULT_KILLS", 20);
    let data = tempfile::tempdir().unwrap();
    init_key(data.path());
    let key = data.path().join("launch.key");
    std::fs::write(&key, LAUNCH_SECRET).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    // One EHR for all restarts (a demo EHR would be a child the kill orphans).
    let ehr = fhir_client::sekmet::Sekmet::start_async(fhir_client::sekmet::SekmetOptions {
        venv: Some(workspace_root().join(".venv-fhir")),
        data_dir: Some(data.path().join("ehr")),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = fhir_client::FhirClient::new(&ehr.config()).unwrap();
    let demo = fhir_client::seed::seed_demo(&client, chrono::Utc::now().date_naive()).await.unwrap();
    let patient = demo.patients[3].id.as_str().to_owned();
    let command = || {
        let mut c = agent_command(data.path());
        c.env("AGENT__SERVER__DEMO", "false")
            .env("AGENT__FHIR__BASE_URL", ehr.base_url())
            .env("AGENT__FHIR__ALLOW_PLAIN_HTTP", "true")
            .env("AGENT__PORTAL__LAUNCH_KEY_FILE", &key)
            .env("AGENT__PORTAL__AUDIENCE", "fault-suite")
            // The final check reads every conversation of the run from one address.
            .env("AGENT__LIMITS__SESSION_PER_MINUTE", "1000000")
            .env("AGENT__LIMITS__SESSION_BURST", "1000000")
            .env("AGENT__LIMITS__ADDRESS_PER_MINUTE", "1000000")
            .env("AGENT__LIMITS__ADDRESS_BURST", "1000000");
        c
    };
    let http = reqwest::Client::new();
    let acks = Arc::new(Mutex::new(Vec::new()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(env_or("FAULT_SEED", 11));
    let started = Instant::now();
    for trial in 0..kills {
        let agent = RunningAgent::start(command()).await.unwrap();
        let token = session(&http, &agent.base_url, &patient).await.unwrap();
        let chat = tokio::spawn(chat_until_killed(agent.base_url.clone(), token, trial, acks.clone()));
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..3_000))).await;
        drop(agent); // SIGKILL, wherever the turn is
        chat.abort();
        let _ = chat.await;
    }
    let acks = acks.lock().unwrap().clone();
    let agent = RunningAgent::start(command()).await.unwrap();
    let token = session(&http, &agent.base_url, &patient).await.unwrap();
    assert_all_present(&http, &agent.base_url, &token, &acks).await;
    drop(agent);
    let said = audit_verify(command());
    eprintln!("{kills} kills in {:?}: {} acknowledged turns, all in history; audit verify: {said}", started.elapsed(), acks.len());
    assert!(acks.len() as u64 >= kills / 4, "the load really ran: {} acknowledged turns", acks.len());
}

/// A database of this test's own on the test server, so that terminating its connections
/// touches no other test: (admin URL, database name, URL of the new database).
async fn own_database() -> (String, String, String) {
    let admin = std::env::var("AGENT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = admin.split('?').next().unwrap().to_owned();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("fault_{nanos:x}_{}", std::process::id());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin).await.expect("PostgreSQL reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    pool.close().await;
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    (admin, name, url)
}

/// Terminates every connection to `db` but the caller's; how many there were.
async fn terminate_backends(admin: &sqlx::AnyPool, db: &str) -> i64 {
    let q = format!("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()");
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(q)).fetch_one(admin).await.map(|r| r.get::<i64, _>("n")).unwrap_or(0)
}

/// Sends at least `turns` messages, and more until `done` is set, each retried under one
/// Idempotency-Key until it is answered; a turn lock left by a connection that died mid-turn is
/// waited out on the fake clock.
async fn chat_with_retries(app: &InProcess, p: &e2e::Patient, tag: &str, turns: usize, done: &AtomicBool) -> (Vec<Ack>, usize) {
    let (conv, _) = start_with_retries(p).await;
    let (mut acks, mut retries) = (vec![], 0);
    let lines = ["I need an appointment next week", "with cardiology please", "the first one", "no thanks, keep it"];
    for k in (0..).take_while(|k| *k < turns || !done.load(Ordering::Relaxed)) {
        let said = format!("{} ({tag} {k})", lines[k % lines.len()]);
        let key = format!("{tag}-{k}");
        for attempt in 0.. {
            assert!(attempt < 60, "turn {said:?} never answered");
            let sent = p.post_with(&format!("/api/conversations/{conv}/messages"), &[("Idempotency-Key", key.as_str())], json!({ "text": said })).await;
            match sent {
                Ok((200, _, turn)) => {
                    let reply = turn["replies"][0]["text"].as_str().unwrap_or_default().to_owned();
                    acks.push(Ack { conversation: conv.clone(), said: said.clone(), reply });
                    break;
                }
                Ok((409, _, _)) => app.clock.advance_ms(61_000),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            retries += 1;
        }
    }
    (acks, retries)
}

/// Opens a conversation, trying again while the database is away.
async fn start_with_retries(p: &e2e::Patient) -> (String, Value) {
    for _ in 0..60 {
        if let Ok(started) = p.start().await {
            return started;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no conversation could be opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_terminated_under_load_lose_nothing() {
    let (admin_url, db, url) = own_database().await;
    let admin = sqlx::AnyPool::connect(&admin_url).await.unwrap();
    let app = InProcess::start_with(&format!(
        "[database]\nurl = \"{url}\"\n[server]\nturn_deadline_ms = 120000\n\
         [limits]\nsession_per_minute = 100000\nsession_burst = 100000\n"
    ))
    .await;
    let (a, b) = (e2e::Patient::demo(&app.base_url, 2).await.unwrap(), e2e::Patient::demo(&app.base_url, 3).await.unwrap());
    let turns = env_or("FAULT_PG_TURNS", 6) as usize;
    let done = AtomicBool::new(false);
    let killer = async {
        let (mut terminated, mut rounds) = (0, 0);
        while !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(env_or("FAULT_PG_EVERY_MS", 100))).await;
            terminated += terminate_backends(&admin, &db).await;
            rounds += 1;
        }
        (terminated, rounds)
    };
    let chats = async {
        let now = AtomicBool::new(true);
        let both = tokio::join!(chat_with_retries(&app, &a, "a", turns, &now), chat_with_retries(&app, &b, "b", turns, &now));
        done.store(true, Ordering::Relaxed);
        both
    };
    let (((acks_a, ra), (acks_b, rb)), (terminated, rounds)) = tokio::join!(chats, killer);
    assert!(terminated > 0, "connections were terminated");
    assert_eq!(acks_a.len() + acks_b.len(), 2 * turns);
    assert_all_present(&reqwest::Client::new(), &app.base_url, a.token(), &acks_a).await;
    assert_all_present(&reqwest::Client::new(), &app.base_url, b.token(), &acks_b).await;
    let ready = reqwest::get(format!("{}/ready", app.base_url)).await.unwrap().status();
    assert_eq!(ready, 200, "ready again");
    let store = agent::store::SqlStore::connect(&url, 1).await.unwrap();
    let v = agent::audit_cli::verify_store(&store, &[], &[]).await.unwrap().unwrap_or_else(|f| panic!("audit: {f}"));
    eprintln!("{terminated} connections terminated in {rounds} rounds, {} retries, {} turns acknowledged and stored once, audit log of {} records verifies", ra + rb, 2 * turns, v.records);
    store.pool().close().await;
    drop(app);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&admin).await;
}

/// The PostgreSQL server itself taken down under load and started again on its data, by turns
/// crashed (`immediate`: no checkpoint, the WAL replayed at the next start) and shut down
/// cleanly (`fast`), while three patients chat with idempotent retries. A server of the test's
/// own (`e2e::pg_server`), so the shared one is never touched. `FAULT_PG_RESTARTS` (default 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_loses_nothing() {
    use e2e::pg_server::{PrivatePostgres, Stop};
    let pg = Arc::new(PrivatePostgres::start().expect("a PostgreSQL server of the test's own"));
    let url = pg.url();
    let app = InProcess::start_with(&format!(
        "[database]\nurl = \"{url}\"\n[server]\nturn_deadline_ms = 120000\n\
         [limits]\nsession_per_minute = 100000\nsession_burst = 100000\n"
    ))
    .await;
    let mut patients = vec![];
    for i in 0..3 {
        patients.push(e2e::Patient::demo(&app.base_url, i + 1).await.unwrap());
    }
    let restarts = env_or("FAULT_PG_RESTARTS", 4);
    let done = AtomicBool::new(false);
    let mut rng = rand::rngs::StdRng::seed_from_u64(env_or("FAULT_SEED", 11));
    let restarter = async {
        let mut down = vec![];
        for i in 0..restarts {
            tokio::time::sleep(Duration::from_millis(rng.random_range(300..1_500))).await;
            let how = if i % 2 == 0 { Stop::Immediate } else { Stop::Fast };
            let (pg, t) = (pg.clone(), Instant::now());
            tokio::task::spawn_blocking(move || {
                pg.stop_server(how)?;
                std::thread::sleep(Duration::from_millis(500));
                pg.start_server()
            })
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("restart {i} ({how:?}): {e}"));
            down.push(t.elapsed().as_millis());
        }
        done.store(true, Ordering::Relaxed);
        down
    };
    let tags = ["a", "b", "c"];
    let chats = futures::future::join_all(patients.iter().zip(tags).map(|(p, tag)| chat_with_retries(&app, p, tag, 3, &done)));
    let (results, down) = tokio::join!(chats, restarter);
    let http = reqwest::Client::new();
    let (mut turns, mut retries) = (0, 0);
    for (p, (acks, r)) in patients.iter().zip(&results) {
        assert_all_present(&http, &app.base_url, p.token(), acks).await;
        (turns, retries) = (turns + acks.len(), retries + r);
    }
    assert_eq!(reqwest::get(format!("{}/ready", app.base_url)).await.unwrap().status(), 200, "ready again");
    let store = agent::store::SqlStore::connect(&url, 1).await.unwrap();
    let v = agent::audit_cli::verify_store(&store, &[], &[]).await.unwrap().unwrap_or_else(|f| panic!("audit: {f}"));
    eprintln!("{restarts} server restarts (down {down:?} ms), {retries} retries, {turns} turns acknowledged and stored once, audit log of {} records verifies", v.records);
    store.pool().close().await;
}

/// Keeps the model's one thread busy: extractions over a long prompt, which the worker runs
/// whole before it takes the next request (a model stuck on a heavy job, as under overload).
fn occupy_the_model(app: &InProcess, jobs: usize) -> Vec<tokio::task::JoinHandle<()>> {
    use inference::{Message, Prompt, Role};
    (0..jobs)
        .map(|i| {
            let model = app.state.model.clone();
            tokio::spawn(async move {
                let note = format!("Patient note {i}: ") + &"The patient walked in the garden and felt fine afterwards. ".repeat(110);
                let prompt = Prompt {
                    messages: vec![
                        Message { role: Role::System, content: "Extract the patient's mood as JSON.".into() },
                        Message { role: Role::User, content: note },
                    ],
                    session: None,
                };
                let schema = json!({"type": "object", "properties": {"mood": {"type": "string"}}});
                let _ = model.extract(prompt, schema).await;
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_model_hands_the_turn_to_a_person_within_the_deadline() {
    let deadline = Duration::from_millis(1_500);
    let app = InProcess::start_with(&format!(
        "[server]\nturn_deadline_ms = {}\n[limits]\nsession_per_minute = 100000\nsession_burst = 100000\n",
        deadline.as_millis()
    ))
    .await;
    let mut patients = vec![];
    for i in 0..4 {
        let p = e2e::Patient::demo(&app.base_url, i).await.unwrap();
        let (conv, _) = p.start().await.unwrap();
        patients.push((p, conv));
    }
    // No script keyword in it: the intent needs the model (embeddings, then perhaps `choose`).
    const TEXT: &str = "could somebody from the clinic help me sort out a visit for my knee sometime soon";
    let hogs = occupy_the_model(&app, 3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let turns = patients.iter().map(|(p, conv)| async move {
        let t = Instant::now();
        let r = p.post(&format!("/api/conversations/{conv}/messages"), json!({ "text": TEXT })).await.unwrap();
        (t.elapsed(), r, conv.clone())
    });
    let results = futures::future::join_all(turns).await;
    let mut handed_over = 0;
    for (took, (status, body), conv) in &results {
        assert!(*took < deadline + Duration::from_secs(3), "answered in {took:?}, not left spinning: {status} {body}");
        assert!(*status == 200 || *status == 503, "{status} {body}");
        if body["escalated"] == true {
            assert!(body["replies"][0]["text"].as_str().unwrap_or_default().contains("care team"), "{body}");
            let cases = app.state.store.escalations_of(conv).await.unwrap();
            assert_eq!(cases[0].0, "high", "queued for a person: {cases:?}");
            handed_over += 1;
        }
    }
    for h in hogs {
        h.abort();
    }
    let took: Vec<_> = results.iter().map(|r| r.0).collect();
    eprintln!("stalled model: {handed_over} of {} turns handed to a person, answered in {took:?}", results.len());
    assert!(handed_over >= 1, "{results:?}");
}
