//! The load report: the machine and the conditions of the run, each phase's figures, and the
//! issue's targets with whether they were met; printed as tables, or written as JSON.

use std::fmt;

use serde::Serialize;

use super::load::LevelResult;
use super::modelfree::ModelFreeResult;
use super::service::BENCH_LIMIT;
use super::streams::StreamsResult;
use super::LoadOptions;
use crate::config::Settings;

#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    pub machine: Machine,
    pub conditions: Conditions,
    pub load: Vec<LevelResult>,
    pub model_free: Vec<ModelFreeResult>,
    pub streams: StreamsResult,
    pub targets: Vec<Target>,
    /// Per EHR round trip: the most the "sessions vs 1" ratio could be on this machine, given
    /// the CPU the busiest level used (see `RatioCeiling`).
    pub ratio_ceilings: Vec<RatioCeiling>,
}

/// The one-patient level's time over the least time the busiest level's CPU allows (its
/// machine CPU spread over every core, or its demo EHR's CPU on one core, whichever is more):
/// no service, however fast, gets the ratio above this while that CPU is spent on this machine.
#[derive(Clone, Debug, Serialize)]
pub struct RatioCeiling {
    pub ehr_rtt_ms: u64,
    pub sessions: usize,
    pub one_patient_seconds: f64,
    pub least_seconds: f64,
    pub ceiling: f64,
}

/// The EHR round trips the levels ran with, in order.
fn rtts(load: &[LevelResult]) -> Vec<u64> {
    let mut rtts: Vec<u64> = load.iter().map(|l| l.ehr_rtt_ms).collect();
    rtts.dedup();
    rtts
}

/// The one-patient level and the busiest level of one EHR round trip, when both ran.
fn one_and_top(load: &[LevelResult], rtt: u64) -> Option<(&LevelResult, &LevelResult)> {
    let levels = || load.iter().filter(move |l| l.ehr_rtt_ms == rtt);
    let one = levels().find(|l| l.sessions == 1)?;
    let top = levels().max_by_key(|l| l.sessions).filter(|l| l.sessions > 1)?;
    Some((one, top))
}

fn ratio_ceilings(load: &[LevelResult], cpus: usize) -> Vec<RatioCeiling> {
    let mut out = Vec::new();
    for rtt in rtts(load) {
        let Some((one, top)) = one_and_top(load, rtt) else { continue };
        let least = top.cpu.least_seconds(cpus);
        if least <= 0.0 {
            continue;
        }
        out.push(RatioCeiling {
            ehr_rtt_ms: rtt,
            sessions: top.sessions,
            one_patient_seconds: one.seconds,
            least_seconds: super::stats::round2(least),
            ceiling: super::stats::round2(one.seconds / least),
        });
    }
    out
}

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    /// /proc/loadavg when the run started (1, 5, 15 minutes): other work on the machine.
    pub load_average_at_start: [f64; 3],
    /// "release" or "debug" (dependencies are optimised in both; see the root Cargo.toml).
    pub build: String,
}

