//! `agent backup create|verify|restore` for the embedded SQLite database, at the binary's edge
//! (anyhow here). A backup is taken online: `VACUUM INTO` copies one consistent snapshot (a
//! read transaction; the service keeps writing meanwhile) to a private temporary file, which is
//! then encrypted with a fresh data key wrapped by the key file's current key (`crypto::stream`)
//! and renamed into place only when complete. Verify and restore decrypt every chunk (damage,
//! truncation or a wrong key is one line and a non-zero exit), then check the copy itself:
//! SQLite's integrity check and the audit log's chain, tree and signed checkpoints.
//! PostgreSQL is backed up with its own tools (docs/backup.md).

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use crate::config::Settings;
use crate::crypto::{stream, Cipher};
use crate::store::SqlStore;

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Write an encrypted, consistent copy of the SQLite database to FILE while the service
    /// runs (never overwrites FILE).
    Create { file: PathBuf },
    /// Decrypt FILE and check it: every chunk, the database's integrity, the audit log.
    Verify { file: PathBuf },
    /// Restore FILE into the configured database, or into --to; the target must not exist.
    Restore {
        file: PathBuf,
        /// Target database URL (sqlite://PATH); default database.url.
        #[arg(long)]
        to: Option<String>,
    },
}

pub async fn run(settings: &Settings, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { file } => create(settings, &file).await,
        BackupCommand::Verify { file } => verify(settings, &file).await,
        BackupCommand::Restore { file, to } => restore(settings, &file, to.as_deref()).await,
    }
}

/// The file behind a `sqlite://` URL; PostgreSQL is refused with where to look instead.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        anyhow::bail!("`agent backup` handles SQLite; back PostgreSQL up with pg_dump or PITR (docs/backup.md)");
    };
    let path = rest.split('?').next().unwrap_or(rest);
    anyhow::ensure!(!path.is_empty(), "database URL names no file");
    Ok(PathBuf::from(path))
}

fn cipher(settings: &Settings) -> anyhow::Result<Cipher> {
    Ok(Cipher::from_key_file(&settings.crypto.key_file)?)
}

/// The folder a file lives in ("." for a bare name).
fn folder_of(path: &Path) -> PathBuf {
    path.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// A new file with mode 0600; refuses to overwrite.
fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).with_context(|| format!("creating {}", path.display()))
}

async fn create(settings: &Settings, out: &Path) -> anyhow::Result<()> {
    let db = sqlite_path(settings.database.url.expose())?;
    anyhow::ensure!(db.is_file(), "database {} does not exist", db.display());
    anyhow::ensure!(!out.exists(), "{} already exists; a backup never overwrites a file", out.display());
    let cipher = cipher(settings)?;
    let scratch = tempfile::Builder::new().prefix(".agent-backup-").tempdir_in(folder_of(out)).context("creating a scratch folder")?;
    let snapshot = scratch.path().join("snapshot.db");
    let started = std::time::Instant::now();
    let mut conn = SqliteConnectOptions::new()
        .filename(&db)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    let snapshot_text = snapshot.to_str().context("scratch path is not UTF-8")?.to_owned();
    sqlx::query("VACUUM INTO ?1").bind(snapshot_text).execute(&mut conn).await.context("copying the database (VACUUM INTO)")?;
    conn.close().await.ok();
    let partial = out.with_extension("partial");
    let now = chrono::Utc::now().timestamp_millis();
    let (header, bytes) = {
        let (snapshot, partial) = (snapshot.clone(), partial.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<(stream::Header, u64)> {
            let bytes = std::fs::metadata(&snapshot)?.len();
            let mut input = BufReader::new(std::fs::File::open(&snapshot)?);
            let file = create_private(&partial)?;
            let mut w = BufWriter::new(file);
            let header = stream::encrypt(&cipher, "sqlite", now, &mut input, &mut w)?;
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all().context("syncing the backup")?;
            Ok((header, bytes))
        })
        .await
        .context("the encryption task panicked")?
    }
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    std::fs::rename(&partial, out).with_context(|| format!("renaming into {}", out.display()))?;
    println!(
        "backup written: {} ({bytes} bytes of database, id {}, {} ms)",
        out.display(),
        header.id,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Decrypts `file` into a new file `plain` (mode 0600).
async fn decrypt_to(cipher: Cipher, file: &Path, plain: &Path) -> anyhow::Result<(stream::Header, u64)> {
    let (file, plain) = (file.to_path_buf(), plain.to_path_buf());
    tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut input = BufReader::new(std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?);
        let mut w = BufWriter::new(create_private(&plain)?);
        let (header, n) = stream::decrypt(&cipher, &mut input, &mut w).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all().context("syncing the decrypted copy")?;
        Ok((header, n))
    })
    .await
    .context("the decryption task panicked")?
}

