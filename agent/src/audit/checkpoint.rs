//! Signed checkpoints: every so often the log's size and Merkle tree head are signed with the
//! audit key (Ed25519), stored in the database and appended to a file the operator ships off
//! the machine. Whoever keeps those lines can later prove the log was not rewritten, cut
//! short or reordered: the rows must reproduce every signed head.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::merkle::Hash;
use crate::config::ConfigError;

/// What is signed, so a signature over anything else never passes for a checkpoint.
const CONTEXT: &str = "agent audit checkpoint v1";

/// A signed tree head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Number of records covered (records 1..=size).
    pub size: u64,
    /// Hex MTH of their leaves.
    pub root: String,
    /// When it was signed (ms since the epoch).
    pub at: i64,
    /// Which audit key signed (first 8 bytes of SHA-256 of the public key, hex).
    pub key_id: String,
    /// Base64 Ed25519 signature over `body()`.
    pub signature: String,
}

impl Checkpoint {
    /// The signed text: context, size, head and time, one per line.
    pub fn body(size: u64, root: &str, at: i64) -> String {
        format!("{CONTEXT}\n{size}\n{root}\n{at}\n")
    }

    /// The head as bytes; `None` when the stored text is not 32 bytes of hex.
    pub fn root_hash(&self) -> Option<Hash> {
        hex::decode(&self.root).ok()?.try_into().ok()
    }

    /// Checks the signature with whichever of `keys` has this checkpoint's key id.
    pub fn verify(&self, keys: &[VerifyingKey]) -> Result<(), String> {
        let key = keys
            .iter()
            .find(|k| key_id(k) == self.key_id)
            .ok_or_else(|| format!("checkpoint at size {} is signed by unknown key {}", self.size, self.key_id))?;
        let bad = || format!("checkpoint at size {}: signature does not verify", self.size);
        let raw = base64::engine::general_purpose::STANDARD.decode(&self.signature).map_err(|_| bad())?;
        let sig = Signature::from_slice(&raw).map_err(|_| bad())?;
        key.verify_strict(Self::body(self.size, &self.root, self.at).as_bytes(), &sig).map_err(|_| bad())
    }
}

/// Short stable name of a public key.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// The audit signing key (private; from a 0600 key file).
pub struct AuditSigner {
    key: SigningKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditSigner({})", key_id(&self.key.verifying_key()))
    }
}

impl AuditSigner {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(&seed) }
    }

    /// Reads a hex seed file, refusing one that is missing, malformed, or readable by others.
    pub fn from_key_file(path: &Path) -> Result<Self, ConfigError> {
        const KEY: &str = "audit.signing_key_file";
        let text = crate::crypto::read_secret_file(KEY, path)?;
        let err = |m: String| ConfigError { key: KEY.into(), message: m };
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err(format!("{} must hold a 32-byte Ed25519 seed (64 hex digits)", path.display())))?;
        Ok(Self::from_seed(seed))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn sign(&self, size: u64, root: &Hash, at: i64) -> Checkpoint {
        let root = hex::encode(root);
        let sig = self.key.sign(Checkpoint::body(size, &root, at).as_bytes());
        Checkpoint {
            size,
            root,
            at,
            key_id: key_id(&self.key.verifying_key()),
            signature: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
        }
    }
}

/// Creates a new signing key file (0600, never overwritten) and `<file>.pub` beside it with
/// the public key in hex, which verifiers may hold without the secret.
pub fn init_signing_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    use anyhow::Context;
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    crate::crypto::write_new_secret_file(path, &format!("{}\n", hex::encode(seed)))?;
    let public = AuditSigner::from_seed(seed).verifying_key();
    let pub_path = public_key_path(path);
    std::fs::write(&pub_path, format!("{}\n", hex::encode(public.as_bytes())))
        .with_context(|| format!("writing {}", pub_path.display()))?;
    Ok(public)
}

/// `<signing key file>.pub`.
pub fn public_key_path(signing_key: &Path) -> std::path::PathBuf {
    let mut name = signing_key.as_os_str().to_owned();
    name.push(".pub");
    name.into()
}

/// Parses a public key file or hex string (64 hex digits).
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Appends one checkpoint as a JSON line and syncs it to disk.
pub fn append_to_file(path: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let line = serde_json::to_string(cp).map_err(std::io::Error::other)?;
    writeln!(file, "{line}")?;
    file.sync_all()
}

/// Reads a checkpoint file (one JSON checkpoint per line; blank lines skipped).
pub fn read_file(path: &Path) -> Result<Vec<Checkpoint>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{}:{}: not a checkpoint: {e}", path.display(), i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_unchanged_and_with_its_key() {
        let signer = AuditSigner::from_seed([3; 32]);
        let keys = [signer.verifying_key()];
        let cp = signer.sign(10, &[9; 32], 1234);
        cp.verify(&keys).unwrap();
        assert!(Checkpoint { size: 11, ..cp.clone() }.verify(&keys).is_err());
        assert!(Checkpoint { at: 1235, ..cp.clone() }.verify(&keys).is_err());
        assert!(Checkpoint { root: hex::encode([8u8; 32]), ..cp.clone() }.verify(&keys).is_err());
        let other = AuditSigner::from_seed([4; 32]).verifying_key();
        assert!(cp.verify(&[other]).unwrap_err().contains("unknown key"));
    }
}
