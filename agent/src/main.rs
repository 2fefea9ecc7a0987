//! `agent`: parse the command line, load settings, set up telemetry, run the command.
//! Configuration problems exit with code 2 and one line; anything else with code 1.

use std::process::ExitCode;

use agent::cli::Cli;
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match agent::config::Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    agent::telemetry::init(&settings.telemetry);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(agent::commands::run(cli.command, settings))
}
