//! Simulated patients under load: each session runs the project's own conversation cases
//! (booking, refill and discharge follow-up, from `workflows/conversations`) over HTTP against
//! the real model and the demo EHR, the way the widget does (server-sent events), at each
//! concurrency level in turn. A refused turn (429/503) is counted and resent after the server's
//! hint with the same Idempotency-Key, as the widget would.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use fhir_client::{EncounterId, PatientId};
use serde::Serialize;
use workflows::Lang;

use super::client::{Client, Posted};
use super::stats::{add_error, round2, Errors, Latency, Tally};
use crate::chat::{self, Opening};
use crate::state::AppState;

/// One conversation case as a patient plays it.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub patient: PatientId,
    pub lang: Option<Lang>,
    /// The follow-up's encounter when the agent starts the conversation (a discharge).
    pub discharge: Option<EncounterId>,
    pub says: Vec<String>,
}

/// The booking, refill and discharge cases whose fixture is a plain demo patient (no prepared
/// appointment, rival booking or stopped prescriptions), interleaved so consecutive
/// conversations of one session run different workflows. Discharge cases get the patient's
/// real recent discharge from the EHR; a patient without one drops the case.
pub async fn scenarios(dir: &Path, state: &AppState) -> anyhow::Result<Vec<Scenario>> {
    let cases = workflows::convtest::load_cases(dir).with_context(|| format!("reading the cases in {}", dir.display()))?;
    let mut by_kind: [Vec<Scenario>; 3] = Default::default();
    for case in cases {
        let stem = Path::new(&case.file).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let Some(kind) = ["book_", "refill_", "discharge_"].iter().position(|p| stem.starts_with(p)) else { continue };
        let Some(patient) = demo_patient(state, &case.fixture) else { continue };
        let discharge = match case.start.as_str() {
            "patient" => None,
            "discharge" => match latest_discharge(state, &patient).await {
                Some(e) => Some(e),
                None => continue,
            },
            _ => continue,
        };
        let says = case.turns.iter().map(|t| t.say.clone()).collect();
        by_kind[kind].push(Scenario { name: stem, patient, lang: case.lang, discharge, says });
    }
    let longest = by_kind.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..longest {
        out.extend(by_kind.iter().filter_map(|k| k.get(i).cloned()));
    }
    anyhow::ensure!(!out.is_empty(), "no usable conversation cases in {}", dir.display());
    Ok(out)
}

/// The demo patient a plain fixture names (`john`, `maria`, ...); none for fixtures with options.
fn demo_patient(state: &AppState, fixture: &str) -> Option<PatientId> {
    let first = if fixture == "default" { "john" } else { fixture };
    if first.contains('+') {
        return None;
    }
    let p = state.demo_patients.iter().find(|p| {
        p.name.split_whitespace().next().is_some_and(|n| n.to_lowercase().replace('í', "i") == first)
    })?;
    PatientId::parse(p.id.clone()).ok()
}

pub(super) async fn latest_discharge(state: &AppState, patient: &PatientId) -> Option<EncounterId> {
    let since = chrono::Utc::now() - chrono::Duration::days(60);
    let found = state.ehr.recent_discharges(patient, since).await.ok()?;
    found.into_iter().max_by_key(|d| d.discharged).map(|d| d.encounter)
}

/// The figures of one concurrency level.
#[derive(Clone, Debug, Serialize)]
pub struct LevelResult {
    pub sessions: usize,
    /// The round trip added to every EHR call (0: the demo EHR on this machine, no delay).
    pub ehr_rtt_ms: u64,
    pub turns_per_session: usize,
    pub turns: usize,
    pub conversations: usize,
    pub seconds: f64,
    pub turns_per_sec: f64,
    pub latency: Latency,
    /// Time to the first server-sent event of a turn (`progress`).
    pub first_event: Latency,
    pub errors: Errors,
    /// CPU time the level took: the whole machine's and the demo EHR's.
    pub cpu: CpuUse,
    /// What the service asked the EHR during the level.
    pub ehr_requests: EhrRequests,
}

