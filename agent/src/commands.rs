//! What each subcommand does, at the binary's edge (anyhow lives here, not in the library
//! modules). Returns the process exit code: 2 for configuration errors, 1 for other failures.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{BenchCommand, Command, ConfigCommand, EhrCommand, KeysCommand, ModelsCommand, ScriptsCommand, UsersCommand};
use crate::config::{ConfigError, Settings};

pub async fn run(command: Command, settings: Settings) -> ExitCode {
    let result = match command {
        Command::Serve => serve(&settings).await,
        Command::Config { command: ConfigCommand::Check } => config_check(&settings),
        Command::Models { command: ModelsCommand::Fetch { quiet } } => models_fetch(&settings, !quiet).await,
        Command::Ehr { command: EhrCommand::Seed } => ehr_seed(&settings).await,
        Command::Keys { command: KeysCommand::Init { out } } => crate::audit_cli::keys_init(&settings, out),
        Command::Audit { command } => crate::audit_cli::run(&settings, command).await,
        Command::Keys { command: KeysCommand::Rotate } => crate::keys_cli::rotate(&settings).await,
        Command::Keys { command: KeysCommand::Retire { version, force } } => {
            crate::keys_cli::retire(&settings, version, force).await
        }
        Command::Backup { command } => crate::backup_cli::run(&settings, command).await,
        Command::Security { command } => crate::security_cli::run(&settings, command).await,
        Command::Patient { command } => crate::keys_cli::run(&settings, command).await,
        Command::Scripts { command: ScriptsCommand::Validate { path } } => crate::scripts_cli::validate(&path),
        Command::Scripts { command: ScriptsCommand::Test { dir } } => crate::scripts_cli::test(&settings, &dir).await,
        Command::Bench { command: BenchCommand::Model { rounds, peer_python, json } } => {
            bench_model(&settings, inference::bench::BenchOptions { rounds, peer_python }, json).await
        }
        Command::Bench { command: BenchCommand::Load { sessions, ehr_rtt_ms, turns, min_level_turns, conversations, modelfree_turns, modelfree_concurrency, postgres, idle_streams, active_streams, json } } => {
            let options = crate::bench::LoadOptions {
                sessions,
                ehr_rtt_ms,
                turns,
                min_level_turns,
                conversations,
                modelfree_turns,
                modelfree_concurrency,
                postgres,
                idle_streams,
                active_streams,
            };
            bench_load(&settings, &options, json).await
        }
        Command::Understand => crate::scripts_cli::understand(&settings).await,
        Command::Users { command: UsersCommand::Add { username, role } } => crate::users_cli::add(&settings, &username, &role).await,
        Command::Users { command: UsersCommand::Disable { username } } => crate::users_cli::disable(&settings, &username).await,
        Command::Users { command: UsersCommand::ResetMfa { username } } => crate::users_cli::reset_mfa(&settings, &username).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<ConfigError>().is_some() { 2 } else { 1 };
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(code)
        }
    }
}

/// `outer: inner: root` on one line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string().replace('\n', " ")).collect::<Vec<_>>().join(": ")
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    // Check the key and the certificate before anything starts (configuration errors).
    crate::crypto::Cipher::from_key_file(&settings.crypto.key_file)?;
    let tls = settings.server.tls.as_ref().map(crate::tls::Certificates::load).transpose()?;
    // Bind first: a taken port fails before the demo EHR or the model start.
    let addr = (settings.server.host.as_str(), settings.server.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {}:{}", settings.server.host, settings.server.port))?;
    let service = crate::app::build(settings).await?;
    let local = listener.local_addr().context("reading the bound address")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("agent listening on {scheme}://{local}");
    std::io::stdout().flush().ok();
    tracing::info!(port = local.port(), tls = tls.is_some(), "serving");
    let state = service.state.clone();
    let stop = crate::app::shutdown_signal();
    let _hangups = crate::tls::on_sighup(tls.clone()).context("listening for SIGHUP")?;
    match tls {
        Some(certs) => crate::app::run_tls(listener, certs, state, stop).await.context("serving HTTPS")?,
        None => crate::app::run(listener, state, stop).await.context("serving HTTP")?,
    }
    tracing::info!("stopped");
    Ok(())
}

fn config_check(settings: &Settings) -> anyhow::Result<()> {
    crate::crypto::Cipher::from_key_file(&settings.crypto.key_file)?;
    print!("{}", settings.redacted_toml());
    println!("# configuration OK");
    Ok(())
}

async fn models_fetch(settings: &Settings, progress: bool) -> anyhow::Result<()> {
    let config = settings.model.clone();
    let paths = tokio::task::spawn_blocking(move || inference::resolve(&config, true, progress))
        .await
        .context("fetch task panicked")?
        .context("fetching the models")?;
    println!("chat model {} ({})", paths.chat_id, paths.chat_gguf.display());
    println!("embedding model {} ({})", paths.embedding_id, paths.embedding_dir.display());
    // The red-flag examples' vectors, once per machine (the service would otherwise build them
    // in the background at its first start).
    let dir = crate::redflag_net::models_dir(&settings.model);
    let cache = crate::redflag_net::cache_file(&dir, &paths.embedding_sha256);
    if !cache.exists() {
        let model = crate::app::load_candle(&settings.model).await?;
        crate::redflag_net::load_or_build(&dir, &model).await?;
    }
    println!("red-flag examples ({})", cache.display());
    Ok(())
}

async fn ehr_seed(settings: &Settings) -> anyhow::Result<()> {
    let client = fhir_client::FhirClient::new(&settings.fhir).context("configuring the FHIR client")?;
    let demo = fhir_client::seed::seed_demo(&client, chrono::Utc::now().date_naive())
        .await
        .context("seeding the EHR")?;
    println!(
        "seeded: {} patients, {} practitioners, {} free slots, {} discharges ({} resources created)",
        demo.patients.len(),
        demo.practitioners.len(),
        demo.slots,
        demo.discharges.len(),
        demo.created
    );
    Ok(())
}

async fn bench_model(settings: &Settings, options: inference::bench::BenchOptions, json: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let model = crate::app::load_candle(&settings.model).await?;
    let config = settings.model.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let paths = inference::resolve(&config, false, false).context("model files missing or damaged")?;
        inference::bench::run(&model, &config, &paths, &options).context("running the benchmark")
    })
    .await
    .context("benchmark panicked")??;
    println!("{report}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).context("encoding the results")?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn bench_load(settings: &Settings, options: &crate::bench::LoadOptions, json: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    anyhow::ensure!(!options.sessions.is_empty() && !options.sessions.contains(&0), "--sessions needs counts of at least 1");
    anyhow::ensure!(options.turns > 0, "--turns must be at least 1");
    anyhow::ensure!(
        !options.modelfree_concurrency.is_empty() && !options.modelfree_concurrency.contains(&0),
        "--modelfree-concurrency needs counts of at least 1"
    );
    let report = crate::bench::run(settings, options).await.context("running the load benchmark")?;
    println!("{report}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).context("encoding the results")?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
