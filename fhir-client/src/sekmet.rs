//! Starts a pinned sekmet-fhir (a real FHIR R4 server we did not write) on loopback, for test
//! harnesses and the demo EHR: creates its venv when missing (under a file lock so parallel
//! test binaries do not race), writes a settings file, waits until `/metadata` answers, and
//! stops the server when dropped — or when this process dies, because a small Python
//! watchdog between us and the server ends it as soon as its stdin (our pipe) closes.
//!
//! Everything here is synchronous (std::process, std::net) so it works from plain tests and
//! from `main` before a runtime exists. From async code call it in
//! `tokio::task::spawn_blocking` (or use [`Sekmet::start_async`]); a static
//! `OnceLock<Sekmet>` per test binary is fine: the watchdog ends the server at exit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// The pinned server package.
pub const SEKMET_PACKAGE: &str = "sekmet-fhir==0.1.1";
const SEKMET_VERSION: &str = "0.1.1";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs sekmet (argv[2:]), ends it when its stdin closes (i.e. when the parent process is
/// gone), then removes argv[1] unless it is "-" (a temporary data dir).
const WATCHDOG: &str = r#"
import shutil, subprocess, sys
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL)
try:
    sys.stdin.buffer.read()
finally:
    p.terminate()
    try:
        p.wait(5)
    except Exception:
        p.kill()
        p.wait()
    if sys.argv[1] != "-":
        shutil.rmtree(sys.argv[1], ignore_errors=True)
"#;

/// How the server authenticates clients.
#[derive(Clone, Debug, Default)]
pub enum SekmetAuth {
    #[default]
    None,
    /// SMART backend services for these registered clients; the token endpoint is
    /// [`Sekmet::token_url`].
    Smart(Vec<SekmetSmartClient>),
}

/// A backend-services client registered with the server.
#[derive(Clone, Debug)]
pub struct SekmetSmartClient {
    pub client_id: String,
    /// PEM public key matching the client's private key (RSA or P-384).
    pub public_key_path: PathBuf,
    /// Scopes the server grants at most, e.g. `system/*.*` or `system/*.read`.
    pub scopes: String,
}

/// What to start.
#[derive(Clone, Debug, Default)]
pub struct SekmetOptions {
    /// Venv holding sekmet; default [`Sekmet::default_venv`].
    pub venv: Option<PathBuf>,
    /// Persistent data dir (demo); `None` = a fresh temporary one, deleted on drop.
    pub data_dir: Option<PathBuf>,
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    pub auth: SekmetAuth,
}

/// A running sekmet; stopped on drop.
pub struct Sekmet {
    child: Child,
    stdin: Option<ChildStdin>,
    base_url: String,
    data_dir: PathBuf,
}

impl Sekmet {
    /// `$SEKMET_VENV`, else `<workspace root>/.venv-fhir`.
    pub fn default_venv() -> PathBuf {
        if let Some(v) = std::env::var_os("SEKMET_VENV") {
            return PathBuf::from(v);
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join(".venv-fhir")
    }

    /// Makes sure `venv` has the pinned sekmet, creating / installing it if not.
    pub fn ensure_venv(venv: &Path) -> Result<()> {
        if has_sekmet(venv) {
            return Ok(());
        }
        let parent = venv.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| io_err("venv dir", &e))?;
        let lock_path = venv.with_extension("lock");
        let lock = std::fs::File::create(&lock_path).map_err(|e| io_err("venv lock", &e))?;
        lock.lock().map_err(|e| io_err("venv lock", &e))?;
        if has_sekmet(venv) {
            return Ok(()); // another process installed it while we waited
        }
        run(Command::new("python3").arg("-m").arg("venv").arg(venv), "python3 -m venv")?;
        let pip = venv.join("bin").join("pip");
        run(Command::new(pip).args(["install", "--quiet", "--disable-pip-version-check", SEKMET_PACKAGE]), "pip install")?;
        if has_sekmet(venv) {
            Ok(())
        } else {
            Err(Error::Unavailable("sekmet not importable after install".into()))
        }
    }

    /// Starts a server and waits until it answers `/metadata`.
    pub fn start(opts: SekmetOptions) -> Result<Self> {
        let venv = opts.venv.clone().unwrap_or_else(Self::default_venv);
        // The child runs in the data dir: a relative venv path would resolve there.
        let venv = std::path::absolute(&venv).map_err(|e| io_err("venv path", &e))?;
        Self::ensure_venv(&venv)?;
        // A temporary dir is removed by the watchdog once the server is gone (even when this
        // process dies first), so it is not tied to a `TempDir` guard here.
        let (temporary, data_dir) = match &opts.data_dir {
            Some(d) => (false, d.clone()),
            None => {
                let t = tempfile::Builder::new().prefix("sekmet-").tempdir().map_err(|e| io_err("data dir", &e))?;
                (true, t.keep())
            }
        };
        std::fs::create_dir_all(&data_dir).map_err(|e| io_err("data dir", &e))?;
        let data_dir = data_dir.canonicalize().map_err(|e| io_err("data dir", &e))?;
        let cleanup = temporary.then_some(data_dir.as_path());
        let mut last = Error::Unavailable("sekmet did not start".into());
        // A port picked free can be taken before sekmet binds it: try a few.
        for _ in 0..3 {
            let port = if opts.port == 0 { free_port()? } else { opts.port };
            match Self::spawn(&venv, &data_dir, cleanup, port, &opts.auth) {
                Ok((child, stdin, base_url)) => {
                    let mut s = Self { child, stdin: Some(stdin), base_url, data_dir: data_dir.clone() };
                    match s.wait_ready(port) {
                        Ok(()) => return Ok(s),
                        Err(e) => last = e,
                    }
                }
                Err(e) => last = e,
            }
            if opts.port != 0 {
                break;
            }
        }
        Err(last)
    }

