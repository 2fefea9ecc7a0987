//! `agent scripts validate`, `agent scripts test` and `agent understand`: the admin's tools
//! for scripts, run against the real model and (for tests) a real, freshly seeded FHIR server,
//! so what passes here is what the service will do.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use fhir_client::seed::DemoData;
use fhir_client::sekmet::{Sekmet, SekmetOptions};
use fhir_client::{Ehr, FhirClient, PatientId};
use inference::LanguageModel;
use workflows::convtest::{ConversationCase, ConversationReport, EngineFactory};
use workflows::redflags::net::NetSlot;
use workflows::Engine;

use crate::config::Settings;
use crate::scripts_fixture::{book_first, patient_of, stop_active_medications, unreachable_client, CaseEhr, Fixture};
use crate::understand::ModelUnderstand;

/// Prints every diagnostic as `path:line:col: message`; fails when there is any.
pub fn validate(path: &Path) -> anyhow::Result<()> {
    let diags = workflows::validate_path(path);
    if !diags.is_empty() {
        let mut out = std::io::stdout().lock();
        for d in &diags {
            writeln!(out, "{d}").context("writing to stdout")?;
        }
        anyhow::bail!("{} problem(s) in {}", diags.len(), path.display());
    }
    let count = if path.is_dir() { workflows::load_dir(path).map(|s| s.len()).unwrap_or(0) } else { 1 };
    println!("{count} scripts OK");
    Ok(())
}

/// Puts in `slot` the example net the service would run with, for the uses it would make of it
/// (`server.redflag_examples`, `server.intent_examples`; none when both are off).
async fn example_net(settings: &Settings, model: &dyn LanguageModel, slot: &NetSlot) -> anyhow::Result<()> {
    if crate::redflag_net::set_uses(slot, &settings.server) {
        let dir = crate::redflag_net::models_dir(&settings.model);
        slot.set(crate::redflag_net::load_or_build(&dir, model).await?);
    }
    Ok(())
}

async fn load_model(config: &inference::ModelConfig) -> anyhow::Result<Arc<dyn LanguageModel>> {
    Ok(Arc::new(crate::app::load_candle(config).await?))
}

/// One JSON line per patient message read from stdin: intent, slots, red flag, confidence.
/// The engine needs an EHR to exist; understanding a line never calls it, so the configured
/// one is used without connecting.
pub async fn understand(settings: &Settings) -> anyhow::Result<()> {
    let model = load_model(&settings.model).await?;
    let ehr: Arc<dyn Ehr> = Arc::new(FhirClient::new(&settings.fhir).context("configuring the FHIR client")?);
    let engine = Engine::with_builtin_scripts(ehr, Arc::new(ModelUnderstand::new(model.clone()))).context("loading the workflow scripts")?;
    example_net(settings, model.as_ref(), &engine.example_net()).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    // stdin is blocking: read it on its own thread.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let mut count = 0usize;
    while let Some(line) = rx.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let value = workflows::understand_line(&engine, line.trim(), Utc::now()).await;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{value}").context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
        count += 1;
    }
    tracing::info!(count, "lines understood");
    Ok(())
}

/// Runs the conversation cases in `dir` against the real model and a fresh seeded sekmet per
/// case; prints per-case results and per-script branch coverage; fails when any case fails.
pub async fn test(settings: &Settings, dir: &Path) -> anyhow::Result<()> {
    let model = load_model(&settings.model).await?;
    let net = Arc::new(NetSlot::default());
    example_net(settings, model.as_ref(), &net).await?;
    let factory = RealFactory::new(settings.demo_ehr.venv.clone(), Arc::new(ModelUnderstand::new(model)), net);
    let result = workflows::convtest::run_conversation_tests(dir, &factory).await;
    factory.shutdown().await;
    let report = result.context("running the conversation cases")?;
    print_report(&report);
    let failed = report.cases.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} conversation cases failed", report.cases.len());
    }
    Ok(())
}

