//! `agent audit ...` and the key part of `agent keys init`, at the binary's edge (anyhow
//! here): verify the log, export it, create the signing key, sign a checkpoint, prove a record.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use ed25519_dalek::VerifyingKey;

use crate::audit::checkpoint::{self, AuditSigner, Checkpoint};
use crate::audit::export::{self, Format};
use crate::audit::{checkpointer, merkle, record, verify};
use crate::config::Settings;
use crate::crypto::{Aad, Cipher};
use crate::store::{AuditRow, AuditStore, SqlStore, Store};

/// Rows read per query while streaming the log.
const PAGE: i64 = 5_000;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain, the Merkle tree and every signed checkpoint; names the first bad
    /// record and exits non-zero when the log was altered.
    Verify {
        /// A checkpoint file to hold the log to, besides the database's (default:
        /// audit.checkpoint_file when it exists).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// An audit public key file (hex; repeat for keys used before a key change); default
        /// `<audit.signing_key_file>.pub`.
        #[arg(long)]
        public_key: Vec<PathBuf>,
    },
    /// Write the records recorded in [--from, --to) to stdout, one JSON per line: FHIR
    /// AuditEvent resources (IHE BALP) or plain records.
    Export {
        /// Start (RFC 3339 time or YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: Option<String>,
        /// End (RFC 3339 time, exclusive; or YYYY-MM-DD, that whole day included).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "fhir")]
        format: Format,
    },
    /// Create the audit signing key (mode 0600) at audit.signing_key_file or --out, and the
    /// public key beside it (`.pub`); never overwrites.
    Keygen {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a checkpoint of the log as it is now (the service also does this on its own).
    Checkpoint,
    /// Print the inclusion proof of record SEQ in the newest checkpoint's tree (JSON).
    Prove { seq: i64 },
    /// Print the consistency proof between the checkpoints signed at sizes FIRST and SECOND
    /// (JSON): the older tree is a prefix of the newer one.
    Consistency { first: u64, second: u64 },
}

pub async fn run(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Keygen { out } => {
            let path = out.unwrap_or_else(|| settings.audit.signing_key_file.clone());
            let key = checkpoint::init_signing_key(&path)?;
            println!("created {} (public key {})", path.display(), hex::encode(key.as_bytes()));
            Ok(())
        }
        AuditCommand::Verify { checkpoints, public_key } => verify_cmd(settings, checkpoints, public_key).await,
        AuditCommand::Export { from, to, format } => export_cmd(settings, from, to, format).await,
        AuditCommand::Checkpoint => {
            let store = open_store(settings).await?;
            let signer = AuditSigner::from_key_file(&settings.audit.signing_key_file)?;
            let now = chrono::Utc::now().timestamp_millis();
            match checkpointer::checkpoint_now(&store, &signer, Some(&settings.audit.checkpoint_file), now).await? {
                Some(cp) => println!("signed checkpoint at size {} (head {})", cp.size, cp.root),
                None => println!("nothing new to sign"),
            }
            Ok(())
        }
        AuditCommand::Prove { seq } => prove_cmd(settings, seq).await,
        AuditCommand::Consistency { first, second } => consistency_cmd(settings, first, second).await,
    }
}

/// `agent keys init`: the key-encryption key, and the audit signing key when missing.
pub fn keys_init(settings: &Settings, out: Option<PathBuf>) -> anyhow::Result<()> {
    let only_kek = out.is_some();
    let path = out.unwrap_or_else(|| settings.crypto.key_file.clone());
    crate::crypto::init_key_file(&path)?;
    println!("created {}", path.display());
    let signing = &settings.audit.signing_key_file;
    if !only_kek && !signing.exists() {
        checkpoint::init_signing_key(signing)?;
        println!("created {} (audit signing key)", signing.display());
    }
    Ok(())
}

async fn open_store(settings: &Settings) -> anyhow::Result<SqlStore> {
    SqlStore::connect(settings.database.url.expose(), 2).await.context("opening the database")
}

