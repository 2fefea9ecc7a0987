//! Shared helpers for the end-to-end tests: run the real `agent` binary (built by
//! `scripts/test.sh`) with a throwaway data folder, port 0, and captured output.

pub mod attack;
pub mod ehr_crash;
pub mod inproc;
pub mod pg_server;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workspace root (tests run with the package folder as cwd).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The `agent` binary: `$AGENT_BIN`, else `target/debug/agent` (built by scripts/test.sh).
pub fn agent_bin() -> PathBuf {
    if let Ok(p) = std::env::var("AGENT_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("target"));
    let bin = target.join("debug").join("agent");
    assert!(bin.exists(), "{} missing: run `cargo build -p agent` first (scripts/test.sh does)", bin.display());
    bin
}

/// A command for the agent binary with settings that keep everything inside `data`.
pub fn agent_command(data: &Path) -> Command {
    let root = workspace_root();
    let mut cmd = Command::new(agent_bin());
    cmd.current_dir(data)
        .env_remove("AGENT_CONFIG")
        .env("AGENT__DATABASE__URL", format!("sqlite://{}/agent.db", data.display()))
        .env("AGENT__CRYPTO__KEY_FILE", data.join("master.key"))
        .env("AGENT__MODEL__MODELS_DIR", root.join("models"))
        .env("AGENT__DEMO_EHR__VENV", root.join(".venv-fhir"))
        .env("AGENT__DEMO_EHR__DATA_DIR", data.join("ehr"))
        .env("AGENT__DEMO_EHR__PORT", "0")
        .env("AGENT__SERVER__PORT", "0")
        .env("AGENT__MODEL__THREADS", "1")
        .env("RUST_LOG", "info");
    cmd
}

/// A size or seed from the environment (`name`), else `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A loopback port free right now (for a server the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `agent audit verify` with `agent` (an `agent_command` with the run's settings) and
/// returns what it printed; fails the test when the log does not verify.
pub fn audit_verify(mut agent: Command) -> String {
    let out = agent.args(["audit", "verify"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success(), "audit verify: {said}{}", String::from_utf8_lossy(&out.stderr));
    said
}

/// Creates the key file the service needs.
pub fn init_key(data: &Path) {
    let out = agent_command(data).args(["keys", "init"]).output().expect("run agent keys init");
    assert!(out.status.success(), "keys init failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A running agent; killed on drop. `logs()` is everything it wrote to stderr so far.
pub struct RunningAgent {
    child: Child,
    pub base_url: String,
    logs: Arc<Mutex<String>>,
}

impl RunningAgent {
    /// Starts `agent serve` and waits until it prints its address and `/ready` answers 200.
    pub async fn start(cmd: Command) -> anyhow::Result<Self> {
        Self::start_with_client(cmd, reqwest::Client::new()).await
    }

    /// `start`, asking `/ready` with `client` (one that trusts a test certificate, for HTTPS).
    pub async fn start_with_client(mut cmd: Command, client: reqwest::Client) -> anyhow::Result<Self> {
        let mut child = cmd.arg("serve").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let logs = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped");
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("agent listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let mut agent = Self { child, base_url: String::new(), logs };
        agent.base_url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(240)))
            .await?
            .map_err(|_| anyhow::anyhow!("agent did not start; its log:\n{}", "see stderr"))?;
        agent.wait_ready(&client, Duration::from_secs(120)).await?;
        Ok(agent)
    }

    async fn wait_ready(&self, client: &reqwest::Client, limit: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/ready", self.base_url)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > limit {
                anyhow::bail!("not ready after {limit:?}; log:\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit; how long it took.
    pub fn terminate(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status()?;
        while started.elapsed() < limit {
            if self.child.try_wait()?.is_some() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!("still running {limit:?} after SIGTERM")
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes sure the default models are fetched (a no-op when they are; the fetch itself takes a
/// file lock, so parallel test binaries are safe).
pub fn ensure_models() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = agent_command(dir.path()).args(["models", "fetch", "--quiet"]).output().expect("run agent models fetch");
        assert!(out.status.success(), "models fetch failed: {}", String::from_utf8_lossy(&out.stderr));
    });
}

/// A signed-in patient talking to a running agent over HTTP.
pub struct Patient {
    client: reqwest::Client,
    base: String,
    token: String,
    pub id: String,
    pub name: String,
}

impl Patient {
    /// Signs in as the demo patient at `index` (demo mode).
    pub async fn demo(base_url: &str, index: usize) -> anyhow::Result<Self> {
        let client = reqwest::Client::new();
        let base = base_url.to_owned();
        let list: serde_json::Value = client.get(format!("{base}/api/demo/patients")).send().await?.json().await?;
        let p = &list[index];
        let id = p["id"].as_str().unwrap_or_default().to_owned();
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let resp: serde_json::Value = client
            .post(format!("{base}/api/demo/sign-in"))
            .json(&serde_json::json!({ "patient": id }))
            .send()
            .await?
            .json()
            .await?;
        let token = resp["token"].as_str().ok_or_else(|| anyhow::anyhow!("no token in {resp}"))?.to_owned();
        Ok(Self { client, base, token, id, name })
    }

    /// Signs in through the portal: exchanges `launch_token` (a JWT the portal signed for
    /// patient `id`) for a session.
    pub async fn launched(base_url: &str, launch_token: &str, id: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::new();
        let base = base_url.to_owned();
        let resp = client.post(format!("{base}/api/session")).json(&serde_json::json!({ "launch_token": launch_token })).send().await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let token = body["token"].as_str().ok_or_else(|| anyhow::anyhow!("launch: {status} {body}"))?.to_owned();
        Ok(Self { client, base, token, id: id.to_owned(), name: String::new() })
    }

    /// The session's bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The same session, talking to another replica.
    pub fn via(&self, base_url: &str) -> Self {
        Self {
            client: self.client.clone(),
            base: base_url.to_owned(),
            token: self.token.clone(),
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<(u16, serde_json::Value)> {
        let r = self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(serde_json::Value::Null)))
    }

    /// A POST with extra headers; returns status, headers and body.
    pub async fn post_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, serde_json::Value)> {
        let mut req = self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await?;
        let (status, h) = (r.status().as_u16(), r.headers().clone());
        Ok((status, h, r.json().await.unwrap_or(serde_json::Value::Null)))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        let r = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(serde_json::Value::Null)))
    }

    /// Starts a conversation; returns its id and the agent's opening reply.
    pub async fn start(&self) -> anyhow::Result<(String, serde_json::Value)> {
        let (status, body) = self.post("/api/conversations", serde_json::json!({})).await?;
        anyhow::ensure!(status == 200, "start: {status} {body}");
        Ok((body["conversation_id"].as_str().unwrap_or_default().to_owned(), body))
    }

    /// Sends one message; returns the turn response.
    pub async fn say(&self, conversation: &str, text: &str) -> anyhow::Result<serde_json::Value> {
        let (status, body) =
            self.post(&format!("/api/conversations/{conversation}/messages"), serde_json::json!({ "text": text })).await?;
        anyhow::ensure!(status == 200, "say {text:?}: {status} {body}");
        Ok(body)
    }
}
