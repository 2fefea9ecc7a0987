//! `agent security report --from --to`: the audit trail of a period summarised for a breach
//! investigation (`audit::report`), as a readable table or JSON. The records are read and
//! opened exactly as `agent audit export` reads them (`audit_cli::RecordReader`).

use std::collections::HashMap;

use clap::Subcommand;

use crate::audit::report::Report;
use crate::audit_cli::{time_range, RecordReader};
use crate::config::Settings;
use crate::store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum SecurityCommand {
    /// Who on the staff accessed which patients, when and from where, break-glass use and
    /// sign-ins (failed and not) in [--from, --to), from the audit log.
    Report {
        /// Start (RFC 3339 time or YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: String,
        /// End (RFC 3339 time, exclusive; or YYYY-MM-DD, that whole day included).
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
    },
}

pub async fn run(settings: &Settings, command: SecurityCommand) -> anyhow::Result<()> {
    let SecurityCommand::Report { from, to, format } = command;
    let (from, to) = time_range(Some(&from), Some(&to))?;
    anyhow::ensure!(from < to, "--from must be before --to");
    let reader = RecordReader::open(settings).await?;
    let mut report = Report::new(from, to);
    reader
        .each_between(from, to, |row, record| {
            report.add(row, record);
            Ok(())
        })
        .await?;
    let report = report.finish();
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Table => {
            let names = usernames(&reader, &report).await?;
            let name = |id: &str| names.get(id).map(|n| format!("{n} ({})", short(id))).unwrap_or_else(|| id.to_owned());
            print!("{}", report.table(&name));
        }
    }
    Ok(())
}

/// The first block of a staff id (enough to tell accounts apart in a table).
fn short(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

/// Usernames of the staff ids in the report (accounts since deleted keep their id).
async fn usernames(reader: &RecordReader, report: &Report) -> anyhow::Result<HashMap<String, String>> {
    let ids = report
        .accesses
        .iter()
        .map(|a| &a.staff)
        .chain(report.break_glass.iter().chain(&report.failed_sign_ins).chain(&report.sign_ins).map(|e| &e.staff));
    let mut names = HashMap::new();
    for id in ids {
        if !names.contains_key(id) {
            if let Some(u) = reader.store().staff().user(id).await? {
                names.insert(id.clone(), u.username);
            }
        }
    }
    Ok(names)
}
