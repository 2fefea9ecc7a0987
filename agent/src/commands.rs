//! What each subcommand does, at the binary's edge (anyhow lives here, not in the library
//! modules). Returns the process exit code.

use std::process::ExitCode;

use crate::cli::{Command, ConfigCommand, KeysCommand};
use crate::config::{ConfigError, Settings};

pub async fn run(command: Command, settings: Settings) -> ExitCode {
    let result = match command {
        Command::Config { command: ConfigCommand::Check } => config_check(&settings),
        Command::Keys { command: KeysCommand::Init { out } } => {
            let path = out.unwrap_or_else(|| settings.crypto.key_file.clone());
            crate::crypto::init_key_file(&path).map(|p| println!("created {}", p.display()))
        }
        other => Err(anyhow::anyhow!("{other:?} is wired in the next commit")),
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

/// `error: outer: inner: root` on one line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string().replace('\n', " ")).collect::<Vec<_>>().join(": ")
}

fn config_check(settings: &Settings) -> anyhow::Result<()> {
    crate::crypto::Cipher::from_key_file(&settings.crypto.key_file)?;
    print!("{}", settings.redacted_toml());
    println!("# configuration OK");
    Ok(())
}
