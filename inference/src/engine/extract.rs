//! Constrained extraction: greedy decoding where each step takes the best-scored token whose
//! bytes keep the output a valid prefix of the schema's JSON (see `grammar`). The top
//! candidates are tried first (almost always one fits); only when none does is the whole
//! vocabulary scanned. Bytes the grammar forces (a key once told apart, punctuation) are fed
//! with the chosen token in the same pass instead of being decoded one step each.
//! Extractions queued together are decoded together, one pass per step.

use tokio::sync::oneshot;

use super::chat::{model_err, Sequence};
use super::stats::Counters;
use super::tokenizer::ChatTokenizer;
use super::worker::Worker;
use crate::grammar::JsonGrammar;
use crate::schema::Schema;
use crate::{Prompt, Result};

/// Candidates tried before falling back to a full-vocabulary scan.
const TOP_K: usize = 48;

/// The best token the grammar allows, or `None` when no token fits. Tries the `TOP_K`
/// best-scored tokens first; otherwise scans only the tokens whose first byte the grammar
/// accepts.
pub fn pick_token(logits: &[f32], grammar: &JsonGrammar<'_>, tokenizer: &ChatTokenizer) -> Option<u32> {
    let allowed = |id: u32| !tokenizer.is_special(id) && grammar.accepts(tokenizer.token_bytes(id));
    let score = |id: u32| logits.get(id as usize).copied().unwrap_or(f32::NEG_INFINITY);
    let mut top: Vec<(f32, u32)> = Vec::with_capacity(TOP_K + 1);
    let mut floor = f32::NEG_INFINITY;
    for (id, &l) in logits.iter().enumerate() {
        if l > floor || top.len() < TOP_K {
            let at = top.partition_point(|&(s, _)| s >= l);
            top.insert(at, (l, id as u32));
            top.truncate(TOP_K);
            floor = top.last().map_or(f32::NEG_INFINITY, |&(s, _)| s);
        }
    }
    if let Some(&(_, id)) = top.iter().find(|&&(_, id)| allowed(id)) {
        return Some(id);
    }
    let mut best: Option<(f32, u32)> = None;
    for byte in 0..=255u8 {
        if !grammar.accepts(&[byte]) {
            continue;
        }
        for &id in tokenizer.tokens_starting_with(byte) {
            let l = score(id);
            if best.is_none_or(|(b, _)| l > b) && allowed(id) {
                best = Some((l, id));
            }
        }
    }
    best.map(|(_, id)| id)
}

/// One queued extraction.
pub struct ExtractJob {
    pub prompt: Prompt,
    pub schema: Schema,
    pub reply: oneshot::Sender<Result<serde_json::Value>>,
}

/// One extraction being decoded: its sequence, next-token logits, grammar state and output.
struct Decoding<'s> {
    at: usize,
    seq: Sequence,
    logits: Vec<f32>,
    grammar: JsonGrammar<'s>,
    out: Vec<u8>,
}

