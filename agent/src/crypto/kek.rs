//! The key-encryption keys (KEKs), by version, from the key file. The file holds one key per
//! line, `VERSION:HEX` (a bare hex line, as `keys init` wrote before rotation existed, is
//! version 1). The highest version wraps new data keys; older ones stay to unwrap until they
//! are retired. `keys rotate` appends a version; a running service re-reads the file when it
//! meets a version it does not know, so rotation needs no restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use aes_gcm::{Aes256Gcm, Key, KeyInit};
use rand::RngCore;

use crate::config::ConfigError;

const SETTING: &str = "crypto.key_file";

/// KEK versions; reloadable from their file.
pub struct KekRing {
    path: Option<PathBuf>,
    keys: RwLock<BTreeMap<u32, Aes256Gcm>>,
}

impl std::fmt::Debug for KekRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KekRing(versions {:?})", self.versions())
    }
}

/// Parses a key file's text into versions and raw keys.
pub fn parse(text: &str) -> Result<BTreeMap<u32, [u8; 32]>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().map(str::trim).enumerate().filter(|(_, l)| !l.is_empty()) {
        let (version, hex_key) = match line.split_once(':') {
            Some((v, k)) => (v.trim().parse::<u32>().map_err(|_| format!("line {}: bad key version", i + 1))?, k.trim()),
            None => (1, line),
        };
        let key: [u8; 32] = hex::decode(hex_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("line {}: must be a 256-bit key (64 hex digits)", i + 1))?;
        if version == 0 || out.insert(version, key).is_some() {
            return Err(format!("line {}: key version {version} is zero or repeated", i + 1));
        }
    }
    if out.is_empty() {
        return Err("holds no key".into());
    }
    Ok(out)
}

fn aeads(keys: BTreeMap<u32, [u8; 32]>) -> BTreeMap<u32, Aes256Gcm> {
    keys.into_iter().map(|(v, k)| (v, Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&k)))).collect()
}

impl KekRing {
    pub fn from_keys(keys: BTreeMap<u32, [u8; 32]>) -> Self {
        Self { path: None, keys: RwLock::new(aeads(keys)) }
    }

    /// Reads the key file, refusing one that is missing, malformed, or readable by others.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let keys = load(path)?;
        Ok(Self { path: Some(path.to_path_buf()), keys: RwLock::new(aeads(keys)) })
    }

    /// Re-reads the key file (after `keys rotate` or `keys retire`); a no-op without one.
    pub fn reload(&self) -> Result<(), ConfigError> {
        if let Some(path) = &self.path {
            let keys = aeads(load(path)?);
            *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        }
        Ok(())
    }

    /// The version that wraps new keys.
    pub fn current(&self) -> (u32, Aes256Gcm) {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let (v, k) = keys.iter().next_back().expect("a ring is never empty");
        (*v, k.clone())
    }

    pub fn get(&self, version: u32) -> Option<Aes256Gcm> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).get(&version).cloned()
    }

    /// `get`, re-reading the file once when the version is unknown (rotated meanwhile).
    pub fn get_or_reload(&self, version: u32) -> Option<Aes256Gcm> {
        self.get(version).or_else(|| {
            self.reload().ok()?;
            self.get(version)
        })
    }

    pub fn versions(&self) -> Vec<u32> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).keys().copied().collect()
    }
}

fn load(path: &Path) -> Result<BTreeMap<u32, [u8; 32]>, ConfigError> {
    let text = super::read_secret_file(SETTING, path)?;
    parse(&text).map_err(|m| ConfigError { key: SETTING.into(), message: format!("{}: {m}", path.display()) })
}

fn render(keys: &BTreeMap<u32, [u8; 32]>) -> String {
    keys.iter().map(|(v, k)| format!("{v}:{}\n", hex::encode(k))).collect()
}

/// Replaces the key file atomically (temp file 0600, fsync, rename).
fn rewrite(path: &Path, keys: &BTreeMap<u32, [u8; 32]>) -> anyhow::Result<()> {
    use anyhow::Context;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    super::write_new_secret_file(&tmp, &render(keys))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Adds a new random KEK version to the key file; returns it.
pub fn rotate_file(path: &Path) -> anyhow::Result<u32> {
    let mut keys = load(path)?;
    let version = keys.keys().next_back().copied().unwrap_or(0) + 1;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    keys.insert(version, key);
    rewrite(path, &keys)?;
    Ok(version)
}

/// Removes a KEK version from the key file (never the current one).
pub fn retire_in_file(path: &Path, version: u32) -> anyhow::Result<()> {
    let mut keys = load(path)?;
    anyhow::ensure!(keys.contains_key(&version), "key version {version} is not in {}", path.display());
    anyhow::ensure!(keys.keys().next_back() != Some(&version), "key version {version} is the current one");
    keys.remove(&version);
    rewrite(path, &keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_key_is_version_one_and_versions_must_be_distinct() {
        let k = "11".repeat(32);
        assert_eq!(parse(&k).unwrap().keys().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(parse(&format!("{k}\n2:{}\n", "22".repeat(32))).unwrap().len(), 2);
        assert!(parse(&format!("1:{k}\n1:{k}")).is_err());
        assert!(parse("2:zz").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn rotation_adds_a_version_and_retire_removes_an_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        super::super::init_key_file(&path).unwrap();
        let ring = KekRing::from_file(&path).unwrap();
        assert_eq!(rotate_file(&path).unwrap(), 2);
        assert_eq!(ring.versions(), [1]);
        assert!(ring.get_or_reload(2).is_some(), "reloads on an unknown version");
        assert_eq!(ring.current().0, 2);
        assert!(retire_in_file(&path, 2).is_err(), "never the current key");
        retire_in_file(&path, 1).unwrap();
        ring.reload().unwrap();
        assert_eq!(ring.versions(), [2]);
    }
}
