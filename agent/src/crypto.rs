//! Encryption at rest. The key-encryption key comes from a key file (mode 0600, never in the
//! repo); message bodies and conversation state are sealed with AES-256-GCM under a random
//! 96-bit nonce, with the table, row and patient bound in as associated data so a ciphertext
//! moved to another row does not open.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

use crate::config::ConfigError;

const NONCE_LEN: usize = 12;
/// Version byte in front of every sealed value, so a later key scheme can be told apart.
const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext does not open (wrong key, wrong row, or tampered)")]
    Open,
    #[error("encryption failed")]
    Seal,
}

/// The key-encryption key, loaded once at start.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

/// Where a sealed value lives; any change makes it fail to open.
pub struct Aad<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub patient: &'a str,
}

impl Aad<'_> {
    fn bytes(&self) -> Vec<u8> {
        // Length-prefixed so ("ab","c") and ("a","bc") differ.
        let mut out = Vec::new();
        for part in [self.table, self.row, self.patient] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

impl Cipher {
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)) }
    }

    /// Reads a hex key file, refusing one that is missing, malformed, or readable by others.
    pub fn from_key_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_secret_file("crypto.key_file", path)?;
        let err = |m: String| ConfigError { key: "crypto.key_file".into(), message: m };
        let bytes = hex::decode(text.trim()).map_err(|_| err(format!("{} is not hex", path.display())))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| err(format!("{} must hold a 256-bit key (64 hex digits)", path.display())))?;
        Ok(Self::from_key(key))
    }

    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad.bytes() })
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        self.aead
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad.bytes() })
            .map_err(|_| CryptoError::Open)
    }
}

/// Reads a secret from a file that only its owner may read; `key` names the setting in errors.
pub fn read_secret_file(key: &str, path: &Path) -> Result<String, ConfigError> {
    let err = |m: String| ConfigError { key: key.into(), message: m };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!("{} is readable by other users (mode {mode:o}); chmod 600 it", path.display())));
        }
    }
    std::fs::read_to_string(path).map_err(|e| err(format!("{}: {e}", path.display())))
}

/// Creates a new random key file with mode 0600; refuses to overwrite an existing one.
pub fn init_key_file(path: &Path) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(path)
        .with_context(|| format!("creating key file {} (it must not exist yet)", path.display()))?;
    writeln!(file, "{}", hex::encode(key)).context("writing key file")?;
    file.sync_all().context("syncing key file")?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad<'a>(row: &'a str) -> Aad<'a> {
        Aad { table: "messages", row, patient: "p1" }
    }

    #[test]
    fn sealed_value_opens_only_in_its_row() {
        let c = Cipher::from_key([7; 32]);
        let sealed = c.seal(&aad("r1"), b"I have a rash").unwrap();
        assert_eq!(c.open(&aad("r1"), &sealed).unwrap(), b"I have a rash");
        assert!(c.open(&aad("r2"), &sealed).is_err());
        assert!(Cipher::from_key([8; 32]).open(&aad("r1"), &sealed).is_err());
    }

    #[test]
    fn key_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        init_key_file(&path).unwrap();
        assert!(Cipher::from_key_file(&path).is_ok());
        assert!(init_key_file(&path).is_err(), "never overwrites a key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Cipher::from_key_file(&path).unwrap_err();
        assert_eq!(e.key, "crypto.key_file");
        assert!(e.message.contains("readable by other users"));
        assert!(Cipher::from_key_file(&dir.path().join("missing")).is_err());
    }
}