fn read_public_key(path: &std::path::Path) -> anyhow::Result<VerifyingKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    checkpoint::parse_public_key(&text)
        .ok_or_else(|| anyhow::anyhow!("{} is not an Ed25519 public key (64 hex digits)", path.display()))
}

/// Public keys to check checkpoints with: every --public-key, else `<signing key>.pub`, else
/// the signing key itself.
pub(crate) fn verifying_keys(settings: &Settings, public_keys: Vec<PathBuf>) -> anyhow::Result<Vec<VerifyingKey>> {
    if !public_keys.is_empty() {
        return public_keys.iter().map(|p| read_public_key(p)).collect();
    }
    let signing = &settings.audit.signing_key_file;
    let pub_file = checkpoint::public_key_path(signing);
    if pub_file.exists() {
        return Ok(vec![read_public_key(&pub_file)?]);
    }
    if signing.exists() {
        return Ok(vec![AuditSigner::from_key_file(signing)?.verifying_key()]);
    }
    Ok(vec![])
}

async fn verify_cmd(settings: &Settings, file: Option<PathBuf>, public_key: Vec<PathBuf>) -> anyhow::Result<()> {
    if let Some(f) = file.as_ref().filter(|f| !f.exists()) {
        anyhow::bail!("{} does not exist", f.display());
    }
    let store = Arc::new(open_store(settings).await?);
    let file = file.or_else(|| Some(settings.audit.checkpoint_file.clone()));
    let check = LogCheck::new(store, file, verifying_keys(settings, public_key)?);
    let v = check.run().await?.map_err(|f| anyhow::anyhow!("audit log altered: {f}"))?;
    println!(
        "audit log OK: {} records, {} checkpoints, head {}{}",
        v.records,
        v.checkpoints,
        hex::encode(v.root),
        if v.signed_size < v.records { format!(" (records after {} not yet signed)", v.signed_size) } else { String::new() }
    );
    Ok(())
}

/// Everything `agent audit verify` checks the log against: the checkpoints in the database and
/// in the shipped checkpoint file, and the public keys that signed them. The service holds one
/// too, so the admin API's verify gives the same answer as the CLI.
#[derive(Clone)]
pub struct LogCheck {
    store: Arc<SqlStore>,
    /// Read at each run when it exists (the service creates it with its first checkpoint).
    checkpoint_file: Option<PathBuf>,
    keys: Vec<VerifyingKey>,
}

impl LogCheck {
    pub fn new(store: Arc<SqlStore>, checkpoint_file: Option<PathBuf>, keys: Vec<VerifyingKey>) -> Self {
        Self { store, checkpoint_file, keys }
    }

    /// As `agent audit verify` without options sees it: audit.checkpoint_file and
    /// `<audit.signing_key_file>.pub`.
    pub fn from_settings(settings: &Settings, store: Arc<SqlStore>) -> anyhow::Result<Self> {
        Ok(Self::new(store, Some(settings.audit.checkpoint_file.clone()), verifying_keys(settings, vec![])?))
    }