    /// [`Sekmet::start`] on the blocking pool, for async callers.
    pub async fn start_async(opts: SekmetOptions) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::start(opts))
            .await
            .map_err(|_| Error::Unavailable("sekmet start task failed".into()))?
    }

    /// FHIR base, e.g. `http://127.0.0.1:41234/fhir`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The SMART token endpoint (`<root>/auth/token`).
    pub fn token_url(&self) -> String {
        format!("{}/auth/token", self.base_url.trim_end_matches("/fhir"))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A client config for this server (plain http allowed, short timeouts).
    pub fn config(&self) -> crate::FhirConfig {
        crate::FhirConfig::local(self.base_url.clone())
    }

    fn spawn(
        venv: &Path,
        data: &Path,
        cleanup: Option<&Path>,
        port: u16,
        auth: &SekmetAuth,
    ) -> Result<(Child, ChildStdin, String)> {
        std::fs::create_dir_all(data).map_err(|e| io_err("data dir", &e))?;
        let base_url = format!("http://127.0.0.1:{port}/fhir");
        let settings = serde_json::json!({
            "base_url": base_url, "host": "127.0.0.1", "port": port,
            "data_dir": data.join("sekmet"),
            "own_private_key_path": data.join("keys").join("sekmet_private.pem"),
            "simulator": {"enabled": false},
            "log_inbound": false,
            "server_auth": server_auth(auth),
        });
        // JSON is YAML: no YAML writer needed.
        let cfg = data.join("settings.yaml");
        std::fs::write(&cfg, settings.to_string()).map_err(|e| io_err("settings", &e))?;
        let log = std::fs::File::create(data.join("sekmet.log")).map_err(|e| io_err("log", &e))?;
        let log2 = log.try_clone().map_err(|e| io_err("log", &e))?;
        let mut child = Command::new(venv.join("bin").join("python"))
            .arg("-c")
            .arg(WATCHDOG)
            .arg(cleanup.map_or(Path::new("-"), |p| p))
            .arg(venv.join("bin").join("sekmet"))
            .args(["serve", "-c"])
            .arg(&cfg)
            .current_dir(data)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| io_err("spawn sekmet", &e))?;
        let stdin = child.stdin.take().ok_or_else(|| Error::Unavailable("no stdin pipe".into()))?;
        Ok((child, stdin, base_url))
    }

    fn wait_ready(&mut self, port: u16) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(Error::Unavailable("sekmet exited during start (see sekmet.log)".into()));
            }
            if metadata_answers(port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Error::Unavailable("sekmet did not answer /metadata in time".into()))
    }
}

impl Drop for Sekmet {
    fn drop(&mut self) {
        drop(self.stdin.take()); // watchdog sees EOF and stops the server
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_auth(auth: &SekmetAuth) -> serde_json::Value {
    match auth {
        SekmetAuth::None => serde_json::json!({"types": ["none"]}),
        SekmetAuth::Smart(clients) => serde_json::json!({
            "types": ["smart"],
            "smart_clients": clients.iter().map(|c| serde_json::json!({
                "client_id": c.client_id, "public_key_path": c.public_key_path, "scopes": c.scopes,
            })).collect::<Vec<_>>(),
        }),
    }
}

fn has_sekmet(venv: &Path) -> bool {
    let py = venv.join("bin").join("python");
    if !py.exists() || !venv.join("bin").join("sekmet").exists() {
        return false;
    }
    Command::new(py)
        .args(["-c", "import importlib.metadata as m; print(m.version('sekmet-fhir'))"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == SEKMET_VERSION)
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| io_err(what, &e))?;
    if out.status.success() {
        Ok(())
    } else {
        let tail: String = String::from_utf8_lossy(&out.stderr).chars().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
        Err(Error::Unavailable(format!("{what} failed: {tail}")))
    }
}

fn io_err(what: &str, e: &std::io::Error) -> Error {
    Error::Unavailable(format!("{what}: {e}"))
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| io_err("free port", &e))?;
    l.local_addr().map(|a| a.port()).map_err(|e| io_err("free port", &e))
}

/// A bare HTTP/1.0 GET of /fhir/metadata (no async runtime needed).
fn metadata_answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /fhir/metadata HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/fhir+json\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && (head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
}
