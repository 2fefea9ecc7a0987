//! Constrained extraction: greedy decoding where each step takes the best-scored token whose
//! bytes keep the output a valid prefix of the schema's JSON (see `grammar`). The top
//! candidates are tried first (almost always one fits); only when none does is the whole
//! vocabulary scanned.

use super::chat::model_err;
use super::stats::Counters;
use super::tokenizer::ChatTokenizer;
use super::worker::Worker;
use crate::grammar::JsonGrammar;
use crate::schema::Schema;
use crate::{Error, Prompt, Result};

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

impl Worker {
    pub(super) fn extract(
        &mut self,
        prompt: &Prompt,
        schema: &Schema,
        caller_gone: &dyn Fn() -> bool,
    ) -> Result<serde_json::Value> {
        let budget = self.config_max_extract();
        let (mut seq, mut logits) = self.start(prompt, budget)?;
        let mut grammar = JsonGrammar::new(schema);
        let mut out: Vec<u8> = Vec::new();
        for _ in 0..budget {
            if caller_gone() {
                return Err(Error::Stopped);
            }
            let started = std::time::Instant::now();
            let token = pick_token(&logits, &grammar, &self.chat.tokenizer)
                .ok_or_else(|| model_err("no token continues the schema"))?;
            Counters::add(&self.counters.mask_nanos, started.elapsed().as_nanos() as usize);
            Counters::add(&self.counters.mask_steps, 1);
            let bytes = self.chat.tokenizer.token_bytes(token);
            grammar.advance(bytes);
            out.extend_from_slice(bytes);
            Counters::add(&self.counters.generated_tokens, 1);
            if grammar.is_complete() {
                break;
            }
            logits = seq.feed(&[token], &self.chat)?;
        }
        if !grammar.is_complete() {
            return Err(model_err(format!("extraction did not finish within {budget} tokens")));
        }
        let value: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| model_err(format!("constrained output failed to parse: {e}")))?;
        if !schema.validate(&value) {
            return Err(model_err("constrained output failed schema validation"));
        }
        Ok(value)
    }
}
