//! The service built in-process from the real parts (SQLite, the demo EHR, the real model)
//! with a fake clock, for tests that need to move time or reach into the store.

use std::sync::Arc;

use agent::clock::FakeClock;
use agent::state::AppState;

use crate::workspace_root;

pub struct InProcess {
    pub base_url: String,
    pub clock: FakeClock,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _service: Option<agent::app::Service>,
}

impl InProcess {
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// Like `start`, with extra settings (TOML; `{dir}` stands for the data folder).
    pub async fn start_with(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        agent::crypto::init_key_file(&dir.path().join("master.key")).expect("key");
        Self::start_in(dir, extra).await
    }

    /// Stops this service and starts a new one on the same data (database, key, demo EHR).
    pub async fn restart(mut self, extra: &str) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        drop(self._service.take());
        drop(self);
        Self::start_in(dir, extra).await
    }

    async fn start_in(dir: tempfile::TempDir, extra: &str) -> Self {
        crate::ensure_models();
        let d = dir.path().display().to_string();
        let root = workspace_root().display().to_string();
        let extra = extra.replace("{dir}", &d);
        let settings = agent::config::Settings::from_toml_overrides(&[&format!(
            "[database]\nurl = \"sqlite://{d}/agent.db\"\n\
             [crypto]\nkey_file = \"{d}/master.key\"\n\
             [model]\nmodels_dir = \"{root}/models\"\nthreads = 1\n\
             [demo_ehr]\nvenv = \"{root}/.venv-fhir\"\ndata_dir = \"{d}/ehr\"\nport = 0\n"
        ), &extra])
        .expect("settings");
        let clock = FakeClock::at(chrono::Utc::now().timestamp_millis());
        let service = agent::app::build_with_clock(&settings, Arc::new(clock.clone())).await.expect("build");
        let state = service.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = agent::app::run(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        Self { base_url, clock, state, dir, shutdown: Some(tx), _service: Some(service) }
    }

    /// The demo EHR's FHIR base URL (for a second replica to share it).
    pub fn ehr_url(&self) -> String {
        self._service.as_ref().and_then(|s| s.demo_ehr_url()).expect("demo EHR running").to_owned()
    }
}

/// A fresh schema in the run's PostgreSQL database (`AGENT_TEST_DATABASE_URL`, set by
/// scripts/test.sh), or in the local server's `postgres` database when run by hand.
pub async fn postgres_schema_url() -> String {
    let base = std::env::var("AGENT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("e2e_{}", uuid_like());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{n:x}{:x}", std::process::id())
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
