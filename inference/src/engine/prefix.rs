//! Prefix cache: snapshots of sequences (KV caches) keyed by the tokens they hold. A request
//! starts from the longest snapshot whose tokens are a prefix of its prompt, so a system prompt
//! is computed once, and a session's next turn continues from its previous prompt. Entries are
//! evicted least-recently-used under a byte budget.

use super::chat::Sequence;

struct Entry {
    seq: Sequence,
    bytes: u64,
    last_used: u64,
}

pub struct PrefixCache {
    entries: Vec<Entry>,
    budget: u64,
    bytes_per_token: u64,
    clock: u64,
}

impl PrefixCache {
    pub fn new(budget: u64, bytes_per_token: u64) -> Self {
        Self { entries: Vec::new(), budget, bytes_per_token, clock: 0 }
    }

    /// The longest cached sequence that is a strict prefix of `tokens` (at least one token must
    /// remain to be fed, so the caller gets fresh logits).
    pub fn lookup(&mut self, tokens: &[u32]) -> Option<Sequence> {
        self.clock += 1;
        let clock = self.clock;
        let best = self
            .entries
            .iter_mut()
            .filter(|e| e.seq.tokens.len() < tokens.len() && tokens.starts_with(&e.seq.tokens))
            .max_by_key(|e| e.seq.tokens.len());
        best.map(|e| {
            e.last_used = clock;
            e.seq.clone()
        })
    }

    /// Keeps a snapshot of `seq` (a no-op when the same tokens are cached already).
    pub fn insert(&mut self, seq: &Sequence) {
        if seq.tokens.is_empty() || self.entries.iter().any(|e| e.seq.tokens == seq.tokens) {
            return;
        }
        let bytes = seq.tokens.len() as u64 * self.bytes_per_token;
        if bytes > self.budget {
            return;
        }
        self.clock += 1;
        self.entries.push(Entry { seq: seq.clone(), bytes, last_used: self.clock });
        while self.entries.iter().map(|e| e.bytes).sum::<u64>() > self.budget {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    self.entries.swap_remove(i);
                }
                None => break,
            }
        }
    }
}
