//! The chat model: loading a GGUF (llama, qwen2 or gemma3, checked against
//! `general.architecture`) into our own forward pass (`llm`), its chat template (`template`:
//! ChatML or gemma's turns), and [`Sequence`], one
//! conversation's position with its KV cache. The KV cache lives outside the weights, so
//! cloning a sequence is a snapshot: that is what the prefix cache and `choose` rely on.

use std::path::Path;

use candle_core::quantized::gguf_file;

use super::llm::{Item, KvCache, Llm, Weights};
use super::template::Template;
use super::tokenizer::ChatTokenizer;
use crate::{Error, Message, Result};

/// Sizes needed to account for KV-cache memory.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl Dims {
    /// KV-cache bytes one token costs (keys and values, f32).
    pub fn kv_bytes_per_token(&self) -> u64 {
        (self.layers * 2 * self.kv_heads * self.head_dim * 4) as u64
    }
}

pub struct ChatModel {
    llm: Llm,
    pub tokenizer: ChatTokenizer,
    pub dims: Dims,
    pub template: Template,
}

/// One sequence: its KV cache and the tokens already fed.
#[derive(Clone, Default)]
pub struct Sequence {
    cache: KvCache,
    pub tokens: Vec<u32>,
}

pub fn model_err(e: impl std::fmt::Display) -> Error {
    Error::Model(e.to_string())
}

impl ChatModel {
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let bad = |why: String| Error::BadModelFile { path: shown.clone(), why };
        let mut file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| bad(format!("not a GGUF: {e}")))?;
        let tokenizer = ChatTokenizer::from_gguf(&content)?;
        let weights = Weights::load(&content, &mut file).map_err(bad)?;
        let c = &weights.config;
        let dims = Dims { layers: c.layers, kv_heads: c.kv_heads, head_dim: c.head_dim };
        Ok(Self {
            llm: Llm::new(weights),
            template: Template::from_gguf(&content, &tokenizer)?,
            tokenizer,
            dims,
        })
    }

    /// A fresh sequence with an empty KV cache.
    pub fn new_sequence(&self) -> Sequence {
        Sequence::default()
    }

    /// Bytes of weights one decode step reads.
    pub fn weight_bytes(&self) -> usize {
        self.llm.weights.bytes()
    }

    /// Most tokens one sequence may hold.
    pub fn max_positions(&self) -> usize {
        self.llm.max_positions()
    }

    /// Feeds several sequences at once (one pass over the weights for all of them) and
    /// returns each one's next-token logits.
    pub fn feed_batch(&self, batch: &mut [(&mut Sequence, &[u32])]) -> Result<Vec<Vec<f32>>> {
        let mut items: Vec<Item<'_>> = Vec::with_capacity(batch.len());
        for (seq, tokens) in batch.iter_mut() {
            items.push(Item { cache: &mut seq.cache, tokens });
        }
        let logits = self.llm.forward(&mut items).map_err(model_err)?;
        for (seq, tokens) in batch.iter_mut() {
            seq.tokens.extend_from_slice(tokens);
        }
        Ok(logits)
    }

    /// True for the tokens that end the assistant's turn.
    pub fn is_end_of_turn(&self, id: u32) -> bool {
        self.template.is_stop(id)
    }

    /// The prompt in the model's chat template: the tokens and where the system part ends
    /// (the shareable prefix). A system message is always first.
    pub fn render(&self, messages: &[Message], open_answer: bool) -> Result<(Vec<u32>, usize)> {
        self.template.render(&self.tokenizer, messages, open_answer)
    }
}

impl Sequence {
    /// Makes what the sequence holds shareable, so clones taken from now on (a prefix-cache
    /// entry, `choose`'s one branch per option) share its keys and values instead of copying them.
    pub fn freeze(&mut self) {
        self.cache.freeze();
    }

    /// The shared segments this sequence's cache holds, as (identity, positions).
    pub fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.cache.segments()
    }

    /// A sequence holding `tokens` with zero keys and values in one layer (prefix-cache tests).
    #[cfg(test)]
    pub(crate) fn filled(tokens: &[u32]) -> Self {
        let mut seq = Self::default();
        seq.extend_for_test(tokens);
        seq
    }

    #[cfg(test)]
    pub(crate) fn extend_for_test(&mut self, tokens: &[u32]) {
        for _ in tokens {
            self.cache.push(0, 1, &[0.0], &[0.0]);
        }
        self.cache.advance(tokens.len());
        self.tokens.extend_from_slice(tokens);
    }

    /// Feeds `tokens` after those already in the cache; returns the logits for the next token.
    pub fn feed(&mut self, tokens: &[u32], model: &ChatModel) -> Result<Vec<f32>> {
        let mut logits = model.feed_batch(&mut [(self, tokens)])?;
        Ok(logits.pop().unwrap_or_default())
    }
}

/// `log_softmax(logits)[id]`.
pub fn log_prob(logits: &[f32], id: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    logits.get(id as usize).map_or(f32::NEG_INFINITY, |&l| l - max - sum.ln())
}
