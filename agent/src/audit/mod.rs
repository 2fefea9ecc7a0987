//! The audit log's integrity: each record's canonical bytes and chain hash (`record`), the
//! RFC 9162 Merkle tree over the records (`merkle`), signed checkpoints of that tree
//! (`checkpoint`, `checkpointer`), the verifier behind `agent audit verify` (`verify`), the
//! export formats (`export`) and the security report (`report`). The rows themselves are
//! written by the store, in the same transaction as the turn they record.

pub mod checkpoint;
pub mod checkpointer;
pub mod export;
pub mod merkle;
pub mod record;
pub mod report;
pub mod retention;
pub mod verify;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[audit]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Ed25519 seed (hex, mode 0600) that signs checkpoints; `agent keys init` or
    /// `agent audit keygen` creates it, with the public key in `<file>.pub`.
    pub signing_key_file: PathBuf,
    /// Every checkpoint is also appended here, one JSON line each, for shipping off the machine.
    pub checkpoint_file: PathBuf,
    /// Sign a checkpoint once this many records are unsigned...
    pub checkpoint_every_records: u64,
    /// ...or once the newest unsigned record is this old.
    pub checkpoint_every_secs: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            signing_key_file: "data/audit-signing.key".into(),
            checkpoint_file: "data/audit-checkpoints.jsonl".into(),
            checkpoint_every_records: 1000,
            checkpoint_every_secs: 300,
        }
    }
}
