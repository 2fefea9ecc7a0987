//! Shared helpers for the end-to-end tests: run the real `agent` binary (built by
//! `scripts/test.sh`) with a throwaway data folder, port 0, and captured output.

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
    pub async fn start(mut cmd: Command) -> anyhow::Result<Self> {
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
        agent.wait_ready(Duration::from_secs(120)).await?;
        Ok(agent)
    }

    async fn wait_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let client = reqwest::Client::new();
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

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
