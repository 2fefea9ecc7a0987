//! Latency samples and the figures the load report gives for them (nearest-rank percentiles),
//! and error counts by kind (429, 503, 5xx, ...), shared by every phase of `agent bench load`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Percentiles of one set of samples, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples: &[Duration]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        Self {
            count: ms.len(),
            p50_ms: rank(&ms, 0.50),
            p95_ms: rank(&ms, 0.95),
            p99_ms: rank(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when there are none).
fn rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    round2(sorted[i])
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What went wrong, by kind: "429", "503", "5xx", "4xx", "409", "deadline" (the turn was
/// handed to a person because it ran past `server.turn_deadline_ms`), "transport".
pub type Errors = BTreeMap<String, u64>;

pub fn add_error(errors: &mut Errors, kind: &str) {
    *errors.entry(kind.to_owned()).or_default() += 1;
}

/// The kind an HTTP status counts as.
pub fn status_kind(status: u16) -> String {
    match status {
        429 | 503 | 409 => status.to_string(),
        500..=599 => "5xx".into(),
        _ => "4xx".into(),
    }
}

/// Samples and errors one worker gathered; merged after the run.
#[derive(Debug, Default)]
pub struct Tally {
    pub turns: Vec<Duration>,
    pub first_event: Vec<Duration>,
    pub errors: Errors,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.turns.extend(other.turns);
        self.first_event.extend(other.first_event);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = Latency::of(&samples);
        assert_eq!((l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms), (100, 50.0, 95.0, 99.0, 100.0));
        assert_eq!(Latency::of(&[]).p99_ms, 0.0);
        assert_eq!(Latency::of(&[Duration::from_millis(7)]).p50_ms, 7.0);
    }

    #[test]
    fn statuses_fall_into_kinds() {
        assert_eq!(status_kind(429), "429");
        assert_eq!(status_kind(503), "503");
        assert_eq!(status_kind(502), "5xx");
        assert_eq!(status_kind(400), "4xx");
    }
}