impl Machine {
    pub fn now(_settings: &Settings) -> Self {
        let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let mut avg = [0.0; 3];
        for (slot, v) in avg.iter_mut().zip(text.split_whitespace()) {
            *slot = v.parse().unwrap_or(0.0);
        }
        Self {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            load_average_at_start: avg,
            build: if cfg!(debug_assertions) { "debug" } else { "release" }.into(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Conditions {
    /// The bench's rate limits (per session and per address, per minute and burst).
    pub rate_limit_per_minute: u32,
    pub model_threads: usize,
    pub model_queue_capacity: usize,
    pub model_embed_queue_capacity: usize,
    pub turn_deadline_ms: u64,
    pub turns_per_session: usize,
    pub modelfree_concurrency: Vec<usize>,
    /// The conversation cases the simulated patients play, in order.
    pub scenarios: Vec<String>,
}

/// One of the targets.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub name: String,
    pub value: f64,
    pub target: String,
    pub met: bool,
}

impl LoadReport {
    pub fn new(
        machine: Machine,
        settings: &Settings,
        o: &LoadOptions,
        scenarios: Vec<String>,
        load: Vec<LevelResult>,
        model_free: Vec<ModelFreeResult>,
        streams: StreamsResult,
    ) -> Self {
        let conditions = Conditions {
            rate_limit_per_minute: BENCH_LIMIT,
            model_threads: settings.model.threads,
            model_queue_capacity: settings.model.queue_capacity,
            model_embed_queue_capacity: settings.model.embed_queue_capacity,
            turn_deadline_ms: settings.server.turn_deadline_ms,
            turns_per_session: o.turns,
            modelfree_concurrency: o.modelfree_concurrency.clone(),
            scenarios,
        };
        let targets = targets(&load, &model_free);
        let ratio_ceilings = ratio_ceilings(&load, machine.cpus);
        Self { machine, conditions, load, model_free, streams, targets, ratio_ceilings }
    }
}

fn target(name: String, value: f64, target: &str, met: bool) -> Target {
    Target { name, value, target: target.into(), met }
}

fn targets(load: &[LevelResult], model_free: &[ModelFreeResult]) -> Vec<Target> {
    let mut out = Vec::new();
    for rtt in rtts(load) {
        let ehr = if rtt == 0 { String::new() } else { format!(", EHR +{rtt} ms") };
        if let Some((one, top)) = one_and_top(load, rtt) {
            let ratio = super::stats::round2(top.turns_per_sec / one.turns_per_sec.max(1e-9));
            out.push(target(format!("turns/s at {} sessions vs 1{ehr}", top.sessions), ratio, ">= 3x", ratio >= 3.0));
        }
        if let Some(l) = load.iter().find(|l| l.ehr_rtt_ms == rtt && l.sessions == 16) {
            let p95 = l.latency.p95_ms;
            out.push(target(format!("p95 turn latency at 16 sessions (ms){ehr}"), p95, "<= 1000", p95 <= 1000.0));
        }
    }
    for m in model_free {
        let name = format!("model-free {} {} x{}", m.backend, m.level, m.concurrency);
        // One turn at a time, turns/s is 1 / latency (each waits for its own durable commit):
        // the throughput target is for turns in flight together; the latency target for all.
        if m.concurrency > 1 {
            out.push(target(format!("{name} turns/s"), m.turns_per_sec, ">= 2000", m.turns_per_sec >= 2000.0));
        }
        out.push(target(format!("{name} p99 (ms)"), m.latency.p99_ms, "< 20", m.latency.p99_ms < 20.0));
    }
    out
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.machine;
        let c = &self.conditions;
        let [a, b, d] = m.load_average_at_start;
        writeln!(f, "machine: {} cpus, load average at start {a:.2} {b:.2} {d:.2}, {} build", m.cpus, m.build)?;
        writeln!(
            f,
            "conditions: rate limits raised to {}/min (bench only), model threads {}, model queue {} (embeddings {}), turn deadline {} ms",
            c.rate_limit_per_minute, c.model_threads, c.model_queue_capacity, c.model_embed_queue_capacity, c.turn_deadline_ms
        )?;
        writeln!(f, "\nsimulated patients (real model, demo EHR, HTTP + SSE), the same whole conversations at every level")?;
        writeln!(f, "EHR rtt: the round trip added to each EHR call (0: the demo EHR on this machine, no delay)")?;
        writeln!(f, "cpu s: the machine's CPU time in the level (service, client, demo EHR); EHR cpu s: the demo EHR's share")?;
        writeln!(f, "EHR req: requests sent to the EHR; shared: reads answered by an identical one in flight; batched: reads sent in a batch")?;
        writeln!(
            f,
            "{:>7} {:>8} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9} {:>10} {:>10} {:>6} {:>10} {:>7} {:>6} {:>7}  errors",
            "EHR rtt", "sessions", "turns", "seconds", "turns/s", "p50 ms", "p95 ms", "p99 ms", "1st ev p50", "1st ev p99", "cpu s", "EHR cpu s",
            "EHR req", "shared", "batched"
        )?;
        for l in &self.load {
            writeln!(
                f,
                "{:>7} {:>8} {:>6} {:>8.1} {:>8.2} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>10.1} {:>6.2} {:>10.2} {:>7} {:>6} {:>7}  {}",
                l.ehr_rtt_ms, l.sessions, l.turns, l.seconds, l.turns_per_sec, l.latency.p50_ms, l.latency.p95_ms, l.latency.p99_ms,
                l.first_event.p50_ms, l.first_event.p99_ms, l.cpu.machine_seconds, l.cpu.ehr_seconds, l.ehr_requests.sent,
                l.ehr_requests.shared_reads, l.ehr_requests.batched_reads, errors(&l.errors)
            )?;
        }
        writeln!(f, "\nmodel-free turns (rules answer; audit committed)")?;
        writeln!(f, "{:>9} {:>9} {:>7} {:>6} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}  errors", "backend", "level", "at once", "turns", "seconds", "turns/s", "p50 ms", "p95 ms", "p99 ms", "writes/tx")?;
        for r in &self.model_free {
            writeln!(
                f,
                "{:>9} {:>9} {:>7} {:>6} {:>8.2} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.1}  {}",
                r.backend, r.level, r.concurrency, r.turns, r.seconds, r.turns_per_sec, r.latency.p50_ms, r.latency.p95_ms, r.latency.p99_ms,
                r.writes_per_transaction, errors(&r.errors)
            )?;
        }
        let s = &self.streams;
        writeln!(f, "\nstreams held: {} idle open ({} asked, {} ended early), {} active", s.idle_open, s.idle_requested, s.idle_closed_early, s.active)?;
        writeln!(
            f,
            "  active turns {} at {:.1}/s: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms; first event p99 {:.1} ms; errors {}",
            s.active_turns, s.turns_per_sec, s.latency.p50_ms, s.latency.p95_ms, s.latency.p99_ms, s.first_event.p99_ms, errors(&s.errors)
        )?;
        writeln!(
            f,
            "  the same with no idle stream: {:.1}/s: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            s.baseline_turns_per_sec, s.baseline_latency.p50_ms, s.baseline_latency.p95_ms, s.baseline_latency.p99_ms
        )?;
        writeln!(
            f,
            "  memory (client and server in one process): {:.0} MiB before, {:.0} MiB with idle streams, {:.0} MiB at end; {} open files (limit {})",
            s.rss_mb_before, s.rss_mb_with_idle, s.rss_mb_end, s.open_fds_with_streams, s.fd_limit
        )?;
        writeln!(f, "\ntargets")?;
        for t in &self.targets {
            writeln!(f, "  {:<4} {:<58} {:>10.2}  (target {})", if t.met { "met" } else { "MISS" }, t.name, t.value, t.target)?;
        }
        for c in &self.ratio_ceilings {
            writeln!(
                f,
                "  CPU ceiling of {} sessions vs 1, EHR +{} ms: {:.2} (1 patient took {:.2} s; the CPU {} sessions used needs at least {:.2} s on {} cpus)",
                c.sessions, c.ehr_rtt_ms, c.ceiling, c.one_patient_seconds, c.sessions, c.least_seconds, self.machine.cpus
            )?;
        }
        Ok(())
    }
}

fn errors(e: &super::stats::Errors) -> String {
    if e.is_empty() {
        return "none".into();
    }
    e.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::Latency;

    fn level(sessions: usize, turns_per_sec: f64, p95_ms: f64) -> LevelResult {
        LevelResult {
            sessions,
            ehr_rtt_ms: 0,
            turns_per_session: 1,
            turns: sessions,
            conversations: sessions,
            seconds: 1.0,
            turns_per_sec,
            latency: Latency { p95_ms, ..Latency::default() },
            first_event: Latency::default(),
            errors: Default::default(),
            cpu: Default::default(),
            ehr_requests: Default::default(),
        }
    }

    #[test]
    fn targets_compare_the_top_level_with_one_patient_and_read_p95_at_16() {
        let load = [level(1, 10.0, 100.0), level(16, 25.0, 1200.0), level(64, 31.0, 3000.0)];
        let t = targets(&load, &[]);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].name.as_str(), t[0].value, t[0].met), ("turns/s at 64 sessions vs 1", 3.1, true));
        assert_eq!((t[1].value, t[1].met), (1200.0, false));
    }

    #[test]
    fn each_ehr_round_trip_gets_its_own_targets() {
        let delayed = |l: LevelResult| LevelResult { ehr_rtt_ms: 20, ..l };
        let load = [level(1, 100.0, 10.0), level(16, 120.0, 90.0), delayed(level(1, 20.0, 60.0)), delayed(level(16, 90.0, 400.0))];
        let got: Vec<(String, f64, bool)> = targets(&load, &[]).into_iter().map(|t| (t.name, t.value, t.met)).collect();
        assert_eq!(
            got,
            [
                ("turns/s at 16 sessions vs 1".to_string(), 1.2, false),
                ("p95 turn latency at 16 sessions (ms)".to_string(), 90.0, true),
                ("turns/s at 16 sessions vs 1, EHR +20 ms".to_string(), 4.5, true),
                ("p95 turn latency at 16 sessions (ms), EHR +20 ms".to_string(), 400.0, true),
            ]
        );
    }

    #[test]
    fn model_free_throughput_is_held_to_the_target_only_with_turns_in_flight_together() {
        let row = |concurrency, turns_per_sec, p99_ms| ModelFreeResult {
            backend: "sqlite".into(),
            level: "store".into(),
            concurrency,
            turns: 100,
            seconds: 1.0,
            turns_per_sec,
            latency: Latency { p99_ms, ..Latency::default() },
            errors: Default::default(),
            writes_per_transaction: 1.0,
        };
        let t = targets(&[], &[row(1, 900.0, 5.0), row(16, 2500.0, 25.0)]);
        let got: Vec<(&str, bool)> = t.iter().map(|t| (t.name.as_str(), t.met)).collect();
        assert_eq!(
            got,
            [
                ("model-free sqlite store x1 p99 (ms)", true),
                ("model-free sqlite store x16 turns/s", true),
                ("model-free sqlite store x16 p99 (ms)", false),
            ]
        );
    }

    #[test]
    fn the_ratio_ceiling_is_bound_by_all_cores_or_the_ehr_core_whichever_is_later() {
        use crate::bench::load::CpuUse;
        let with_cpu = |l: LevelResult, machine_seconds, ehr_seconds, seconds| LevelResult { cpu: CpuUse { machine_seconds, ehr_seconds }, seconds, ..l };
        // The top level's 3 s of machine CPU need 1.5 s on 2 cores; its EHR's 2 s need 2 s.
        let load = [with_cpu(level(1, 10.0, 1.0), 1.5, 1.0, 4.0), with_cpu(level(64, 20.0, 1.0), 3.0, 2.0, 2.5)];
        let c = ratio_ceilings(&load, 2);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].sessions, c[0].least_seconds, c[0].ceiling), (64, 2.0, 2.0));
        // Where the machine's CPU binds instead.
        let load = [load[0].clone(), with_cpu(level(64, 20.0, 1.0), 6.0, 2.0, 3.2)];
        assert_eq!(ratio_ceilings(&load, 2)[0].ceiling, 1.33);
        // No CPU reading (not Linux): no ceiling rather than a division by zero.
        assert!(ratio_ceilings(&[level(1, 1.0, 1.0), level(4, 2.0, 1.0)], 2).is_empty());
    }

    #[test]
    fn no_ratio_without_a_one_patient_level() {
        assert!(targets(&[level(4, 10.0, 1.0), level(8, 20.0, 1.0)], &[]).is_empty());
    }
}
