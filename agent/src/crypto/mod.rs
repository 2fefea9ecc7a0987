//! Encryption at rest, AES-256-GCM with random 96-bit nonces. Envelope encryption: each
//! patient's values are sealed under that patient's own data key (`envelope`), which is stored
//! wrapped by a versioned key-encryption key from the key file (`kek`). The associated data
//! binds table, row, patient and key version, so a ciphertext moved to another row, patient or
//! key does not open. Destroying a patient's data keys (shredding) leaves their values
//! unreadable and everyone else's intact.
//!
//! Sealed formats (first byte): 1 = sealed directly under KEK version 1 (values written before
//! envelope encryption; still opened); 2 = under a patient data key; 3 = directly under a
//! versioned KEK (values that belong to no patient).

pub mod envelope;
pub mod kek;
pub mod stream;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::config::ConfigError;
pub use envelope::{Envelope, KeyPolicy};
pub use kek::KekRing;

const NONCE_LEN: usize = 12;
const FORMAT_LEGACY: u8 = 1;
const FORMAT_DATA_KEY: u8 = 2;
const FORMAT_KEK: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext does not open (wrong key, wrong row, destroyed key, or tampered)")]
    Open,
    #[error("encryption failed")]
    Seal,
    #[error("{0}")]
    KeyFile(String),
    #[error("key store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// The key-encryption keys, and once a store is attached, the patients' data keys.
#[derive(Clone)]
pub struct Cipher {
    keks: Arc<KekRing>,
    envelope: Option<Arc<Envelope>>,
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

    /// The bytes with the sealing format and key version bound in.
    fn versioned(&self, format: u8, version: u32) -> Vec<u8> {
        let mut out = self.bytes();
        out.push(format);
        out.extend_from_slice(&version.to_be_bytes());
        out
    }
}

/// `[format][version u32][nonce][ciphertext]` under `aead`.
fn seal_with(aead: &Aes256Gcm, format: u8, version: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ct = aead.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(5 + NONCE_LEN + ct.len());
    out.push(format);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Splits a format 2/3 value into its key version and nonce+ciphertext.
fn versioned_parts(sealed: &[u8]) -> Result<(u32, &[u8]), CryptoError> {
    if sealed.len() < 5 + NONCE_LEN {
        return Err(CryptoError::Open);
    }
    let version = u32::from_be_bytes(sealed[1..5].try_into().expect("4 bytes"));
    Ok((version, &sealed[5..]))
}

fn open_with(aead: &Aes256Gcm, aad: &[u8], nonce_ct: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if nonce_ct.len() < NONCE_LEN {
        return Err(CryptoError::Open);
    }
    let (nonce, ct) = nonce_ct.split_at(NONCE_LEN);
    aead.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| CryptoError::Open)
}

impl Cipher {
    /// A single KEK as version 1 (tests).
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { keks: Arc::new(KekRing::from_keys([(1, key)].into())), envelope: None }
    }

    /// Reads the key file, refusing one that is missing, malformed, or readable by others.
    pub fn from_key_file(path: &Path) -> Result<Self, ConfigError> {
        Ok(Self { keks: Arc::new(KekRing::from_file(path)?), envelope: None })
    }

    /// Seals patient values under per-patient data keys kept in `store` from now on.
    pub fn with_envelope(self, store: Arc<dyn crate::store::KeyStore>, policy: KeyPolicy) -> Self {
        let envelope = Envelope::new(store, self.keks.clone(), policy);
        Self { envelope: Some(Arc::new(envelope)), ..self }
    }

    pub fn keks(&self) -> &Arc<KekRing> {
        &self.keks
    }

    pub fn envelope(&self) -> Option<&Arc<Envelope>> {
        self.envelope.as_ref()
    }

    /// Seals directly under the current KEK (values that belong to no patient key).
    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (version, kek) = self.keks.current();
        seal_with(&kek, FORMAT_KEK, version, &aad.versioned(FORMAT_KEK, version), plaintext)
    }

    /// Opens a value sealed by `seal` (or, format 1, before versions existed).
    pub fn open(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match sealed.first() {
            Some(&FORMAT_LEGACY) => {
                let kek = self.keks.get_or_reload(1).ok_or(CryptoError::Open)?;
                open_with(&kek, &aad.bytes(), &sealed[1..])
            }
            Some(&FORMAT_KEK) => {
                let (version, rest) = versioned_parts(sealed)?;
                let kek = self.keks.get_or_reload(version).ok_or(CryptoError::Open)?;
                open_with(&kek, &aad.versioned(FORMAT_KEK, version), rest)
            }
            _ => Err(CryptoError::Open),
        }
    }

    /// Seals a patient's value under their data key (or the KEK when no store is attached).
    pub async fn seal_for(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.envelope {
            Some(env) => env.seal(aad, plaintext).await,
            None => self.seal(aad, plaintext),
        }
    }

    /// Opens any sealed value; a shredded patient's values fail with `Open`.
    pub async fn open_for(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match (sealed.first(), &self.envelope) {
            (Some(&FORMAT_DATA_KEY), Some(env)) => env.open(aad, sealed).await,
            (Some(&FORMAT_DATA_KEY), None) => Err(CryptoError::Open),
            _ => self.open(aad, sealed),
        }
    }
}