/// Requests the service sent to the EHR in a level, and reads it needed no request of their
/// own for: an identical read was in flight and its answer served both (`shared_reads`), or
/// they waited for a place and went in a batch (`batched_reads`, in `batches` requests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct EhrRequests {
    pub sent: u64,
    pub shared_reads: u64,
    pub batches: u64,
    pub batched_reads: u64,
}

impl EhrRequests {
    fn between(before: Option<fhir_client::StatsSnapshot>, after: Option<fhir_client::StatsSnapshot>) -> Self {
        let (Some(b), Some(a)) = (before, after) else { return Self::default() };
        Self {
            sent: a.attempts - b.attempts,
            shared_reads: a.shared_reads - b.shared_reads,
            batches: a.batches - b.batches,
            batched_reads: a.batched_reads - b.batched_reads,
        }
    }
}

/// CPU seconds spent during a level, from /proc: the machine's busy time (every process: the
/// service, the bench's client, the demo EHR) and the demo EHR's share of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuUse {
    pub machine_seconds: f64,
    pub ehr_seconds: f64,
}

impl CpuUse {
    /// The least time a level needing this CPU can take on `cpus` cores: its machine CPU spread
    /// over every core, or its demo EHR's CPU on one (the demo EHR is one Python process).
    pub fn least_seconds(&self, cpus: usize) -> f64 {
        (self.machine_seconds / cpus.max(1) as f64).max(self.ehr_seconds)
    }
}

/// The conversations every level plays: the cases in order, cycled until there are at least
/// `conversations` of them. Every level plays the same ones, so levels differ only in how many
/// patients talk at once, not in what they say.
pub fn plan(scenarios: &[Scenario], conversations: usize) -> Vec<Scenario> {
    scenarios.iter().cycle().take(conversations.max(1)).cloned().collect()
}

/// Runs `sessions` simulated patients at once; each takes the next conversation of `plan` and
/// plays it whole, until none is left.
pub async fn level(state: &AppState, client: &Client, plan: &[Scenario], sessions: usize) -> anyhow::Result<LevelResult> {
    let mut tokens = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let mut mine = HashMap::new();
        for s in plan {
            if let std::collections::hash_map::Entry::Vacant(slot) = mine.entry(s.patient.as_str().to_owned()) {
                slot.insert(client.sign_in(s.patient.as_str()).await?);
            }
        }
        tokens.push(mine);
    }
    let queue = std::sync::Arc::new(std::sync::Mutex::new(plan.iter().cloned().rev().collect::<Vec<_>>()));
    let (engine_before, cpu_before, ehr_before) = (state.model.engine_stats(), cpu::Ticks::now(), state.metrics.ehr());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mine in tokens {
        let (state, client, queue) = (state.clone(), client.clone(), queue.clone());
        tasks.spawn(async move { session(&state, &client, &queue, &mine).await });
    }
    let (mut tally, mut conversations) = (Tally::default(), 0);
    while let Some(done) = tasks.join_next().await {
        let (t, c) = done.context("a simulated session panicked")?;
        tally.merge(t);
        conversations += c;
    }
    let seconds = started.elapsed().as_secs_f64();
    let done = tally.turns.len();
    let cpu_after = cpu::Ticks::now();
    if let (Some(before), Some(after)) = (engine_before, state.model.engine_stats()) {
        cpu::log_level(sessions, seconds, &before, &after, &cpu_before, &cpu_after);
    }
    Ok(LevelResult {
        sessions,
        ehr_rtt_ms: 0,
        turns_per_session: done.div_ceil(sessions.max(1)),
        turns: done,
        conversations,
        seconds: round2(seconds),
        turns_per_sec: round2(done as f64 / seconds.max(1e-9)),
        latency: Latency::of(&tally.turns),
        first_event: Latency::of(&tally.first_event),
        errors: tally.errors,
        cpu: cpu_after.since(&cpu_before),
        ehr_requests: EhrRequests::between(ehr_before, state.metrics.ehr()),
    })
}

