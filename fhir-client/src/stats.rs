//! Counters of what the client did, as plain atomics the service exports to Prometheus.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Monotonic counters; cheap to bump from any task.
#[derive(Debug, Default)]
pub struct FhirStats {
    /// HTTP attempts sent (first tries and retries).
    pub attempts: AtomicU64,
    /// Attempts that were retries of an idempotent request.
    pub retries: AtomicU64,
    /// Requests that ended unavailable (down, timeout, 5xx) or with a non-FHIR answer.
    pub failures: AtomicU64,
    /// Requests the EHR refused with a 4xx (not found, conflict, invalid...).
    pub rejections: AtomicU64,
    /// Access tokens fetched (SMART backend services).
    pub token_fetches: AtomicU64,
    /// Reads answered by an identical read already in flight, with no request of their own.
    pub shared_reads: AtomicU64,
    /// Batch Bundles sent, each carrying reads that waited for a place (see `lanes`).
    pub batches: AtomicU64,
    /// Reads answered inside a batch, with no request of their own.
    pub batched_reads: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub attempts: u64,
    pub retries: u64,
    pub failures: u64,
    pub rejections: u64,
    pub token_fetches: u64,
    pub shared_reads: u64,
    pub batches: u64,
    pub batched_reads: u64,
}

impl FhirStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            attempts: self.attempts.load(Relaxed),
            retries: self.retries.load(Relaxed),
            failures: self.failures.load(Relaxed),
            rejections: self.rejections.load(Relaxed),
            token_fetches: self.token_fetches.load(Relaxed),
            shared_reads: self.shared_reads.load(Relaxed),
            batches: self.batches.load(Relaxed),
            batched_reads: self.batched_reads.load(Relaxed),
        }
    }
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
