//! Prefix cache: snapshots of sequences (KV caches) keyed by the tokens they hold. A request
//! starts from the longest snapshot whose tokens are a prefix of its prompt, so a system prompt
//! is computed once, and a session's next turn continues from its previous prompt. Snapshots
//! share their keys and values (frozen segments) with each other and with the requests that
//! start from them, so a hit copies nothing and the budget counts each segment once. Entries
//! are evicted least-recently-used until the segments they hold fit the byte budget.

use std::collections::HashSet;

use super::chat::Sequence;

struct Entry {
    seq: Sequence,
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
    /// remain to be fed, so the caller gets fresh logits). The copy shares the cached keys and
    /// values.
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

    /// Keeps a snapshot of `seq` (a no-op when the same tokens are cached already). Freezes
    /// `seq`, so the snapshot and the sequence share what it holds so far.
    pub fn insert(&mut self, seq: &mut Sequence) {
        if seq.tokens.is_empty() || self.entries.iter().any(|e| e.seq.tokens == seq.tokens) {
            return;
        }
        if seq.tokens.len() as u64 * self.bytes_per_token > self.budget {
            return;
        }
        seq.freeze();
        self.clock += 1;
        self.entries.push(Entry { seq: seq.clone(), last_used: self.clock });
        while self.held_bytes() > self.budget {
            let oldest = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    self.entries.swap_remove(i);
                }
                None => break,
            }
        }
    }

    /// Bytes of the distinct segments the entries hold.
    pub fn held_bytes(&self) -> u64 {
        let mut seen = HashSet::new();
        let positions: usize = self
            .entries
            .iter()
            .flat_map(|e| e.seq.segments())
            .filter(|&(id, _)| seen.insert(id))
            .map(|(_, n)| n)
            .sum();
        positions as u64 * self.bytes_per_token
    }

    #[cfg(test)]
    fn cached(&self) -> Vec<usize> {
        let mut lens: Vec<usize> = self.entries.iter().map(|e| e.seq.tokens.len()).collect();
        lens.sort_unstable();
        lens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_share_their_prefix_and_the_budget_counts_it_once() {
        let mut cache = PrefixCache::new(10 * 8, 8);
        let mut system = Sequence::filled(&[1, 2, 3, 4, 5, 6]);
        cache.insert(&mut system);
        let mut turn = cache.lookup(&[1, 2, 3, 4, 5, 6, 7]).expect("the system prompt is a prefix");
        assert_eq!(turn.tokens.len(), 6);
        turn.extend_for_test(&[7, 8, 9]);
        cache.insert(&mut turn);
        // 9 positions held, not 6 + 9: both entries fit a budget of 10.
        assert_eq!(cache.held_bytes(), 9 * 8);
        assert_eq!(cache.cached(), vec![6, 9]);
        // The longest prefix wins, and a prompt equal to an entry must still feed a token.
        assert_eq!(cache.lookup(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).map(|s| s.tokens.len()), Some(9));
        assert_eq!(cache.lookup(&[1, 2, 3, 4, 5, 6]).map(|s| s.tokens.len()), None);
    }

    #[test]
    fn eviction_goes_least_recently_used_until_the_segments_fit() {
        let mut cache = PrefixCache::new(10 * 8, 8);
        let mut a = Sequence::filled(&[1, 2, 3, 4]);
        cache.insert(&mut a);
        let mut b = Sequence::filled(&[5, 6, 7, 8]);
        cache.insert(&mut b);
        assert!(cache.lookup(&[1, 2, 3, 4, 9]).is_some()); // a is now the more recent
        let mut c = Sequence::filled(&[9, 9, 9]);
        cache.insert(&mut c);
        assert_eq!(cache.held_bytes(), 7 * 8);
        assert!(cache.lookup(&[5, 6, 7, 8, 9]).is_none(), "b was the least recently used");
        assert!(cache.lookup(&[1, 2, 3, 4, 9]).is_some());
        // A sequence larger than the whole budget is not kept.
        let mut big = Sequence::filled(&[7; 11]);
        cache.insert(&mut big);
        assert_eq!(cache.cached(), vec![3, 4]);
    }
}