/// SQLite's integrity check and the audit log (chain, tree, the copy's own signed
/// checkpoints); a one-line summary.
async fn check_copy(settings: &Settings, db: &Path) -> anyhow::Result<String> {
    let mut conn = SqliteConnectOptions::new().filename(db).read_only(true).connect().await.context("opening the copy")?;
    let ok: String = sqlx::query("PRAGMA integrity_check").fetch_one(&mut conn).await?.try_get(0)?;
    conn.close().await.ok();
    anyhow::ensure!(ok == "ok", "the database in the backup is corrupt: {ok}");
    let url = format!("sqlite://{}", db.display());
    let store = Arc::new(SqlStore::connect(&url, 1).await.context("opening the copy")?);
    let keys = crate::audit_cli::verifying_keys(settings, vec![])?;
    let check = crate::audit_cli::LogCheck::new(store.clone(), None, keys);
    let result = check.run().await;
    store.pool().close().await;
    let v = result?.map_err(|f| anyhow::anyhow!("the audit log in the backup does not verify: {f}"))?;
    Ok(format!("audit log OK: {} records, {} checkpoints", v.records, v.checkpoints))
}

fn describe(header: &stream::Header, bytes: u64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(header.created_at).map(|t| t.to_rfc3339()).unwrap_or_default();
    format!("taken {at}, {bytes} bytes of database")
}

async fn verify(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new().prefix(".agent-verify-").tempdir().context("creating a scratch folder")?;
    let plain = scratch.path().join("copy.db");
    let (header, bytes) = decrypt_to(cipher(settings)?, file, &plain).await?;
    let audit = check_copy(settings, &plain).await?;
    println!("backup OK: {} ({}); {audit}", file.display(), describe(&header, bytes));
    Ok(())
}

async fn restore(settings: &Settings, file: &Path, to: Option<&str>) -> anyhow::Result<()> {
    let target = sqlite_path(to.unwrap_or(settings.database.url.expose()))?;
    for p in [target.clone(), PathBuf::from(format!("{}-wal", target.display()))] {
        anyhow::ensure!(!p.exists(), "{} exists; restore into a new path (--to) or move it away first", p.display());
    }
    let dir = folder_of(&target);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let scratch = tempfile::Builder::new().prefix(".agent-restore-").tempdir_in(&dir).context("creating a scratch folder")?;
    let plain = scratch.path().join("restored.db");
    let (header, bytes) = decrypt_to(cipher(settings)?, file, &plain).await?;
    let audit = check_copy(settings, &plain).await?;
    std::fs::rename(&plain, &target).with_context(|| format!("moving the copy to {}", target.display()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    println!("restored {} into {} ({}); {audit}", file.display(), target.display(), describe(&header, bytes));
    std::io::stdout().flush().ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_is_pointed_at_its_own_tools() {
        let e = sqlite_path("postgres://u@h/db").unwrap_err().to_string();
        assert!(e.contains("pg_dump") && e.contains("docs/backup.md"), "{e}");
        assert_eq!(sqlite_path("sqlite://data/agent.db?mode=rwc").unwrap(), PathBuf::from("data/agent.db"));
    }
}
