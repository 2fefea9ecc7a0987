//! The chat model: loading a GGUF (llama, qwen2 or gemma3, checked against
//! `general.architecture`) into a forward pass — our own on the CPU (`llm`), or candle's tensor
//! operations on a device (`llm::device`, the GPU's) — its chat template (`template`: ChatML or
//! gemma's turns), and [`Sequence`], one conversation's position with its KV cache. The KV cache
//! lives outside the weights, so cloning a sequence is a snapshot: that is what the prefix
//! cache and `choose` rely on.

use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::Device;

use super::llm::device::{DeviceCache, DeviceItem, DeviceLlm};
use super::llm::{Item, KvCache, Llm, Weights};
use crate::config::ModelDevice;
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

/// The forward pass a model was loaded into.
enum Pass {
    Host(Llm),
    Device(DeviceLlm),
}

/// A sequence's KV cache, held where its model's pass runs.
#[derive(Clone)]
enum Cache {
    Host(KvCache),
    Device(DeviceCache),
}

impl Default for Cache {
    fn default() -> Self {
        Self::Host(KvCache::default())
    }
}

pub struct ChatModel {
    pass: Pass,
    pub tokenizer: ChatTokenizer,
    pub dims: Dims,
    pub template: Template,
}

/// One sequence: its KV cache and the tokens already fed.
#[derive(Clone, Default)]
pub struct Sequence {
    cache: Cache,
    pub tokens: Vec<u32>,
}

pub fn model_err(e: impl std::fmt::Display) -> Error {
    Error::Model(e.to_string())
}

/// A sequence made by another model's pass (a bug, not bad input).
fn foreign() -> Error {
    Error::Model("a sequence from another forward pass".into())
}

/// The candle device for a `device` setting (`None`: our own CPU pass).
pub(super) fn candle_device(device: ModelDevice) -> Result<Option<Device>> {
    match device {
        ModelDevice::Cpu => Ok(None),
        ModelDevice::CandleCpu => Ok(Some(Device::Cpu)),
        ModelDevice::Cuda(_) if !cfg!(feature = "cuda") => {
            Err(Error::Model(format!("device {device}: this build has no GPU support (build with the cuda feature)")))
        }
        ModelDevice::Cuda(n) => Device::new_cuda(n).map(Some).map_err(|e| Error::Model(format!("device {device}: {e}"))),
    }
}

impl ChatModel {
    /// Loads the GGUF at `path` for the forward pass `device` names.
    pub fn load(path: &Path, device: ModelDevice) -> Result<Self> {
        let shown = path.display().to_string();
        let bad = |why: String| Error::BadModelFile { path: shown.clone(), why };
        let on = candle_device(device)?;
        let mut file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| bad(format!("not a GGUF: {e}")))?;
        let tokenizer = ChatTokenizer::from_gguf(&content)?;
        let pass = match &on {
            None => Pass::Host(Llm::new(Weights::load(&content, &mut file).map_err(bad)?)),
            Some(d) => Pass::Device(DeviceLlm::load(&content, &mut file, d).map_err(bad)?),
        };
        let c = match &pass {
            Pass::Host(llm) => &llm.weights.config,
            Pass::Device(llm) => llm.config(),
        };
        let dims = Dims { layers: c.layers, kv_heads: c.kv_heads, head_dim: c.head_dim };
        Ok(Self { pass, template: Template::from_gguf(&content, &tokenizer)?, tokenizer, dims })
    }

    /// A fresh sequence with an empty KV cache, held where this model's pass runs.
    pub fn new_sequence(&self) -> Sequence {
        let cache = match self.pass {
            Pass::Host(_) => Cache::Host(KvCache::default()),
            Pass::Device(_) => Cache::Device(DeviceCache::default()),
        };
        Sequence { cache, tokens: Vec::new() }
    }

    /// Bytes of weights one decode step reads.
    pub fn weight_bytes(&self) -> usize {
        match &self.pass {
            Pass::Host(llm) => llm.weights.bytes(),
            Pass::Device(llm) => llm.weight_bytes(),
        }
    }

    /// Most tokens one sequence may hold.
    pub fn max_positions(&self) -> usize {
        match &self.pass {
            Pass::Host(llm) => llm.max_positions(),
            Pass::Device(llm) => llm.max_positions(),
        }
    }

    /// Feeds several sequences at once (one pass over the weights for all of them) and
    /// returns each one's next-token logits.
    pub fn feed_batch(&self, batch: &mut [(&mut Sequence, &[u32])]) -> Result<Vec<Vec<f32>>> {
        let logits = match &self.pass {
            Pass::Host(llm) => {
                let mut items = Vec::with_capacity(batch.len());
                for (seq, tokens) in batch.iter_mut() {
                    let Cache::Host(cache) = &mut seq.cache else { return Err(foreign()) };
                    items.push(Item { cache, tokens });
                }
                llm.forward(&mut items)
            }
            Pass::Device(llm) => {
                let mut items = Vec::with_capacity(batch.len());
                for (seq, tokens) in batch.iter_mut() {
                    let Cache::Device(cache) = &mut seq.cache else { return Err(foreign()) };
                    items.push(DeviceItem { cache, tokens });
                }
                llm.forward(&mut items)
            }
        }
        .map_err(model_err)?;
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
        match &mut self.cache {
            Cache::Host(c) => c.freeze(),
            Cache::Device(c) => c.freeze(),
        }
    }

    /// The shared segments this sequence's cache holds, as (identity, positions).
    pub fn segments(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
        match &self.cache {
            Cache::Host(c) => Box::new(c.segments()),
            Cache::Device(c) => Box::new(c.segments()),
        }
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
        let Cache::Host(cache) = &mut self.cache else { panic!("host sequences only") };
        for _ in tokens {
            cache.push(0, 1, &[0.0], &[0.0]);
        }
        cache.advance(tokens.len());
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