impl Worker {
    /// Runs `jobs` together: each prompt is started on its own (from the prefix cache), then
    /// every step picks each extraction's next token under its grammar and feeds all of them
    /// in one pass, so several sessions' extractions cost little more than one (a decode step
    /// reads every weight once whatever the batch). Each answer is what it would be alone.
    pub(super) fn extract_group(&mut self, jobs: Vec<ExtractJob>) {
        let budget = self.config_max_extract();
        let (mut schemas, mut replies) = (Vec::with_capacity(jobs.len()), Vec::with_capacity(jobs.len()));
        let mut started = Vec::with_capacity(jobs.len());
        for job in jobs {
            started.push(self.start(&job.prompt, budget));
            schemas.push(job.schema);
            replies.push(Some(job.reply));
        }
        let mut live = Vec::with_capacity(started.len());
        for (at, (begun, schema)) in started.into_iter().zip(&schemas).enumerate() {
            match begun {
                Ok((seq, logits)) => live.push(Decoding { at, seq, logits, grammar: JsonGrammar::new(schema), out: Vec::new() }),
                Err(e) => send(&mut replies[at], Err(e)),
            }
        }
        for _ in 0..budget {
            live.retain(|d| replies[d.at].as_ref().is_some_and(|r| !r.is_closed()));
            let mut fed = Vec::with_capacity(live.len());
            for mut d in std::mem::take(&mut live) {
                match self.pick(&mut d) {
                    Ok(Some(tokens)) => {
                        fed.push(tokens);
                        live.push(d);
                    }
                    Ok(None) => send(&mut replies[d.at], finish(&d.out, &schemas[d.at])),
                    Err(e) => send(&mut replies[d.at], Err(e)),
                }
            }
            if live.is_empty() {
                return;
            }
            if let Err(e) = self.feed_all(&mut live, &fed) {
                for d in live.drain(..) {
                    send(&mut replies[d.at], Err(e.clone()));
                }
                return;
            }
        }
        for d in live {
            send(&mut replies[d.at], Err(model_err(format!("extraction did not finish within {budget} tokens"))));
        }
    }

    /// Chooses `d`'s next token and advances its grammar: `Some(tokens)` to feed, `None` when
    /// the output is complete. The tokens are the chosen one and then those of the bytes the
    /// grammar forces after it (a key's rest, `":"`...): fed in the same pass, they cost no
    /// decode step of their own.
    fn pick(&self, d: &mut Decoding<'_>) -> Result<Option<Vec<u32>>> {
        let started = std::time::Instant::now();
        let token = pick_token(&d.logits, &d.grammar, &self.chat.tokenizer)
            .ok_or_else(|| model_err("no token continues the schema"))?;
        let took = started.elapsed().as_nanos() as usize;
        Counters::add(&self.counters.mask_nanos, took);
        self.counters.mask_max_nanos.fetch_max(took as u64, std::sync::atomic::Ordering::Relaxed);
        Counters::add(&self.counters.mask_steps, 1);
        let bytes = self.chat.tokenizer.token_bytes(token);
        d.grammar.advance(bytes);
        d.out.extend_from_slice(bytes);
        Counters::add(&self.counters.generated_tokens, 1);
        let mut tokens = vec![token];
        tokens.extend(self.fast_forward(d)?);
        Ok((!d.grammar.is_complete()).then_some(tokens))
    }

    /// Takes the bytes the grammar now forces into `d`'s output and returns their tokens.
    fn fast_forward(&self, d: &mut Decoding<'_>) -> Result<Vec<u32>> {
        let forced = d.grammar.forced();
        let Ok(text) = std::str::from_utf8(&forced) else { return Ok(Vec::new()) };
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let tokens = self.chat.tokenizer.encode(text)?;
        let spelled: Vec<u8> = tokens.iter().flat_map(|&t| self.chat.tokenizer.token_bytes(t).iter().copied()).collect();
        if spelled != forced || tokens.iter().any(|&t| self.chat.tokenizer.is_special(t)) {
            return Ok(Vec::new());
        }
        d.grammar.advance(&forced);
        d.out.extend_from_slice(&forced);
        Counters::add(&self.counters.forced_tokens, tokens.len());
        Ok(tokens)
    }

