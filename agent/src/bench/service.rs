//! The service under test, built from the real parts exactly as `agent serve` builds it in demo
//! mode (SQLite, the demo EHR, the real model), in a scratch folder, on a loopback port; and a
//! second replica of it on PostgreSQL (a fresh schema, dropped afterwards) for the model-free
//! figures. Rate limits are raised so they never shape the load (the report says so).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::app::Service;
use crate::config::{Secret, Settings};
use crate::limits::LimitSettings;
use crate::state::AppState;
use crate::store::SqlStore;

/// Limits so high no bench phase can reach them: the bench measures the service, not the
/// limiter (the shipped defaults, 60 a minute per session and 600 per address, would turn a
/// 64-session run from one address into a stream of 429s).
pub const BENCH_LIMIT: u32 = 100_000_000;

/// A running service on a loopback port; stops when dropped.
pub struct Running {
    pub state: AppState,
    pub base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `state` on 127.0.0.1:0 until the returned handle is dropped.
pub async fn serve(state: AppState) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
    let base_url = format!("http://{}", listener.local_addr().context("reading the bound address")?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve_state = state.clone();
    tokio::spawn(async move {
        let stopped = async {
            let _ = rx.await;
        };
        if let Err(e) = crate::app::run(listener, serve_state, stopped).await {
            tracing::error!(error = %e, "bench server stopped");
        }
    });
    Ok(Running { state, base_url, stop: Some(tx) })
}

/// The demo service (SQLite) and its scratch folder.
pub struct Demo {
    pub running: Running,
    pub settings: Settings,
    /// The demo EHR's FHIR base URL.
    pub ehr_url: String,
    _service: Service,
    _dir: tempfile::TempDir,
}

/// `base` with everything the run writes moved into `dir`, demo mode on, the demo EHR on a
/// free port and the rate limits raised.
pub fn bench_settings(base: &Settings, dir: &Path) -> Settings {
    let mut s = base.clone();
    s.database.url = Secret::new(format!("sqlite://{}/agent.db", dir.display()));
    s.crypto.key_file = dir.join("master.key");
    s.audit.signing_key_file = dir.join("audit-signing.key");
    s.audit.checkpoint_file = dir.join("audit-checkpoints.jsonl");
    s.server.demo = true;
    s.demo_ehr.enabled = true;
    s.demo_ehr.data_dir = dir.join("ehr");
    s.demo_ehr.port = 0;
    s.limits = LimitSettings {
        session_per_minute: BENCH_LIMIT,
        session_burst: BENCH_LIMIT,
        address_per_minute: BENCH_LIMIT,
        address_burst: BENCH_LIMIT,
        trusted_proxies: vec![],
    };
    s
}

/// Builds and serves the demo service in a fresh scratch folder.
pub async fn start_demo(base: &Settings) -> anyhow::Result<Demo> {
    let dir = tempfile::Builder::new().prefix("agent-bench-").tempdir().context("creating a scratch folder")?;
    let settings = bench_settings(base, dir.path());
    crate::crypto::init_key_file(&settings.crypto.key_file)?;
    crate::audit::checkpoint::init_signing_key(&settings.audit.signing_key_file)?;
    let service = crate::app::build(&settings).await.context("building the service")?;
    let ehr_url = service.demo_ehr_url().context("the demo EHR did not start")?.to_owned();
    let running = serve(service.state.clone()).await?;
    Ok(Demo { running, settings, ehr_url, _service: service, _dir: dir })
}

/// `demo`'s service again, on its own port, with its EHR calls (the engine's and the routes')
/// sent through a relay that adds a network's round trip to each.
pub struct DelayedEhr {
    pub running: Running,
    _relay: super::relay::Relay,
}

impl DelayedEhr {
    pub async fn start(demo: &Demo, rtt: std::time::Duration) -> anyhow::Result<Self> {
        let relay = super::relay::Relay::start(super::relay::socket_of(&demo.ehr_url)?, rtt).await?;
        let config = crate::app::demo_fhir(&demo.settings, fhir_client::FhirConfig::local(relay.url_for(&demo.ehr_url)?));
        let client = fhir_client::FhirClient::new(&config).context("configuring the FHIR client")?;
        let mut metrics = crate::metrics::Metrics::with_alerts(demo.settings.alerts.clone());
        metrics.watch_ehr(client.stats());
        let ehr: Arc<dyn fhir_client::Ehr> = Arc::new(client);
        let base = &demo.running.state;
        let dialogue = crate::app::dialogue(&demo.settings, base.store.as_ref(), base.model.clone(), ehr.clone()).await?;
        let state = AppState { ehr, dialogue, metrics: Arc::new(metrics), ..base.clone() };
        Ok(Self { running: serve(state).await?, _relay: relay })
    }
}

/// A replica of `demo` on PostgreSQL: the same EHR, model and engine, its own store (a fresh
/// schema in `url`) and the cipher's data keys kept there, served on its own port.
pub struct PgReplica {
    pub running: Running,
    admin: sqlx::AnyPool,
    schema: String,
}

impl PgReplica {
    pub async fn start(demo: &Demo, url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(url).await.context("connecting to PostgreSQL")?;
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .context("creating the bench schema")?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
        let settings = &demo.settings;
        let store = Arc::new(
            SqlStore::connect(&scoped, settings.database.max_connections).await.context("opening the PostgreSQL store")?,
        );
        let base = &demo.running.state;
        let cipher = crate::crypto::Cipher::from_key_file(&settings.crypto.key_file)?
            .with_envelope(store.clone(), crate::keys_cli::key_policy(settings));
        // No checkpointer here: it signs in the background (never inside a turn) and would
        // outlive the schema dropped at the end.
        let state = AppState { store, cipher, ..base.clone() };
        Ok(Self { running: serve(state).await?, admin, schema })
    }

    /// Drops the bench schema (the run leaves nothing behind in the database).
    pub async fn drop_schema(self) {
        drop(self.running);
        let sql = format!("DROP SCHEMA {} CASCADE", self.schema);
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&self.admin).await {
            tracing::warn!(error = %e, "could not drop the bench schema");
        }
    }
}