/// Reads a secret from a file that only its owner may read; `key` names the setting in errors.
/// Group read is also accepted when the file's group is the service's own effective group and
/// nothing else is allowed (mode 0440/0640): a Kubernetes Secret mounted into a pod whose
/// `fsGroup` and `runAsGroup` are the service's looks like that, and no other user can read it.
pub fn read_secret_file(key: &str, path: &Path) -> Result<String, ConfigError> {
    let err = |m: String| ConfigError { key: key.into(), message: m };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode() & 0o777;
        let own_group_reads = mode & 0o070 == 0o040 && Some(meta.gid()) == effective_gid();
        if mode & 0o007 != 0 || (mode & 0o070 != 0 && !own_group_reads) {
            return Err(err(format!("{} is readable by other users (mode {mode:o}); chmod 600 it", path.display())));
        }
    }
    std::fs::read_to_string(path).map_err(|e| err(format!("{}: {e}", path.display())))
}

/// This process's effective group id (Linux: from /proc, no unsafe code); `None` elsewhere.
fn effective_gid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Gid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Creates a new random key file with mode 0600; refuses to overwrite an existing one.
pub fn init_key_file(path: &Path) -> anyhow::Result<PathBuf> {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    write_new_secret_file(path, &format!("{}\n", hex::encode(key)))?;
    Ok(path.to_path_buf())
}

/// Writes `contents` to a new file with mode 0600 (creating its folder); refuses to overwrite.
pub fn write_new_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
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
    file.write_all(contents.as_bytes()).context("writing key file")?;
    file.sync_all().context("syncing key file")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_readable_by_others_are_refused_and_by_the_own_group_accepted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "secret").unwrap();
        let with_mode = |mode| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            read_secret_file("x.key_file", &path)
        };
        assert_eq!(with_mode(0o600).unwrap(), "secret");
        // A new file takes this process's effective group: what a pod's fsGroup gives.
        assert_eq!(with_mode(0o440).unwrap(), "secret", "Kubernetes Secret mounted with fsGroup");
        for refused in [0o604, 0o644, 0o660, 0o620] {
            let e = with_mode(refused).unwrap_err();
            assert_eq!(e.key, "x.key_file", "{refused:o}");
        }
        assert!(effective_gid().is_some());
    }

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
    fn a_value_from_before_versions_still_opens() {
        let key = [7u8; 32];
        let legacy = {
            use aes_gcm::KeyInit;
            let aead = Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&key));
            let mut v = vec![FORMAT_LEGACY];
            let nonce = [1u8; NONCE_LEN];
            v.extend_from_slice(&nonce);
            v.extend(aead.encrypt(Nonce::from_slice(&nonce), Payload { msg: b"old".as_slice(), aad: &aad("r1").bytes() }).unwrap());
            v
        };
        let c = Cipher::from_key(key);
        assert_eq!(c.open(&aad("r1"), &legacy).unwrap(), b"old");
        let mut sealed = c.seal(&aad("r1"), b"new").unwrap();
        sealed[4] ^= 1; // claims another key version
        assert!(c.open(&aad("r1"), &sealed).is_err());
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
