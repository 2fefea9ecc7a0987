//! Engine counters shared between the worker thread and the handle: how many prompt tokens
//! came from the prefix cache, how many tokens were generated, how many requests were skipped
//! because their caller went away, and where the engine thread's time went (per kind of job,
//! and how long jobs waited in the queue): whether the one model thread is the bottleneck.
//! Counts only, never content.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub skipped: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub reused_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
    pub forced_tokens: AtomicU64,
    pub mask_steps: AtomicU64,
    pub mask_nanos: AtomicU64,
    pub mask_max_nanos: AtomicU64,
    pub batched_steps: AtomicU64,
    pub kinds: [KindCounters; 4],
    pub wait_nanos: AtomicU64,
    pub embed_passes: AtomicU64,
}

/// One kind of job: how many ran and the engine time they took.
#[derive(Default)]
pub struct KindCounters {
    pub jobs: AtomicU64,
    pub nanos: AtomicU64,
}

/// The kinds of job, as indices into `Counters::kinds` and `EngineStats::kinds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A generation's start (its prompt) and its decode steps.
    Generate = 0,
    Choose = 1,
    Extract = 2,
    Embed = 3,
}

/// Jobs of one kind and the engine time they took (a batched pass counts once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindStats {
    pub jobs: u64,
    pub nanos: u64,
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
    /// Extraction tokens the grammar forced, fed without a decode step of their own.
    pub forced_tokens: u64,
    /// Constrained-decoding steps (`extract` tokens) and the time spent choosing allowed
    /// tokens in them (the mask, without the model's forward pass).
    pub mask_steps: u64,
    pub mask_nanos: u64,
    /// The slowest of those steps (an upper bound of any percentile).
    pub mask_max_nanos: u64,
    /// Decode steps that fed more than one sequence at once (generations, or extractions
    /// decoded together).
    pub batched_steps: u64,
    /// Per kind of job (index with [`Kind`]): generate, choose, extract, embed.
    pub kinds: [KindStats; 4],
    /// Time requests spent queued before the engine thread took them, summed.
    pub wait_nanos: u64,
    /// Embedding passes: one per `embed` request, or one for several queued requests run
    /// together.
    pub embed_passes: u64,
}

impl EngineStats {
    pub fn kind(&self, k: Kind) -> KindStats {
        self.kinds[k as usize]
    }

    /// Engine time spent on jobs of every kind.
    pub fn busy_nanos(&self) -> u64 {
        self.kinds.iter().map(|k| k.nanos).sum()
    }
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Runs `work` (`jobs` jobs of `kind`) and counts them and the engine time they took. The
    /// jobs are counted first, so a caller who has its answer sees its job counted.
    pub fn timed<T>(&self, kind: Kind, jobs: usize, work: impl FnOnce() -> T) -> T {
        let k = &self.kinds[kind as usize];
        Self::add(&k.jobs, jobs);
        let started = std::time::Instant::now();
        let out = work();
        Self::add(&k.nanos, started.elapsed().as_nanos() as usize);
        out
    }

    pub fn snapshot(&self) -> EngineStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EngineStats {
            requests: get(&self.requests),
            skipped: get(&self.skipped),
            prompt_tokens: get(&self.prompt_tokens),
            reused_prompt_tokens: get(&self.reused_tokens),
            generated_tokens: get(&self.generated_tokens),
            forced_tokens: get(&self.forced_tokens),
            mask_steps: get(&self.mask_steps),
            mask_nanos: get(&self.mask_nanos),
            mask_max_nanos: get(&self.mask_max_nanos),
            batched_steps: get(&self.batched_steps),
            kinds: std::array::from_fn(|i| KindStats { jobs: get(&self.kinds[i].jobs), nanos: get(&self.kinds[i].nanos) }),
            wait_nanos: get(&self.wait_nanos),
            embed_passes: get(&self.embed_passes),
        }
    }
}
