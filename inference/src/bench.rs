//! A small benchmark of a loaded [`CandleModel`] through its public API (what the service
//! sees): prefill and decode speed, `choose` / `extract` latency, embedding latency. Wired as
//! `agent bench model`; the llama.cpp comparison lives outside the product.

use std::fmt;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::{CandleModel, GenerateParams, LanguageModel, Message, Prompt, Result, Role};

/// Timings of one benchmark run (medians of `rounds`).
#[derive(Clone, Debug, Default)]
pub struct BenchReport {
    pub rounds: usize,
    pub prompt_tokens: u64,
    /// Prompt tokens per second until the first generated piece (cold: no prefix reuse).
    pub prefill_tok_s: f64,
    /// Generated tokens per second after the first.
    pub decode_tok_s: f64,
    /// Same prompt again: the system prompt comes from the prefix cache.
    pub warm_first_piece: Duration,
    pub choose: Duration,
    pub extract: Duration,
    /// Mean time to choose an allowed token per constrained step (the mask).
    pub mask_per_token: Duration,
    pub embed_one: Duration,
    pub embed_six: Duration,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rounds                 {}", self.rounds)?;
        writeln!(f, "prompt tokens          {}", self.prompt_tokens)?;
        writeln!(f, "prefill (cold)         {:.1} tok/s", self.prefill_tok_s)?;
        writeln!(f, "decode                 {:.1} tok/s", self.decode_tok_s)?;
        writeln!(f, "first piece (warm)     {:?}", self.warm_first_piece)?;
        writeln!(f, "choose (3 options)     {:?}", self.choose)?;
        writeln!(f, "extract (small schema) {:?}", self.extract)?;
        writeln!(f, "mask per extract token {:?}", self.mask_per_token)?;
        writeln!(f, "embed 1 sentence       {:?}", self.embed_one)?;
        write!(f, "embed 6 sentences      {:?}", self.embed_six)
    }
}

fn bench_prompt(round: usize) -> Prompt {
    // A distinct system prompt per round keeps the prefill measurement cold.
    let system = format!(
        "Round {round}. You are the patient-communication assistant of a hospital. You help \
         patients book, reschedule or cancel appointments, request prescription refills and \
         answer questions after discharge. Be brief, kind and factual; never give medical advice."
    );
    Prompt {
        messages: vec![
            Message { role: Role::System, content: system },
            Message {
                role: Role::User,
                content: "Hello, I was discharged last week after my knee surgery and I would like \
                          to know how to prepare for my follow-up visit. Please write a long answer."
                    .into(),
            },
        ],
        session: None,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn median_d(v: Vec<Duration>) -> Duration {
    Duration::from_secs_f64(median(v.into_iter().map(|d| d.as_secs_f64()).collect()))
}

/// Times one generation: (prompt tokens, time to first piece, decode tokens/s).
async fn time_generate(model: &CandleModel, prompt: Prompt) -> Result<(u64, Duration, f64)> {
    let before = model.stats();
    let params = GenerateParams { max_tokens: 64, ..Default::default() };
    let start = Instant::now();
    let mut stream = model.generate(prompt, params).await?;
    let mut first = None;
    while let Some(piece) = stream.next().await {
        piece?;
        first.get_or_insert_with(|| start.elapsed());
    }
    let total = start.elapsed();
    let after = model.stats();
    let first = first.unwrap_or(total);
    let generated = after.generated_tokens - before.generated_tokens;
    let decode = generated.saturating_sub(1) as f64 / (total - first).as_secs_f64().max(1e-9);
    Ok((after.prompt_tokens - before.prompt_tokens, first, decode))
}

/// Runs `rounds` rounds (at least 1) and reports medians.
pub async fn run(model: &CandleModel, rounds: usize) -> Result<BenchReport> {
    let rounds = rounds.max(1);
    let (mut prefill, mut decode, mut warm, mut choose, mut extract, mut one, mut six) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut prompt_tokens = 0;
    let schema = serde_json::json!({"type": "object", "properties": {
        "intent": {"enum": ["book", "cancel", "refill", "other"]},
        "urgent": {"type": "boolean"}}, "required": ["intent", "urgent"]});
    let sentences: Vec<String> = (0..6).map(|i| format!("I would like to change appointment number {i}.")).collect();
    let stats_before = model.stats();
    for round in 0..rounds {
        let (tokens, first, tok_s) = time_generate(model, bench_prompt(round)).await?;
        prompt_tokens = tokens;
        prefill.push(tokens as f64 / first.as_secs_f64().max(1e-9));
        decode.push(tok_s);
        warm.push(time_generate(model, bench_prompt(round)).await?.1);
        let t = Instant::now();
        let options = ["book an appointment", "cancel an appointment", "refill a prescription"];
        model.choose(bench_prompt(round), options.map(String::from).to_vec()).await?;
        choose.push(t.elapsed());
        let t = Instant::now();
        model.extract(bench_prompt(round), schema.clone()).await?;
        extract.push(t.elapsed());
        let t = Instant::now();
        model.embed(sentences[..1].to_vec()).await?;
        one.push(t.elapsed());
        let t = Instant::now();
        model.embed(sentences.clone()).await?;
        six.push(t.elapsed());
    }
    let stats = model.stats();
    let steps = (stats.mask_steps - stats_before.mask_steps).max(1);
    Ok(BenchReport {
        rounds,
        mask_per_token: Duration::from_nanos((stats.mask_nanos - stats_before.mask_nanos) / steps),
        prompt_tokens,
        prefill_tok_s: median(prefill),
        decode_tok_s: median(decode),
        warm_first_piece: median_d(warm),
        choose: median_d(choose),
        extract: median_d(extract),
        embed_one: median_d(one),
        embed_six: median_d(six),
    })
}