fn print_report(report: &ConversationReport) {
    for c in &report.cases {
        println!("{} {} ({})", if c.passed { "PASS" } else { "FAIL" }, c.name, c.file);
        for f in &c.failures {
            println!("    {f}");
        }
    }
    for s in &report.coverage {
        let pct = if s.total == 0 { 100.0 } else { 100.0 * s.covered as f64 / s.total as f64 };
        println!("coverage {} v{}: {}/{} branches ({pct:.0}%)", s.script, s.version, s.covered, s.total);
        if !s.uncovered.is_empty() {
            println!("    not taken: {}", s.uncovered.join(", "));
        }
    }
    let passed = report.cases.iter().filter(|c| c.passed).count();
    println!("{passed} of {} cases passed", report.cases.len());
}

/// Each case gets its own sekmet, started on a copy of a data folder seeded once for the
/// case's day, so bookings and cancellations of one case never leak into another and no case
/// pays for seeding. The next case's server starts while the current case runs.
struct RealFactory {
    servers: Arc<Servers>,
    understand: Arc<ModelUnderstand>,
    /// The red-flag example net, as the service runs with it.
    net: Arc<NetSlot>,
    /// The server of the case now running (retired when the next case starts).
    current: Mutex<Option<Ready>>,
    /// A server being started for the next case, and the day it is seeded for.
    spare: tokio::sync::Mutex<Option<(NaiveDate, tokio::task::JoinHandle<workflows::Result<Ready>>)>>,
}

/// A running server, its data folder, and what the seed made (dropped in that order).
type Ready = (Sekmet, ScratchDir, DemoData);

struct Servers {
    venv: PathBuf,
    /// Seeded, stopped data folders by seed day, with what the seed made.
    templates: tokio::sync::Mutex<HashMap<NaiveDate, (ScratchDir, DemoData)>>,
}

impl Servers {
    async fn start(&self, data_dir: PathBuf) -> workflows::Result<Sekmet> {
        let opts = SekmetOptions { venv: Some(self.venv.clone()), data_dir: Some(data_dir), ..SekmetOptions::default() };
        Ok(Sekmet::start_async(opts).await?)
    }

    /// A server on a fresh copy of the data folder seeded for `day` (seeding it first if needed).
    async fn prepare(self: Arc<Self>, day: NaiveDate) -> workflows::Result<Ready> {
        let mut templates = self.templates.lock().await;
        if let std::collections::hash_map::Entry::Vacant(slot) = templates.entry(day) {
            let dir = temp_dir("convtest-seed-")?;
            let sekmet = self.start(dir.path().to_path_buf()).await?;
            let demo = fhir_client::seed::seed_demo(&FhirClient::new(&sekmet.config())?, day).await?;
            stop(sekmet).await;
            slot.insert((dir, demo));
        }
        let (template, demo) = &templates[&day];
        let demo = demo.clone();
        let copy = temp_dir("convtest-case-")?;
        let (from, to) = (template.path().to_path_buf(), copy.path().to_path_buf());
        drop(templates);
        tokio::task::spawn_blocking(move || copy_dir(&from, &to))
            .await
            .map_err(|_| workflows::Error::State("copy task failed".into()))?
            .map_err(|e| workflows::Error::State(format!("copying the seeded EHR: {e}")))?;
        let sekmet = self.start(copy.path().to_path_buf()).await?;
        Ok((sekmet, copy, demo))
    }
}

impl RealFactory {
    fn new(venv: PathBuf, understand: Arc<ModelUnderstand>, net: Arc<NetSlot>) -> Self {
        let servers = Arc::new(Servers { venv, templates: tokio::sync::Mutex::new(HashMap::new()) });
        Self { servers, understand, net, current: Mutex::new(None), spare: tokio::sync::Mutex::new(None) }
    }

