//! `audit verify`: replays the log from record 1, checking that every record follows the one
//! before (sequence, previous hash, its own hash over its canonical bytes), and that the
//! Merkle tree of the records reproduces every signed checkpoint. The first problem found is
//! reported with the sequence number of the first record that is not what was signed.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;

use super::checkpoint::Checkpoint;
use super::merkle::{Accumulator, Hash};
use super::record::{leaf_of, RecordFields};
use crate::store::{AuditRow, AUDIT_GENESIS};

/// What a clean log proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub checkpoints: usize,
    /// Head of the whole log's tree.
    pub root: Hash,
    /// Size covered by the newest checkpoint (records after it are chained but not yet signed).
    pub signed_size: u64,
}

/// The first problem found; `seq` names the first bad record when there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub seq: Option<i64>,
    pub message: String,
}

fn at(seq: i64, message: impl Into<String>) -> Failure {
    Failure { seq: Some(seq), message: format!("record {seq}: {}", message.into()) }
}

/// Incremental checker: feed rows in order (`push`), then `finish`. Lets callers stream a
/// large log page by page.
pub struct Verifier {
    /// Checkpoints by size, signatures already checked.
    pending: BTreeMap<u64, Checkpoint>,
    checkpoints: usize,
    prev_hash: String,
    acc: Accumulator,
    /// Size of the last checkpoint matched (bad records start after it).
    signed_size: u64,
}

impl Verifier {
    /// Checks the checkpoints' signatures and that no two of them disagree about one size.
    pub fn new(checkpoints: &[Checkpoint], keys: &[VerifyingKey]) -> Result<Self, Failure> {
        let mut pending: BTreeMap<u64, Checkpoint> = BTreeMap::new();
        for cp in checkpoints {
            cp.verify(keys).map_err(|message| Failure { seq: None, message })?;
            if cp.root_hash().is_none() {
                return Err(Failure { seq: None, message: format!("checkpoint at size {}: malformed head", cp.size) });
            }
            match pending.get(&cp.size) {
                Some(other) if other.root != cp.root => {
                    return Err(Failure {
                        seq: Some(cp.size as i64),
                        message: format!("two signed checkpoints at size {} disagree", cp.size),
                    })
                }
                _ => {
                    pending.insert(cp.size, cp.clone());
                }
            }
        }
        let checkpoints = pending.len();
        if let Some(cp) = pending.get(&0) {
            if cp.root_hash() != Some(super::merkle::empty_root()) {
                return Err(Failure { seq: None, message: "checkpoint at size 0 is not the empty tree".into() });
            }
        }
        pending.remove(&0);
        Ok(Self { pending, checkpoints, prev_hash: AUDIT_GENESIS.to_owned(), acc: Accumulator::default(), signed_size: 0 })
    }

    /// The next row of the log.
    pub fn push(&mut self, row: &AuditRow) -> Result<(), Failure> {
        let expected = self.acc.size() as i64 + 1;
        if row.seq != expected {
            return Err(at(expected, format!("missing or out of order (found record {} in its place)", row.seq)));
        }
        if row.prev_hash != self.prev_hash {
            return Err(at(row.seq, "does not link to the record before it"));
        }
        let fields = RecordFields {
            prev_hash: &row.prev_hash,
            seq: row.seq,
            at: row.at,
            actor: &row.actor,
            action: &row.action,
            payload: &row.payload,
        };
        if fields.chain_hash() != row.hash {
            return Err(at(row.seq, "contents do not match its hash"));
        }
        let leaf = leaf_of(&row.hash).ok_or_else(|| at(row.seq, "malformed hash"))?;
        self.acc.push(leaf);
        self.prev_hash = row.hash.clone();
        let size = self.acc.size();
        if let Some(cp) = self.pending.remove(&size) {
            if cp.root_hash() != Some(self.acc.root()) {
                let first = self.signed_size as i64 + 1;
                return Err(Failure {
                    seq: Some(first),
                    message: format!(
                        "record {first}: records {first}..{size} do not reproduce the checkpoint signed at size {size}"
                    ),
                });
            }
            self.signed_size = size;
        }
        Ok(())
    }

    /// Ends the log: a checkpoint beyond its end means records were cut off.
    pub fn finish(self) -> Result<Verified, Failure> {
        let size = self.acc.size();
        if let Some((&signed, _)) = self.pending.iter().next() {
            return Err(at(
                size as i64 + 1,
                format!("missing: the log ends at {size} but a checkpoint was signed at size {signed}"),
            ));
        }
        Ok(Verified { records: size, checkpoints: self.checkpoints, root: self.acc.root(), signed_size: self.signed_size })
    }
}

/// Checks a whole log held in memory.
pub fn verify(rows: &[AuditRow], checkpoints: &[Checkpoint], keys: &[VerifyingKey]) -> Result<Verified, Failure> {
    let mut v = Verifier::new(checkpoints, keys)?;
    for row in rows {
        v.push(row)?;
    }
    v.finish()
}