/// One simulated patient: takes conversations from the shared queue and plays each whole.
/// Returns its samples and how many conversations it had.
async fn session(
    state: &AppState,
    client: &Client,
    queue: &std::sync::Mutex<Vec<Scenario>>,
    tokens: &HashMap<String, String>,
) -> (Tally, usize) {
    let (mut tally, mut conversations) = (Tally::default(), 0);
    loop {
        let Some(sc) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else { break };
        let token = &tokens[sc.patient.as_str()];
        let conv = match open(state, client, &sc, token).await {
            Ok(c) => c,
            Err(kind) => {
                add_error(&mut tally.errors, &kind);
                continue;
            }
        };
        conversations += 1;
        for say in &sc.says {
            if !turn(client, token, &conv, say, &mut tally).await {
                break;
            }
        }
    }
    (tally, conversations)
}

/// Where the time of a level went, logged with it (measurement only): the engine's work per
/// kind of job and queue wait, and CPU time by thread group of this process and of the machine.
mod cpu {
    use std::collections::BTreeMap;

    use inference::{EngineStats, Kind};

    /// CPU ticks (1/100 s): per thread-name group of this process, its child processes (the
    /// demo EHR), and the machine's busy total.
    pub struct Ticks {
        threads: BTreeMap<String, u64>,
        children: u64,
        machine: u64,
    }

    /// utime + stime of a `stat` line, and its parent pid.
    fn stat_ticks(stat: &str) -> Option<(String, u32, u64)> {
        let (_, rest) = stat.split_once(" (")?;
        let (name, rest) = rest.rsplit_once(") ")?;
        let f: Vec<&str> = rest.split(' ').collect();
        let ppid = f.get(1)?.parse().ok()?;
        let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some((name.to_owned(), ppid, ticks))
    }

    /// CPU ticks of every process descended from `me` (the demo EHR runs under a wrapper).
    fn descendants_ticks(me: u32) -> u64 {
        let procs: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|p| Some((p.file_name().to_str()?.parse::<u32>().ok()?, p.path())))
            .filter_map(|(pid, path)| std::fs::read_to_string(path.join("stat")).ok().and_then(|s| stat_ticks(&s)).map(|(_, pp, t)| (pid, pp, t)))
            .collect();
        let parent: std::collections::HashMap<u32, u32> = procs.iter().map(|&(pid, pp, _)| (pid, pp)).collect();
        let under_me = |mut pid: u32| {
            for _ in 0..16 {
                match parent.get(&pid) {
                    Some(&pp) if pp == me => return true,
                    Some(&pp) if pp > 1 => pid = pp,
                    _ => return false,
                }
            }
            false
        };
        procs.iter().filter(|&&(pid, _, _)| under_me(pid)).map(|&(_, _, t)| t).sum()
    }

    impl Ticks {
        pub fn now() -> Self {
            let mut threads = BTreeMap::new();
            for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
                let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
                let Some((name, _, ticks)) = stat_ticks(&stat) else { continue };
                let group = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-').to_owned();
                *threads.entry(group).or_default() += ticks;
            }
            let children = descendants_ticks(std::process::id());
            let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
            let cpu: Vec<u64> = stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
            // user nice system (idle iowait skipped) irq softirq steal
            let machine = cpu.iter().enumerate().filter(|(i, _)| ![3, 4].contains(i)).map(|(_, v)| v).take(6).sum();
            Self { threads, children, machine }
        }

        /// The machine's and the demo EHR's CPU seconds from `before` to this reading.
        pub fn since(&self, before: &Ticks) -> super::CpuUse {
            let secs = |a: u64, b: u64| super::round2(a.saturating_sub(b) as f64 / 100.0);
            super::CpuUse { machine_seconds: secs(self.machine, before.machine), ehr_seconds: secs(self.children, before.children) }
        }
    }

    pub fn log_level(sessions: usize, seconds: f64, a: &EngineStats, b: &EngineStats, ca: &Ticks, cb: &Ticks) {
        let ms = |n: u64| n as f64 / 1e6;
        let kind = |k: Kind| {
            let (x, y) = (a.kind(k), b.kind(k));
            format!("{}/{:.0}ms", y.jobs - x.jobs, ms(y.nanos - x.nanos))
        };
        let threads: Vec<String> = cb
            .threads
            .iter()
            .map(|(n, t)| (n, t - ca.threads.get(n).copied().unwrap_or(0)))
            .filter(|(_, t)| *t > 0)
            .map(|(n, t)| format!("{n}={:.2}s", t as f64 / 100.0))
            .collect();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        eprintln!(
            "LEVEL sessions={sessions} wall={seconds:.2}s engine_busy={:.0}ms wait_sum={:.0}ms generate={} choose={} extract={} embed={} embed_passes={} batched_steps={} gen_tok={} prompt_tok={} reused_tok={} machine_cpu={:.2}s ehr_cpu={:.2}s threads[{}] loadavg={}",
            ms(b.busy_nanos() - a.busy_nanos()),
            ms(b.wait_nanos - a.wait_nanos),
            kind(Kind::Generate),
            kind(Kind::Choose),
            kind(Kind::Extract),
            kind(Kind::Embed),
            b.embed_passes - a.embed_passes,
            b.batched_steps - a.batched_steps,
            b.generated_tokens - a.generated_tokens,
            b.prompt_tokens - a.prompt_tokens,
            b.reused_prompt_tokens - a.reused_prompt_tokens,
            (cb.machine - ca.machine) as f64 / 100.0,
            (cb.children - ca.children) as f64 / 100.0,
            threads.join(" "),
            load.trim(),
        );
    }
}

