//! Building the application from settings (database, key, EHR, model, engine) and running it
//! on a bound listener until the shutdown future resolves (tests bind port 0).

use std::future::IntoFuture;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::http::{header, HeaderValue};
use axum::serve::{Listener, ListenerExt};
use futures::FutureExt;
use fhir_client::sekmet::{Sekmet, SekmetOptions};
use fhir_client::{Ehr, FhirClient};
use inference::LanguageModel;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::crypto::Cipher;
use crate::dialogue::EngineDialogue;
use crate::metrics::Metrics;
use crate::state::{AppState, DemoPatient, Integration, Policy};
use crate::store::{SqlStore, Store};
use crate::understand::ModelUnderstand;

/// The built service; holds the demo EHR process (if any) for as long as it runs.
pub struct Service {
    pub state: AppState,
    _demo_ehr: Option<Sekmet>,
}

impl Service {
    /// The demo EHR's FHIR base URL, when this service started one.
    pub fn demo_ehr_url(&self) -> Option<&str> {
        self._demo_ehr.as_ref().map(|s| s.base_url())
    }
}

pub async fn build(settings: &Settings) -> anyhow::Result<Service> {
    build_with_clock(settings, Arc::new(SystemClock)).await
}

/// `build` with a given clock (tests move a fake one to check timeouts).
pub async fn build_with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Service> {
    let cipher = Cipher::from_key_file(&settings.crypto.key_file)?;
    let store = SqlStore::connect(settings.database.url.expose(), settings.database.max_connections)
        .await
        .context("opening the database")?;
    tracing::info!(backend = store.backend(), "database ready");
    let store = Arc::new(store);
    let (client, demo_ehr, demo) = connect_ehr(settings).await?;
    let mut metrics = Metrics::with_alerts(settings.alerts.clone());
    metrics.watch_ehr(client.stats());
    let metrics = Arc::new(metrics);
    crate::audit::checkpointer::spawn(store.clone(), &settings.audit, clock.clone(), metrics.clone())?;
    crate::audit::retention::spawn(store.clone(), settings.retention.clone(), clock.clone());
    let cipher = cipher.with_envelope(store.clone(), crate::keys_cli::key_policy(settings));
    crate::keys_cli::spawn_rewrap(&cipher, std::time::Duration::from_secs(settings.crypto.key_cache_secs));
    let integration = Integration {
        key: match &settings.integration.key_file {
            Some(path) => Some(crate::crypto::read_secret_file("integration.key_file", path)?.trim().to_owned()),
            None => None,
        },
        notify_url: settings.integration.notify_url.clone(),
    };
    let model = load_model(&settings.model).await?;
    let ehr: Arc<dyn Ehr> = Arc::new(client);
    let dialogue = dialogue(settings, store.as_ref(), model.clone(), ehr.clone()).await?;
    if let Some(env) = cipher.envelope() {
        let (m, c) = (metrics.clone(), clock.clone());
        env.on_usage(Arc::new(move |before, after, max| m.alerts.key_uses(before, after, max, c.now_ms())));
    }
    let audit = crate::audit_cli::LogCheck::from_settings(settings, store.clone())?;
    crate::alerts::spawn_verify(audit.clone(), metrics.clone(), clock.clone());
    let state = AppState {
        audit,
        store,
        model,
        ehr: ehr.clone(),
        dialogue,
        cipher,
        clock,
        metrics,
        policy: Policy {
            demo: settings.server.demo,
            turn_deadline_ms: settings.server.turn_deadline_ms,
            sla: settings.staff.sla,
            limits: settings.limits.clone(),
            outreach: settings.outreach,
            outbox: settings.outbox,
            ..Policy::default()
        },
        integration,
        launch: crate::launch::LaunchVerifier::from_settings(&settings.portal)?,
        demo_patients: Arc::new(demo.patients),
        staff: crate::staff::Hub::default(),
    };
    for (patient, encounter, lang) in &demo.discharges {
        crate::outreach::start_followup(&state, patient, encounter, *lang)
            .await
            .map_err(|e| anyhow::anyhow!("starting a demo follow-up: {e}"))?;
    }
    Ok(Service { state, _demo_ehr: demo_ehr })
}

/// The workflow engine over `ehr`: the built-in scripts and the store's published versions,
/// understood with `model`. (`agent bench load` builds a second one over a delayed EHR.)
pub async fn dialogue(
    settings: &Settings,
    store: &dyn Store,
    model: Arc<dyn LanguageModel>,
    ehr: Arc<dyn Ehr>,
) -> anyhow::Result<Arc<EngineDialogue>> {
    let canary = settings.server.prompt_canary.as_ref().map(|c| c.expose().to_owned());
    let understand = Arc::new(ModelUnderstand::new(model.clone()).with_canary(canary));
    let scripts = crate::staff::scripts::engine_scripts(store).await.context("loading the workflow scripts")?;
    let engine = workflows::Engine::new(scripts, ehr.clone(), understand);
    // Embed the intent examples now rather than in the first patient's turn.
    let examples = engine.warm_up().await.context("embedding the script examples")?;
    tracing::info!(count = examples, "script examples embedded");
    if crate::redflag_net::set_uses(&engine.example_net(), &settings.server) {
        crate::redflag_net::install(crate::redflag_net::models_dir(&settings.model), model, engine.example_net());
    }
    Ok(Arc::new(EngineDialogue::reloadable(Arc::new(engine), ehr)))
}

/// What the demo EHR was seeded with.
#[derive(Default)]
struct Demo {
    patients: Vec<DemoPatient>,
    discharges: Vec<(fhir_client::PatientId, fhir_client::EncounterId, workflows::Lang)>,
}

