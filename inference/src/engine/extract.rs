//! Constrained extraction: greedy decoding where each step takes the best-scored token whose
//! bytes keep the output a valid prefix of the schema's JSON (see `grammar`). The top
//! candidates are tried first (almost always one fits); only when none does is the whole
//! vocabulary scanned.

use super::chat::model_err;
use super::tokenizer::ChatTokenizer;
use super::worker::Worker;
use crate::grammar::JsonGrammar;
use crate::schema::Schema;
use crate::{Error, Prompt, Result};

/// Candidates tried before falling back to a full-vocabulary scan.
const TOP_K: usize = 48;

/// The best token the grammar allows, or `None` when no token fits.
pub fn pick_token(logits: &[f32], grammar: &JsonGrammar<'_>, tokenizer: &ChatTokenizer) -> Option<u32> {
    let allowed = |id: u32| !tokenizer.is_special(id) && grammar.accepts(tokenizer.token_bytes(id));
    let n = logits.len().min(tokenizer.vocab_size());
    let mut ids: Vec<u32> = (0..n as u32).collect();
    let by_score = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
    let k = TOP_K.min(n.saturating_sub(1));
    if k > 0 {
        ids.select_nth_unstable_by(k, by_score);
        ids[..k].sort_unstable_by(by_score);
        if let Some(&id) = ids[..k].iter().find(|&&id| allowed(id)) {
            return Some(id);
        }
    }
    ids.into_iter()
        .filter(|&id| allowed(id))
        .max_by(|a, b| logits[*a as usize].total_cmp(&logits[*b as usize]))
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
            let token = pick_token(&logits, &grammar, &self.chat.tokenizer)
                .ok_or_else(|| model_err("no token continues the schema"))?;
            let bytes = self.chat.tokenizer.token_bytes(token);
            grammar.advance(bytes);
            out.extend_from_slice(bytes);
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