    /// The log's store (its tip and rows).
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Checks the chain, the tree and every checkpoint (outer error: the database, the files or
    /// no key to check signatures with; inner: the log itself, naming the first bad record).
    pub async fn run(&self) -> anyhow::Result<Result<verify::Verified, verify::Failure>> {
        let mut cps = self.store.checkpoints().await?;
        if let Some(f) = self.checkpoint_file.as_ref().filter(|f| f.exists()) {
            cps.extend(checkpoint::read_file(f).map_err(anyhow::Error::msg)?);
        }
        if !cps.is_empty() && self.keys.is_empty() {
            anyhow::bail!("no audit public key to check the checkpoints with (--public-key)");
        }
        verify_store(&self.store, &cps, &self.keys).await
    }
}

/// Streams the store's log through the verifier (outer error: the database; inner: the log).
/// Hashing runs on a blocking thread, a page at a time, off the async workers.
pub async fn verify_store(
    store: &SqlStore,
    cps: &[Checkpoint],
    keys: &[VerifyingKey],
) -> anyhow::Result<Result<verify::Verified, verify::Failure>> {
    let mut v = match verify::Verifier::new(cps, keys) {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let mut from = i64::MIN;
    loop {
        let rows = store.audit_range(from, PAGE).await?;
        let next = match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => Some(last.seq + 1),
            _ => None,
        };
        let (back, pushed) = tokio::task::spawn_blocking(move || {
            let pushed = rows.iter().try_for_each(|row| v.push(row));
            (v, pushed)
        })
        .await
        .context("the audit verifier panicked")?;
        v = back;
        if let Err(f) = pushed {
            return Ok(Err(f));
        }
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    Ok(v.finish())
}

/// `YYYY-MM-DD` or RFC 3339 → ms; a bare date as an end means the end of that day.
fn parse_time(text: &str, end: bool) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let day = if end { day.succ_opt().unwrap_or(day) } else { day };
    Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis())
}

async fn export_cmd(settings: &Settings, from: Option<String>, to: Option<String>, format: Format) -> anyhow::Result<()> {
    let (from, to) = time_range(from.as_deref(), to.as_deref())?;
    let reader = RecordReader::open(settings).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    reader
        .each_between(from, to, |row, record| {
            let value = match format {
                Format::Fhir => export::audit_event(row, record),
                Format::Jsonl => export::jsonl(row, record),
            };
            writeln!(out, "{value}").context("writing the export")
        })
        .await?;
    out.flush().context("writing the export")
}

/// `--from`/`--to` as a half-open range in ms (unbounded where absent).
pub(crate) fn time_range(from: Option<&str>, to: Option<&str>) -> anyhow::Result<(i64, i64)> {
    let from = from.map(|t| parse_time(t, false)).transpose()?.unwrap_or(i64::MIN);
    let to = to.map(|t| parse_time(t, true)).transpose()?.unwrap_or(i64::MAX);
    Ok((from, to))
}

/// Reads the log with each record's sealed payload opened (the key file's keys and the
/// patients' data keys): what `audit export` and `security report` are made from.
pub struct RecordReader {
    store: Arc<SqlStore>,
    cipher: Cipher,
}

impl RecordReader {
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let store = Arc::new(open_store(settings).await?);
        let cipher = Cipher::from_key_file(&settings.crypto.key_file)?
            .with_envelope(store.clone(), crate::keys_cli::key_policy(settings));
        Ok(Self { store, cipher })
    }

    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Calls `f` with every record recorded in [from, to), in order, and its opened payload.
    pub async fn each_between(
        &self,
        from: i64,
        to: i64,
        mut f: impl FnMut(&AuditRow, Option<&serde_json::Value>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut patients: HashMap<String, Option<String>> = HashMap::new();
        let mut next = i64::MIN;
        loop {
            let rows = self.store.audit_range(next, PAGE).await?;
            for row in rows.iter().filter(|r| r.at >= from && r.at < to) {
                let record = open_record(&self.store, &self.cipher, &mut patients, row).await?;
                f(row, record.as_ref())?;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => next = last.seq + 1,
                _ => break,
            }
        }
        Ok(())
    }
}

/// The patient a record's target belongs to: the conversation's, or (staff records about a
/// case) the escalation's; `None` when it belongs to no patient or no longer exists.
async fn patient_of(store: &SqlStore, target: &str) -> anyhow::Result<Option<String>> {
    if let Some(c) = store.conversation(target).await? {
        return Ok(Some(c.patient_id));
    }
    Ok(store.staff().escalation(target).await?.map(|e| e.patient_id))
}