/// A patient opens the widget (over HTTP), or a discharge starts the follow-up (the event an
/// integration would post; opened in-process because it is once per encounter).
async fn open(state: &AppState, client: &Client, sc: &Scenario, token: &str) -> Result<String, String> {
    match &sc.discharge {
        None => client.start(token).await,
        Some(enc) => {
            let lang = sc.lang.unwrap_or_default();
            chat::open(state, &sc.patient, lang, Opening::Discharge(enc.clone()))
                .await
                .map(|t| t.conversation_id)
                .map_err(|e| super::stats::status_kind(e.status_code()))
        }
    }
}

/// Resends a refused turn this many times before the conversation is abandoned.
const RESENDS: usize = 3;
/// Longest wait honoured between resends (the server asks for 5 s when the model is full).
const MAX_WAIT: Duration = Duration::from_secs(5);

/// Posts one message (resending on 429/503); false when the conversation cannot go on.
async fn turn(client: &Client, token: &str, conv: &str, text: &str, tally: &mut Tally) -> bool {
    let key = uuid::Uuid::new_v4().to_string();
    for _ in 0..=RESENDS {
        match client.say(token, conv, text, &key).await {
            Posted::Turn { body, first_event, total } => {
                tally.turns.push(total);
                tally.first_event.push(first_event);
                if stalled(&body) {
                    add_error(&mut tally.errors, "deadline");
                }
                return true;
            }
            Posted::Failed { kind, retry } => {
                add_error(&mut tally.errors, &kind);
                match retry {
                    Some(wait) if kind == "503" || kind == "429" => tokio::time::sleep(wait.min(MAX_WAIT)).await,
                    _ => return false,
                }
            }
        }
    }
    false
}

/// The turn ran past `server.turn_deadline_ms` and was handed to a person.
fn stalled(body: &serde_json::Value) -> bool {
    let texts = body["replies"].as_array().into_iter().flatten().filter_map(|r| r["text"].as_str());
    texts.into_iter().any(|t| chat::STALLED_REPLIES.contains(&t))
}

#[cfg(test)]
mod tests {
    use super::stalled;

    #[test]
    fn a_turn_handed_over_for_its_deadline_is_told_apart() {
        let late = serde_json::json!({"replies": [{"text": crate::chat::STALLED_REPLIES[1]}]});
        let fine = serde_json::json!({"replies": [{"text": "Which day suits you?"}]});
        assert!(stalled(&late));
        assert!(!stalled(&fine));
    }
}
