//! The chat model: loading a GGUF (llama architecture, checked against
//! `general.architecture`), the ChatML template, and [`Sequence`], one conversation's position
//! with its KV cache. candle keeps the KV cache inside the model weights and its tensors are
//! immutable and reference-counted, so cloning the weights struct is a cheap snapshot of a
//! sequence: that is what the prefix cache and `choose` rely on.

use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama;

use super::tokenizer::ChatTokenizer;
use crate::{Error, Message, Result, Role};

#[derive(Clone)]
enum Weights {
    Llama(quantized_llama::ModelWeights),
}

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
    base: Weights,
    pub tokenizer: ChatTokenizer,
    pub dims: Dims,
    pub im_start: u32,
    pub im_end: u32,
    pub end_of_text: u32,
    device: Device,
}

/// One sequence: the weights with their KV cache, and the tokens already fed.
#[derive(Clone)]
pub struct Sequence {
    weights: Weights,
    pub tokens: Vec<u32>,
}

pub fn model_err(e: impl std::fmt::Display) -> Error {
    Error::Model(e.to_string())
}

fn meta_u32(content: &gguf_file::Content, key: &str) -> Result<usize> {
    let v = content.metadata.get(key).ok_or_else(|| model_err(format!("GGUF has no {key}")))?;
    v.to_u32().map(|x| x as usize).map_err(model_err)
}

impl ChatModel {
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let bad = |why: String| Error::BadModelFile { path: shown.clone(), why };
        let mut file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| bad(format!("not a GGUF: {e}")))?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let dims = Dims {
            layers: meta_u32(&content, &format!("{arch}.block_count"))?,
            kv_heads: meta_u32(&content, &format!("{arch}.attention.head_count_kv"))?,
            head_dim: meta_u32(&content, &format!("{arch}.embedding_length"))?
                / meta_u32(&content, &format!("{arch}.attention.head_count"))?.max(1),
        };
        let tokenizer = ChatTokenizer::from_gguf(&content)?;
        let device = Device::Cpu;
        let base = match arch.as_str() {
            "llama" => Weights::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut file, &device)
                    .map_err(|e| bad(e.to_string()))?,
            ),
            // qwen2 / gemma3 weights in candle 0.11 are not `Clone`, so their KV state cannot be
            // snapshotted for the prefix cache and `choose`; not supported yet.
            other => return Err(bad(format!("unsupported architecture {other:?} (llama)"))),
        };
        Ok(Self {
            base,
            im_start: tokenizer.special_id("<|im_start|>")?,
            im_end: tokenizer.special_id("<|im_end|>")?,
            end_of_text: tokenizer.special_id("<|endoftext|>")?,
            tokenizer,
            dims,
            device,
        })
    }

    /// A fresh sequence with an empty KV cache.
    pub fn new_sequence(&self) -> Sequence {
        Sequence { weights: self.base.clone(), tokens: Vec::new() }
    }

    /// True for the tokens that end the assistant's turn.
    pub fn is_end_of_turn(&self, id: u32) -> bool {
        id == self.im_end || id == self.end_of_text
    }

    /// ChatML: `<|im_start|>role\ncontent<|im_end|>\n` per message, then (when `open_answer`)
    /// `<|im_start|>assistant\n`. Returns the tokens and where the system part ends (the
    /// shareable prefix). No BOS; a system message is always present.
    pub fn render(&self, messages: &[Message], open_answer: bool) -> Result<(Vec<u32>, usize)> {
        if messages.first().map(|m| m.role) != Some(Role::System) {
            return Err(Error::InvalidRequest("the prompt must start with a system message".into()));
        }
        let mut tokens = Vec::new();
        let mut system_end = 0;
        for (i, m) in messages.iter().enumerate() {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            tokens.push(self.im_start);
            tokens.extend(self.tokenizer.encode(&format!("{role}\n{}", m.content))?);
            tokens.push(self.im_end);
            tokens.extend(self.tokenizer.encode("\n")?);
            if i == 0 {
                system_end = tokens.len();
            }
        }
        if open_answer {
            tokens.push(self.im_start);
            tokens.extend(self.tokenizer.encode("assistant\n")?);
        }
        Ok((tokens, system_end))
    }
}

impl Sequence {
    /// Feeds `tokens` after those already in the cache; returns the logits for the next token.
    pub fn feed(&mut self, tokens: &[u32], device: &ChatModel) -> Result<Vec<f32>> {
        if tokens.is_empty() {
            return Err(model_err("nothing to feed"));
        }
        let input = Tensor::new(tokens, &device.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(model_err)?;
        let pos = self.tokens.len();
        let logits = match &mut self.weights {
            Weights::Llama(w) => w.forward(&input, pos),
        }
        .map_err(model_err)?;
        self.tokens.extend_from_slice(tokens);
        logits
            .squeeze(0)
            .and_then(|l| l.to_dtype(candle_core::DType::F32))
            .and_then(|l| l.to_vec1::<f32>())
            .map_err(model_err)
    }
}

/// `log_softmax(logits)[id]`.
pub fn log_prob(logits: &[f32], id: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    logits.get(id as usize).map_or(f32::NEG_INFINITY, |&l| l - max - sum.ln())
}