/// How to reach the demo EHR at `local` (its own URL and auth), tuned as `[fhir]` says:
/// timeouts, attempts, backoff, requests in flight, batching.
pub(crate) fn demo_fhir(settings: &Settings, local: fhir_client::FhirConfig) -> fhir_client::FhirConfig {
    fhir_client::FhirConfig { base_url: local.base_url, auth: local.auth, allow_plain_http: true, ..settings.fhir.clone() }
}

/// The configured EHR, or in demo mode a local sekmet-fhir started and seeded here.
async fn connect_ehr(settings: &Settings) -> anyhow::Result<(FhirClient, Option<Sekmet>, Demo)> {
    if !settings.uses_demo_ehr() {
        let client = FhirClient::new(&settings.fhir).context("configuring the FHIR client")?;
        return Ok((client, None, Demo::default()));
    }
    let opts = SekmetOptions {
        venv: Some(settings.demo_ehr.venv.clone()),
        data_dir: Some(settings.demo_ehr.data_dir.clone()),
        port: settings.demo_ehr.port,
        ..SekmetOptions::default()
    };
    let sekmet = Sekmet::start_async(opts).await.context("starting the demo EHR (sekmet-fhir)")?;
    let client = FhirClient::new(&demo_fhir(settings, sekmet.config())).context("configuring the FHIR client")?;
    let demo = fhir_client::seed::seed_demo(&client, chrono::Utc::now().date_naive())
        .await
        .context("seeding the demo EHR")?;
    tracing::info!(count = demo.patients.len(), "demo EHR ready");
    let patients = demo
        .patients
        .iter()
        .map(|p| DemoPatient { id: p.id.as_str().to_owned(), name: p.display_name.clone() })
        .collect();
    let lang_of = |p: &fhir_client::PatientId| {
        let es = demo.patients.iter().any(|d| &d.id == p && d.language.starts_with("es"));
        if es { workflows::Lang::Es } else { workflows::Lang::En }
    };
    let discharges =
        demo.discharges.iter().map(|d| (d.patient.clone(), d.encounter.clone(), lang_of(&d.patient))).collect();
    Ok((client, Some(sekmet), Demo { patients, discharges }))
}

/// Verifies the fetched model files (no download here: `agent models fetch` does that) and
/// loads them on a blocking thread.
pub async fn load_candle(config: &inference::ModelConfig) -> anyhow::Result<inference::CandleModel> {
    let config = config.clone();
    let model = tokio::task::spawn_blocking(move || -> anyhow::Result<inference::CandleModel> {
        let paths = inference::resolve(&config, false, false)
            .context("model files missing or damaged (run `agent models fetch`)")?;
        inference::CandleModel::load(&config, &paths).context("loading the model")
    })
    .await
    .context("model loader panicked")??;
    tracing::info!(model = %model.info().id, "model loaded");
    Ok(model)
}

async fn load_model(config: &inference::ModelConfig) -> anyhow::Result<Arc<dyn LanguageModel>> {
    Ok(Arc::new(load_candle(config).await?))
}

/// How long in-flight requests and open streams get once shutdown starts.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `state`'s routes over plain HTTP on `listener` until `shutdown` completes;
/// in-flight requests finish.
pub async fn run(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    run_on(listener, None, state, shutdown).await
}

/// `run` over TLS with `certs` (reloadable); every response carries HSTS.
pub async fn run_tls(
    listener: TcpListener,
    certs: crate::tls::Certificates,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_on(listener, Some(certs), state, shutdown).await
}

async fn run_on(
    listener: TcpListener,
    tls: Option<crate::tls::Certificates>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweep = std::time::Duration::from_millis(state.policy.sla_sweep_ms.max(100));
    let sla = tokio::spawn(crate::staff::queue::watch_sla(state.clone(), sweep));
    let _followups = crate::followups::spawn(state.clone(), sweep);
    let app = crate::routes::router(state);
    // Live streams (consoles, widgets) never end by themselves: once shutdown starts, requests
    // get `DRAIN` to finish, then the server stops anyway.
    let (stopping, mut stop_seen) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    // TCP_NODELAY: a streamed turn writes `progress`, then `turn`; with Nagle on, the second
    // small write waits for the client's delayed ACK of the first (~40 ms on Linux), a floor
    // under every turn that `agent bench load` measured (docs/reliability.md). The TLS
    // listener sets it on each accepted stream too.
    let serve = match tls {
        None => {
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
            });
            serve_on(listener, app, signal).boxed()
        }
        Some(certs) => {
            let hsts = HeaderValue::from_static(crate::tls::HSTS);
            let app = app.layer(SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, hsts));
            serve_on(crate::tls::TlsListener::new(listener, certs)?, app, signal).boxed()
        }
    };
    let deadline = async move {
        let _ = stop_seen.wait_for(|s| *s).await;
        tokio::time::sleep(DRAIN).await;
    };
    let served = tokio::select! {
        served = serve => served,
        () = deadline => {
            tracing::warn!("shutdown: open streams outlived the drain time; stopping anyway");
            Ok(())
        }
    };
    sla.abort();
    served
}

/// axum's server on any listener, with the peer's socket address as `ConnectInfo` (the rate
/// limits and the audit read it); `tap_io` is what gives a custom listener that `ConnectInfo`.
fn serve_on<L>(listener: L, app: axum::Router, signal: impl Future<Output = ()> + Send + 'static) -> impl Future<Output = std::io::Result<()>> + Send
where
    L: Listener<Addr = std::net::SocketAddr>,
{
    axum::serve(listener.tap_io(|_| ()), app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(signal)
        .into_future()
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
