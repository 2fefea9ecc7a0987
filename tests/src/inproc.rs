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
    _service: agent::app::Service,
}

impl InProcess {
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// Like `start`, with extra settings (TOML; `{dir}` stands for the data folder).
    pub async fn start_with(extra: &str) -> Self {
        crate::ensure_models();
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        let root = workspace_root().display().to_string();
        agent::crypto::init_key_file(&dir.path().join("master.key")).expect("key");
        let settings = agent::config::Settings::from_toml_overrides(&format!(
            "[database]\nurl = \"sqlite://{d}/agent.db\"\n\
             [crypto]\nkey_file = \"{d}/master.key\"\n\
             [model]\nmodels_dir = \"{root}/models\"\nthreads = 1\n\
             [demo_ehr]\nvenv = \"{root}/.venv-fhir\"\ndata_dir = \"{d}/ehr\"\nport = 0\n{}",
            extra.replace("{dir}", &d)
        ))
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
        Self { base_url, clock, state, dir, shutdown: Some(tx), _service: service }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