    /// Feeds each live extraction its token, all in one pass.
    fn feed_all(&self, live: &mut [Decoding<'_>], tokens: &[Vec<u32>]) -> Result<()> {
        let mut batch: Vec<(&mut Sequence, &[u32])> = live.iter_mut().zip(tokens).map(|(d, t)| (&mut d.seq, &t[..])).collect();
        let all = self.chat.feed_batch(&mut batch)?;
        if live.len() > 1 {
            Counters::add(&self.counters.batched_steps, 1);
        }
        for (d, logits) in live.iter_mut().zip(all) {
            d.logits = logits;
        }
        Ok(())
    }
}

fn send(reply: &mut Option<oneshot::Sender<Result<serde_json::Value>>>, answer: Result<serde_json::Value>) {
    if let Some(r) = reply.take() {
        let _ = r.send(answer);
    }
}

/// The complete output parsed and checked against its schema.
fn finish(out: &[u8], schema: &Schema) -> Result<serde_json::Value> {
    let value: serde_json::Value =
        serde_json::from_slice(out).map_err(|e| model_err(format!("constrained output failed to parse: {e}")))?;
    if !schema.validate(&value) {
        return Err(model_err("constrained output failed schema validation"));
    }
    Ok(value)
}

#[cfg(test)]
mod fuzz {
    //! Validity by construction does not depend on what the model prefers: 1,000 decodes driven
    //! by random logits over the real vocabulary must all end in schema-valid JSON, and the
    //! mask must stay cheap (p99 per token).

    use super::*;
    use crate::models::workspace_models_dir;
    use crate::Manifest;

    fn schemas() -> Vec<Schema> {
        let values = [
            serde_json::json!({"type": "object", "properties": {
                "intent": {"enum": ["book", "cancel", "refill", "other"]},
                "urgent": {"type": "boolean"}}, "required": ["intent", "urgent"]}),
            serde_json::json!({"type": "object", "properties": {
                "date": {"type": "string", "format": "date"},
                "note": {"type": "string", "maxLength": 24},
                "pain": {"type": "integer", "minimum": 0, "maximum": 10}}, "required": ["pain"]}),
            serde_json::json!({"type": "object", "properties": {
                "medication": {"type": "string", "maxLength": 40},
                "details": {"type": "object", "properties": {
                    "doses": {"type": "integer", "minimum": -3, "maximum": 250},
                    "with_food": {"type": "boolean"}}, "required": ["doses"]}},
                "required": ["medication", "details"]}),
        ];
        values.iter().map(|v| Schema::parse(v).unwrap()).collect()
    }

    #[test]
    fn a_thousand_randomly_driven_decodes_are_all_schema_valid() {
        let paths = crate::fetch(&Manifest::pinned(), &workspace_models_dir(), false).unwrap();
        let tokenizer = ChatTokenizer::from_gguf_file(&paths.chat_gguf).unwrap();
        let schemas = schemas();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut logits = vec![0f32; tokenizer.vocab_size()];
        let mut times = Vec::new();
        for run in 0..1000 {
            let schema = &schemas[run % schemas.len()];
            let mut grammar = JsonGrammar::new(schema);
            let mut out = Vec::new();
            for _ in 0..512 {
                // Fresh random preferences each step: sometimes sharp, sometimes flat.
                let sharp = (next() % 4) as f32;
                for l in logits.iter_mut() {
                    *l = (next() >> 40) as f32 / (1u64 << 24) as f32 * sharp;
                }
                let started = std::time::Instant::now();
                let token = pick_token(&logits, &grammar, &tokenizer)
                    .unwrap_or_else(|| panic!("run {run}: no token continues {:?}", String::from_utf8_lossy(&out)));
                times.push(started.elapsed());
                let bytes = tokenizer.token_bytes(token);
                assert!(grammar.advance(bytes));
                out.extend_from_slice(bytes);
                if grammar.is_complete() {
                    break;
                }
            }
            assert!(grammar.is_complete(), "run {run} did not finish: {}", String::from_utf8_lossy(&out));
            let value: serde_json::Value = serde_json::from_slice(&out).expect("parses");
            assert!(schema.validate(&value), "run {run}: {value}");
        }
        // Reported, not asserted: a timed assertion fails on a loaded machine, not on slow code
        // (`agent bench model` reports the mean and the slowest step).
        times.sort();
        let p99 = times[times.len() * 99 / 100];
        eprintln!("mask per token over {} tokens: p50 {:?}, p99 {:?}", times.len(), times[times.len() / 2], p99);
    }
}