/// The record's sealed JSON, opened; `None` when it no longer opens (conversation gone or key
/// destroyed). Staff records about no patient (sign-ins, break-glass) are sealed with an empty
/// patient.
async fn open_record(
    store: &SqlStore,
    cipher: &Cipher,
    patients: &mut HashMap<String, Option<String>>,
    row: &AuditRow,
) -> anyhow::Result<Option<serde_json::Value>> {
    if row.actor == "operator" {
        // Operator actions (holds, shreds) name only the patient id and are stored in clear.
        return Ok(serde_json::from_slice(&row.payload).ok());
    }
    let Some((_, target)) = row.action.split_once('/') else { return Ok(None) };
    if !patients.contains_key(target) {
        let patient = patient_of(store, target).await?;
        patients.insert(target.to_owned(), patient);
    }
    let known = patients.get(target).cloned().flatten();
    let candidates: Vec<&str> = match (&known, row.actor.starts_with("staff:")) {
        (Some(p), true) => vec![p.as_str(), ""],
        (Some(p), false) => vec![p.as_str()],
        (None, true) => vec![""],
        (None, false) => vec![],
    };
    for patient in candidates {
        let aad = Aad { table: "audit_log", row: target, patient };
        if let Ok(bytes) = cipher.open_for(&aad, &row.payload).await {
            return Ok(serde_json::from_slice(&bytes).ok());
        }
    }
    Ok(None)
}

async fn prove_cmd(settings: &Settings, seq: i64) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let cp = store.latest_checkpoint().await?.ok_or_else(|| anyhow::anyhow!("no checkpoint yet"))?;
    anyhow::ensure!(seq >= 1 && seq as u64 <= cp.size, "record {seq} is not in the newest checkpoint (size {})", cp.size);
    let leaves = leaves(&store, cp.size as i64).await?;
    let index = (seq - 1) as usize;
    let proof = merkle::inclusion_proof(index, &leaves).expect("index checked");
    let root = cp.root_hash().ok_or_else(|| anyhow::anyhow!("checkpoint head is malformed"))?;
    let ok = merkle::verify_inclusion(index as u64, cp.size, &leaves[index], &proof, &root);
    anyhow::ensure!(ok, "record {seq} is not in the signed tree: the log was altered");
    let out = serde_json::json!({
        "seq": seq,
        "leaf_index": index,
        "leaf_hash": hex::encode(leaves[index]),
        "tree_size": cp.size,
        "inclusion_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        "checkpoint": cp,
    });
    println!("{out}");
    Ok(())
}

async fn consistency_cmd(settings: &Settings, first: u64, second: u64) -> anyhow::Result<()> {
    anyhow::ensure!(first <= second, "FIRST must not be larger than SECOND");
    let store = open_store(settings).await?;
    let cps = store.checkpoints().await?;
    let signed = |size: u64| {
        cps.iter().find(|c| c.size == size).cloned().ok_or_else(|| anyhow::anyhow!("no checkpoint signed at size {size}"))
    };
    let (a, b) = (signed(first)?, signed(second)?);
    let leaves = leaves(&store, second as i64).await?;
    let proof = merkle::consistency_proof(first as usize, &leaves).expect("first <= second");
    let (ra, rb) = match (a.root_hash(), b.root_hash()) {
        (Some(ra), Some(rb)) => (ra, rb),
        _ => anyhow::bail!("checkpoint head is malformed"),
    };
    anyhow::ensure!(
        merkle::verify_consistency(first, second, &ra, &rb, &proof),
        "the log no longer reproduces checkpoint {second} from checkpoint {first}: it was altered"
    );
    let out = serde_json::json!({
        "first": a,
        "second": b,
        "consistency_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(())
}

async fn leaves(store: &SqlStore, size: i64) -> anyhow::Result<Vec<merkle::Hash>> {
    let hashes = store.audit_hashes(1, size).await?;
    anyhow::ensure!(hashes.len() as i64 == size, "records missing below {size}: the log was altered");
    hashes.iter().map(|h| record::leaf_of(h).ok_or_else(|| anyhow::anyhow!("malformed hash in the log"))).collect()
}

