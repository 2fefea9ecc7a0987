//! `agent bench model`: our engine against llama.cpp on the same GGUF, thread count and token
//! ids, measured in one run with the two alternating round by round, so every speed figure is
//! a ratio taken under the same machine load. Prefill (64 and 512 tokens), decode (128
//! tokens), time to first token with and without the cached system prompt, batched decode at
//! B = 1, 4, 16 (the peer decodes its B sequences in one llama_decode per step), embeddings at
//! batch 1 and 32 (the peer on a GGUF converted from our safetensors, with the cosine of both
//! sides' vectors reported), this machine's read bandwidth and each decode figure as a share of
//! the ceiling it implies; `choose` / `extract` / masking through the public API. Prints a
//! table; writes JSON when asked. Where the peer cannot give a figure the report says why.

mod embed;
mod peer;
mod raw;
mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::engine::chat::ChatModel;
use crate::{CandleModel, LanguageModel, Message, ModelConfig, ModelPaths, Prompt, Result, Role};
pub use report::{BenchReport, Figure};

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    pub rounds: usize,
    /// Python of a venv with llama-cpp-python (`models/bench-peer` makes one); `None` runs
    /// our side only.
    pub peer_python: Option<PathBuf>,
}

const LONG_TEXT: &str = "The patient was discharged on Monday after an uncomplicated knee replacement. \
    She should keep the wound dry, walk three times a day with the frame, take the prescribed \
    pain relief with food, and call the ward if the calf swells, the wound leaks, or a fever \
    above thirty-eight degrees appears. Her follow-up visit with the orthopaedic surgeon is in \
    two weeks; the physiotherapist will phone to arrange exercises at home. ";

fn tokens_of(chat: &ChatModel, n: usize) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut round = 0;
    while out.len() < n {
        out.extend(chat.tokenizer.encode(&format!("Note {round}. {LONG_TEXT}"))?);
        round += 1;
    }
    out.truncate(n);
    Ok(out)
}