    /// A server for `day`: the spare when it was started for that day, else a new one; then
    /// starts the spare for the next case.
    async fn take_server(&self, day: NaiveDate) -> workflows::Result<Ready> {
        let mut spare = self.spare.lock().await;
        let ready = match spare.take() {
            Some((d, handle)) if d == day => join(handle).await?,
            other => {
                if let Some((_, handle)) = other {
                    join(handle).await.map(retire).ok();
                }
                self.servers.clone().prepare(day).await?
            }
        };
        *spare = Some((day, tokio::spawn(self.servers.clone().prepare(day))));
        Ok(ready)
    }

    /// Stops every server (the last case's and the spare), waiting for them.
    async fn shutdown(&self) {
        let old = self.current.lock().ok().and_then(|mut c| c.take());
        if let Some(ready) = old {
            let _ = tokio::task::spawn_blocking(move || drop(ready)).await;
        }
        if let Some((_, handle)) = self.spare.lock().await.take() {
            if let Ok(ready) = join(handle).await {
                let _ = tokio::task::spawn_blocking(move || drop(ready)).await;
            }
        }
    }
}

async fn join(handle: tokio::task::JoinHandle<workflows::Result<Ready>>) -> workflows::Result<Ready> {
    handle.await.map_err(|_| workflows::Error::State("EHR start task failed".into()))?
}

/// Stops a server in the background (stopping waits for the process to exit).
fn retire(ready: Ready) {
    tokio::task::spawn_blocking(move || drop(ready));
}

async fn stop(sekmet: Sekmet) {
    let _ = tokio::task::spawn_blocking(move || drop(sekmet)).await;
}

/// A folder under the system temp dir, removed on drop.
type ScratchDir = tempfile::TempDir;

fn temp_dir(prefix: &str) -> workflows::Result<ScratchDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| workflows::Error::State(format!("temporary folder: {e}")))
}

/// Copies the files under `from` into `to` (folders created as needed).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[async_trait]
impl EngineFactory for RealFactory {
    async fn engine(&self, case: &ConversationCase) -> workflows::Result<(Engine, PatientId)> {
        let fixture = Fixture::parse(&case.fixture)?;
        let now = case.now.unwrap_or_else(Utc::now);
        if let Some(old) = self.current.lock().ok().and_then(|mut c| c.take()) {
            retire(old);
        }
        let ready = self.take_server(now.date_naive()).await?;
        let client = FhirClient::new(&ready.0.config())?;
        let patient = patient_of(&ready.2, &fixture.patient)?;
        let rival = ready.2.patients.iter().map(|p| p.id.clone()).find(|p| *p != patient);
        let discharge = ready.2.discharges.iter().find(|d| d.patient == patient).map(|d| d.encounter.clone());
        let ready_config = ready.0.config();
        let base_url = ready_config.base_url.clone();
        if let Ok(mut c) = self.current.lock() {
            *c = Some(ready);
        }
        if fixture.booked {
            book_first(&client, &patient, now).await?;
        }
        if fixture.no_meds {
            stop_active_medications(&base_url, &patient).await?;
        }
        let mut ehr = CaseEhr::new(client, discharge, fixture.slot_taken.then_some(rival).flatten());
        if fixture.ehr_down {
            ehr = ehr.with_writes_to(unreachable_client(&ready_config)?);
        }
        let engine = Engine::with_builtin_scripts(Arc::new(ehr), self.understand.clone())?.with_example_net(self.net.clone());
        Ok((engine, patient))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_folders_keep_nested_files_and_scratch_folders_vanish_on_drop() {
        let from = temp_dir("convtest-unit-from-").unwrap();
        std::fs::create_dir_all(from.path().join("a/b")).unwrap();
        std::fs::write(from.path().join("a/b/c.txt"), "seeded").unwrap();
        let to = temp_dir("convtest-unit-to-").unwrap();
        copy_dir(from.path(), to.path()).unwrap();
        assert_eq!(std::fs::read_to_string(to.path().join("a/b/c.txt")).unwrap(), "seeded");
        let kept = to.path().to_path_buf();
        drop(to);
        assert!(!kept.exists());
    }
}
