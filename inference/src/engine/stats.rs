//! Engine counters shared between the worker thread and the handle: how many prompt tokens
//! came from the prefix cache, how many tokens were generated, how many requests were skipped
//! because their caller went away. Counts only, never content.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub skipped: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub reused_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
    pub mask_steps: AtomicU64,
    pub mask_nanos: AtomicU64,
    pub batched_steps: AtomicU64,
}

/// A snapshot of the counters since the model was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Requests the worker ran.
    pub requests: u64,
    /// Requests skipped because the caller had gone before they started.
    pub skipped: u64,
    /// Prompt tokens of all requests.
    pub prompt_tokens: u64,
    /// Of those, tokens whose KV cache came from the prefix cache (not recomputed).
    pub reused_prompt_tokens: u64,
    /// Tokens generated (generate and extract).
    pub generated_tokens: u64,
    /// Constrained-decoding steps (`extract` tokens) and the time spent choosing allowed
    /// tokens in them (the mask, without the model's forward pass).
    pub mask_steps: u64,
    pub mask_nanos: u64,
    /// Decode steps that fed more than one generation at once.
    pub batched_steps: u64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> EngineStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EngineStats {
            requests: get(&self.requests),
            skipped: get(&self.skipped),
            prompt_tokens: get(&self.prompt_tokens),
            reused_prompt_tokens: get(&self.reused_tokens),
            generated_tokens: get(&self.generated_tokens),
            mask_steps: get(&self.mask_steps),
            mask_nanos: get(&self.mask_nanos),
            batched_steps: get(&self.batched_steps),
        }
    }
}