fn system_and_user(chat: &ChatModel) -> Result<(Vec<u32>, Vec<u32>)> {
    let messages = [
        // A realistic system prompt (role, rules, the facts of the case) runs to a few hundred
        // tokens; it is what the prefix cache saves.
        Message {
            role: Role::System,
            content: format!("You are the patient-communication assistant of a hospital. Rules: {LONG_TEXT} Case: {LONG_TEXT} Discharge letter: {LONG_TEXT}"),
        },
        Message { role: Role::User, content: "Can I move my follow-up visit to next week?".into() },
    ];
    let (tokens, system_end) = chat.render(&messages, true)?;
    Ok((tokens[..system_end].to_vec(), tokens[system_end..].to_vec()))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Runs the whole benchmark. Blocking (seconds to minutes): call from a blocking context.
pub fn run(model: &CandleModel, config: &ModelConfig, paths: &ModelPaths, options: &BenchOptions) -> Result<BenchReport> {
    let threads = crate::engine::resolve_threads(config.threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| crate::Error::Model(e.to_string()))?;
    let chat = ChatModel::load(&paths.chat_gguf, config.device)?;
    let mut peer = match &options.peer_python {
        Some(python) => Some(peer::Peer::start(python, &paths.chat_gguf, threads, 2048)?),
        None => None,
    };
    let mut r = BenchReport::new(paths, threads, chat.weight_bytes(), peer.as_ref().map(|p| p.version.clone()));
    r.device = config.device.to_string();
    if r.decode_ceiling(1).is_none() {
        r.check(format!("ceiling: none on {} (the read bandwidth measured is the host memory's)", r.device));
    }
    let rounds = options.rounds.max(1);
    r.bandwidth_bytes_s = pool.install(|| raw::memory_bandwidth(512 << 20));
    let (p64, p512, dprompt) = (tokens_of(&chat, 64)?, tokens_of(&chat, 512)?, tokens_of(&chat, 48)?);
    let (system, user) = system_and_user(&chat)?;
    let mut ours: [Vec<Duration>; 6] = Default::default();
    let mut theirs: [Vec<Duration>; 6] = Default::default();
    for _ in 0..rounds {
        pool.install(|| -> Result<()> {
            ours[0].push(raw::prefill(&chat, &p64)?);
            ours[1].push(raw::prefill(&chat, &p512)?);
            ours[2].push(raw::decode(&chat, &dprompt, 128)?);
            let mut all = system.clone();
            all.extend(&user);
            ours[3].push(raw::prefill(&chat, &all)?);
            let mut cached = chat.new_sequence();
            cached.feed(&system, &chat)?;
            // As the engine's prefix cache keeps it: shared, so a hit copies nothing.
            cached.freeze();
            let start = Instant::now();
            cached.clone().feed(&user, &chat)?;
            ours[4].push(start.elapsed());
            Ok(())
        })?;
        if let Some(p) = peer.as_mut() {
            theirs[0].push(p.prefill(&p64)?);
            theirs[1].push(p.prefill(&p512)?);
            theirs[2].push(p.decode(&dprompt, 128)?);
            theirs[3].push(p.ttft(&system, &user, false)?);
            theirs[4].push(p.ttft(&system, &user, true)?);
        }
    }
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let [o0, o1, o2, o3, o4, _] = ours.map(median);
    let [t0, t1, t2, t3, t4, _] = theirs.map(|v| (!v.is_empty()).then(|| median(v)));
    r.push(Figure::rate("prefill 64 tok", "tok/s", rate(64, o0), t0.map(|t| rate(64, t))));
    r.push(Figure::rate("prefill 512 tok", "tok/s", rate(512, o1), t1.map(|t| rate(512, t))));
    r.push(Figure::rate("decode 128 tok", "tok/s", rate(128, o2), t2.map(|t| rate(128, t))).with_ceiling(r.decode_ceiling(1)));
    r.push(Figure::time(&format!("TTFT cold ({} tok)", system.len() + user.len()), o3, t3));
    r.push(Figure::time(&format!("TTFT system prompt cached ({} tok)", user.len()), o4, t4));
    batched(&chat, &pool, peer.as_mut(), &mut r, rounds)?;
    embed::figures(model, peer.as_mut(), paths, &mut r, rounds)?;
    drop(peer);
    api_figures(model, &mut r, rounds)?;
    Ok(r)
}

/// Aggregate decode speed with B sequences fed together, ours and the peer's alternating.
fn batched(chat: &ChatModel, pool: &rayon::ThreadPool, mut peer: Option<&mut peer::Peer>, r: &mut BenchReport, rounds: usize) -> Result<()> {
    let steps = 32;
    for b in [1usize, 4, 16] {
        let prompts: Vec<Vec<u32>> = (0..b)
            .map(|i| chat.tokenizer.encode(&format!("Patient {i} asks: when is my next appointment?")))
            .collect::<Result<_>>()?;
        let (mut ours, mut theirs, mut paths) = (Vec::new(), Vec::new(), None);
        for _ in 0..rounds {
            let (time, first) = pool.install(|| raw::batched_decode(chat, &prompts, steps))?;
            ours.push(time);
            match peer.as_deref_mut().map(|p| p.batched_decode(&prompts, steps)) {
                Some(Ok(t)) => {
                    theirs.push(t.seconds);
                    paths = Some((first, t.first));
                }
                Some(Err(e)) => {
                    r.check(format!("llama.cpp batched decode B={b} not measured: {e}"));
                    (peer, theirs) = (None, Vec::new());
                }
                None => {}
            }
        }
        let rate = |d: Duration| (b * steps) as f64 / d.as_secs_f64().max(1e-9);
        let peer_rate = (!theirs.is_empty()).then(|| rate(median(theirs)));
        r.push(Figure::rate(&format!("batched decode B={b} (aggregate)"), "tok/s", rate(median(ours)), peer_rate).with_ceiling(r.decode_ceiling(b)));
        if let Some((ours, theirs)) = paths {
            r.check(format!("batched decode B={b}: sequence 0's greedy tokens agree for the first {} of {steps} steps", same_prefix(&ours, &theirs)));
        }
    }
    Ok(())
}

/// How many leading tokens two greedy runs share (quantized kernels differ in rounding, so
/// two engines may part ways late in a run; early divergence means different inputs).
fn same_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Through the public API, as the service sees it.
fn api_figures(model: &CandleModel, r: &mut BenchReport, rounds: usize) -> Result<()> {
    let prompt = |i: usize| Prompt {
        messages: vec![
            Message { role: Role::System, content: format!("Round {i}. You route patient requests.") },
            Message { role: Role::User, content: "I need more of my blood pressure pills".into() },
        ],
        session: None,
    };
    let schema = serde_json::json!({"type": "object", "properties": {
        "intent": {"enum": ["book", "cancel", "refill", "other"]},
        "urgent": {"type": "boolean"}}, "required": ["intent", "urgent"]});
    let before = model.stats();
    let (mut choose, mut extract) = (vec![], vec![]);
    // The engine's futures need no runtime (channels only): block this thread on them.
    futures::executor::block_on(async {
        for i in 0..rounds {
            let t = Instant::now();
            let options = ["book an appointment", "cancel an appointment", "refill a prescription"];
            model.choose(prompt(i), options.map(String::from).to_vec()).await?;
            choose.push(t.elapsed());
            let t = Instant::now();
            model.extract(prompt(i), schema.clone()).await?;
            extract.push(t.elapsed());
        }
        Ok::<_, crate::Error>(())
    })?;
    let stats = model.stats();
    let steps = (stats.mask_steps - before.mask_steps).max(1);
    r.push(Figure::time("choose (3 options, API)", median(choose), None));
    r.push(Figure::time("extract (small schema, API)", median(extract), None));
    r.push(Figure::time("mask per constrained token", Duration::from_nanos((stats.mask_nanos - before.mask_nanos) / steps), None));
    // The slowest step since the model was loaded (the bench's extractions are all it ran):
    // an upper bound of the p99 the target names.
    r.push(Figure::time("mask per constrained token, slowest", Duration::from_nanos(stats.mask_max_nanos), None));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::same_prefix;

    #[test]
    fn greedy_paths_agree_up_to_their_first_difference() {
        assert_eq!(same_prefix(&[1, 2, 3, 4], &[1, 2, 9, 4]), 2);
        assert_eq!(same_prefix(&[1, 2], &[1, 2, 3]), 2);
        assert_eq!(same_prefix(&[], &[1]), 0);
    }
}
