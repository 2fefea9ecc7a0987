//! `agent bench load`: proof under load. Builds the service as demo mode does (real model,
//! demo EHR, SQLite) on a loopback port and measures, in one run: simulated patients running
//! the real workflows at rising concurrency, model-free turn throughput (store, pipeline, HTTP;
//! SQLite and, given a URL, PostgreSQL), and many event streams held at once. Rate limits are
//! raised for the run so that they never shape the load.

pub mod client;
pub mod load;
pub mod modelfree;
pub mod relay;
pub mod report;
pub mod service;
pub mod stats;
pub mod streams;

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Settings;
pub use report::LoadReport;

/// What to run (the `agent bench load` flags).
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Concurrent simulated patients, one level after another.
    pub sessions: Vec<usize>,
    /// Round trips added between the service and the demo EHR (0: none); every level runs
    /// once for each (see `relay`).
    pub ehr_rtt_ms: Vec<u64>,
    /// Every level plays the same whole conversations: enough for each patient of the busiest
    /// level to take about this many turns...
    pub turns: usize,
    /// ...and at least this many turns in all.
    pub min_level_turns: usize,
    /// The conversation cases the patients play.
    pub conversations: PathBuf,
    /// Model-free turns per depth and backend, and how many run at once.
    pub modelfree_turns: usize,
    pub modelfree_concurrency: Vec<usize>,
    /// PostgreSQL server for the model-free figures (a fresh schema, dropped afterwards).
    pub postgres: Option<String>,
    pub idle_streams: usize,
    pub active_streams: usize,
}

/// Runs every phase and returns the report (print it with `Display`, or as JSON).
pub async fn run(settings: &Settings, o: &LoadOptions) -> anyhow::Result<LoadReport> {
    let machine = report::Machine::now(settings);
    let mut levels = Vec::new();
    for &rtt in &o.ehr_rtt_ms {
        for &n in &o.sessions {
            let level = patients_level(settings, o, n, rtt).await;
            levels.push(level.with_context(|| format!("{n} sessions, EHR round trip +{rtt} ms"))?);
        }
    }
    let demo = service::start_demo(settings).await?;
    let state = &demo.running.state;
    let who = discharged(state).await;
    let scenarios = load::scenarios(&o.conversations, state).await?;
    let mut model_free = Vec::new();
    for &c in &o.modelfree_concurrency {
        model_free.extend(modelfree::run(state, &demo.running.base_url, &who, o.modelfree_turns, c).await?);
    }
    if let Some(url) = &o.postgres {
        let pg = service::PgReplica::start(&demo, url).await?;
        let mut result = Ok(());
        for &c in &o.modelfree_concurrency {
            match modelfree::run(&pg.running.state, &pg.running.base_url, &who, o.modelfree_turns, c).await {
                Ok(r) => model_free.extend(r),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        pg.drop_schema().await;
        result?;
    }
    let streams = streams::run(state, &demo.running.base_url, &who, o.idle_streams, o.active_streams).await?;
    Ok(LoadReport::new(machine, settings, o, scenarios.iter().map(|s| s.name.clone()).collect(), levels, model_free, streams))
}

/// One level of simulated patients, on a service and demo EHR of its own: every level starts
/// from the same free slots (an earlier level's bookings would change the times offered, and
/// with them what a patient's reply means), and plays the same whole conversations: enough
/// for the busiest level's patients to take `turns` turns each, at least `min_level_turns`.
/// With `rtt_ms` > 0 the patients talk to a second server on the same state whose EHR calls
/// go through a `relay` that adds that round trip.
async fn patients_level(settings: &Settings, o: &LoadOptions, sessions: usize, rtt_ms: u64) -> anyhow::Result<load::LevelResult> {
    let demo = service::start_demo(settings).await?;
    let delayed = match rtt_ms {
        0 => None,
        ms => Some(service::DelayedEhr::start(&demo, std::time::Duration::from_millis(ms)).await?),
    };
    let running = delayed.as_ref().map_or(&demo.running, |d| &d.running);
    let state = &running.state;
    let scenarios = load::scenarios(&o.conversations, state).await?;
    let client = client::Client::new(&running.base_url);
    // One conversation first, untimed: the model's first calls warm its caches.
    let _ = load::level(state, &client, &scenarios[..1], 1).await?;
    let per_case = scenarios.iter().map(|s| s.says.len()).sum::<usize>() as f64 / scenarios.len().max(1) as f64;
    let most = o.sessions.iter().copied().max().unwrap_or(1);
    let wanted = (most * o.turns).max(o.min_level_turns);
    let plan = load::plan(&scenarios, (wanted as f64 / per_case.max(1.0)).ceil() as usize);
    tracing::info!(sessions, rtt_ms, "load level");
    let mut result = load::level(state, &client, &plan, sessions).await?;
    result.ehr_rtt_ms = rtt_ms;
    Ok(result)
}

/// Demo patients with a recent discharge, and its encounter.
async fn discharged(state: &crate::state::AppState) -> modelfree::Discharged {
    let mut out = Vec::new();
    for p in state.demo_patients.iter() {
        let Ok(id) = fhir_client::PatientId::parse(p.id.clone()) else { continue };
        if let Some(enc) = load::latest_discharge(state, &id).await {
            out.push((id, enc));
        }
    }
    out
}
