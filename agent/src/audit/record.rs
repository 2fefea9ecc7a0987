//! One audit record's canonical bytes and its chain hash. The bytes are fixed by this module
//! alone: every field length-prefixed (u64, big-endian) in a fixed order, integers big-endian,
//! so two different records never share bytes and the hash is the same on every platform and
//! backend. The payload is the sealed ciphertext: hashing it (never the plaintext) keeps the
//! log verifiable after a patient's key is destroyed.

use sha2::{Digest, Sha256};

use super::merkle::{self, Hash};

/// The fields of a record that its hash covers.
#[derive(Clone, Copy, Debug)]
pub struct RecordFields<'a> {
    /// Hex hash of the record before (all zeros for the first).
    pub prev_hash: &'a str,
    pub seq: i64,
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    /// Sealed bytes, exactly as stored.
    pub payload: &'a [u8],
}

impl RecordFields<'_> {
    /// prev | seq | at | actor | action | payload, each length-prefixed.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let seq = self.seq.to_be_bytes();
        let at = self.at.to_be_bytes();
        let parts: [&[u8]; 6] =
            [self.prev_hash.as_bytes(), &seq, &at, self.actor.as_bytes(), self.action.as_bytes(), self.payload];
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
        for part in parts {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    /// SHA-256 of the canonical bytes, hex: the record's chain hash.
    pub fn chain_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }
}

/// The Merkle leaf of a record: `SHA-256(0x00 || chain hash bytes)`; `None` when the stored
/// hash is not 32 bytes of hex.
pub fn leaf_of(chain_hash_hex: &str) -> Option<Hash> {
    let bytes = hex::decode(chain_hash_hex).ok()?;
    (bytes.len() == 32).then(|| merkle::leaf_hash(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let a = RecordFields { prev_hash: "00", seq: 1, at: 2, actor: "ab", action: "c", payload: b"x" };
        let b = RecordFields { actor: "a", action: "bc", ..a };
        assert_ne!(a.chain_hash(), b.chain_hash());
        assert_eq!(a.chain_hash(), a.chain_hash());
        assert_eq!(a.chain_hash().len(), 64);
    }
}
