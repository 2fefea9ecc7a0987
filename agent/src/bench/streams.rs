//! Many streams held at once: idle patient event streams (a widget left open, waiting for a
//! person who may take over) plus active ones (patients posting turns over server-sent events),
//! with the process's memory and open files, and whether the active turns keep their latency.
//! The bench client and the server share this process, so both figures count both ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;

use super::client::Client;
use super::modelfree::{answer_all, open_followups, Discharged};
use super::stats::{round2, Errors, Latency, Tally};
use crate::state::AppState;

#[derive(Clone, Debug, Serialize)]
pub struct StreamsResult {
    pub idle_requested: usize,
    /// Idle streams actually open while the active turns ran.
    pub idle_open: usize,
    /// Idle streams that ended by themselves before the bench closed them (should be 0).
    pub idle_closed_early: usize,
    pub active: usize,
    pub active_turns: usize,
    pub turns_per_sec: f64,
    pub latency: Latency,
    pub first_event: Latency,
    pub errors: Errors,
    /// The same active turns with no idle stream open (run first): what "still meets latency"
    /// is compared with.
    pub baseline_turns_per_sec: f64,
    pub baseline_latency: Latency,
    /// The soft RLIMIT_NOFILE after the bench raised it to the hard limit.
    pub fd_limit: u64,
    pub open_fds_with_streams: usize,
    pub rss_mb_before: f64,
    pub rss_mb_with_idle: f64,
    pub rss_mb_end: f64,
}

/// Active patients each answer this many follow-ups (four model-free turns each).
const ROUNDS_PER_ACTIVE: usize = 5;

pub async fn run(state: &AppState, base_url: &str, who: &Discharged, idle: usize, active: usize) -> anyhow::Result<StreamsResult> {
    anyhow::ensure!(!who.is_empty(), "no demo patient has a recent discharge");
    let fd_limit = raise_fd_limit();
    // Two descriptors per stream (both ends live here) and room for the rest of the process.
    let room = (fd_limit as usize).saturating_sub(2 * active + 512) / 2;
    let idle_target = idle.min(room);
    let client = Client::new(base_url);
    // One conversation per discharged patient, in `who` order (the workers index tokens by it).
    let mut convs = open_followups(state, who, who.len()).await?;
    convs.sort();
    let mut tokens = Vec::new();
    for (i, c) in convs {
        tokens.push((who[i].0.clone(), client.sign_in(who[i].0.as_str()).await?, c));
    }
    let signed: Vec<_> = tokens.iter().map(|(p, t, _)| (p.clone(), t.clone())).collect();
    let (baseline_turns_per_sec, baseline) = active_turns(state, &client, who, &signed, active).await?;
    let rss_mb_before = rss_mb();
    let closed = Arc::new(AtomicUsize::new(0));
    let opened = futures::stream::iter(0..idle_target)
        .map(|i| {
            let (client, (_, token, conv)) = (client.clone(), tokens[i % tokens.len()].clone());
            async move { client.events(&token, &conv).await }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    let mut holders = tokio::task::JoinSet::new();
    for mut r in opened.into_iter().flatten() {
        let closed = closed.clone();
        holders.spawn(async move {
            while let Ok(Some(_)) = r.chunk().await {}
            closed.fetch_add(1, Ordering::SeqCst);
        });
    }
    let idle_open = holders.len();
    let rss_mb_with_idle = rss_mb();
    let open_fds_with_streams = open_fds();
    let (turns_per_sec, tally) = active_turns(state, &client, who, &signed, active).await?;
    let idle_closed_early = closed.load(Ordering::SeqCst);
    let rss_mb_end = rss_mb();
    holders.abort_all();
    Ok(StreamsResult {
        idle_requested: idle,
        idle_open,
        idle_closed_early,
        active,
        active_turns: tally.turns.len(),
        turns_per_sec,
        latency: Latency::of(&tally.turns),
        first_event: Latency::of(&tally.first_event),
        errors: tally.errors,
        baseline_turns_per_sec,
        baseline_latency: Latency::of(&baseline.turns),
        fd_limit,
        open_fds_with_streams,
        rss_mb_before,
        rss_mb_with_idle,
        rss_mb_end,
    })
}

/// `active` patients answering follow-ups over event streams at once; turns/s and samples.
async fn active_turns(
    state: &AppState,
    client: &Client,
    who: &Discharged,
    signed: &[(fhir_client::PatientId, String)],
    active: usize,
) -> anyhow::Result<(f64, Tally)> {
    let convs = open_followups(state, who, active * ROUNDS_PER_ACTIVE).await?;
    let started = Instant::now();
    let tally = answer_all(state, client, signed, convs, active, true).await?;
    let rate = round2(tally.turns.len() as f64 / started.elapsed().as_secs_f64().max(1e-9));
    Ok((rate, tally))
}

/// Raises the soft open-files limit to the hard one (a default soft limit of 1,024 cannot hold
/// a thousand streams with both ends in this process); returns the soft limit now in force.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            lim = want;
        }
    }
    lim.rlim_cur
}

/// This process's resident memory in MiB (0 where /proc is missing).
pub fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    round2(kb / 1024.0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}
