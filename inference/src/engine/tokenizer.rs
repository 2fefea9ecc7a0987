//! The chat model's tokenizer, built from GGUF metadata (the GGUF packages ship no
//! tokenizer.json). `tokenizer.ggml.model = "gpt2"`: byte-level BPE from
//! `tokenizer.ggml.tokens` / `merges`, with the pre-tokenizer `tokenizer.ggml.pre` names
//! (qwen2's regex split, else SmolLM2's digits + byte-level); `"llama"`: a SentencePiece
//! vocabulary (`spm`; gemma). Decoding is our own byte table, which also gives the
//! constrained decoder each token's exact bytes.
//!
//! Message text is encoded without special-token parsing, so a patient typing `<|im_end|>`
//! or `<end_of_turn>` gets plain characters, never a control token.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::SplitDelimiterBehavior;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::Tokenizer;

use super::spm;
use crate::{Error, Result};

pub struct ChatTokenizer {
    bpe: Tokenizer,
    /// The exact bytes each token stands for (control tokens: their literal name).
    bytes: Vec<Vec<u8>>,
    /// Control / special tokens (never produced by constrained decoding, never shown).
    special: Vec<bool>,
    ids: HashMap<String, u32>,
    /// Ordinary tokens grouped by their first byte (the constrained decoder scans only the
    /// groups the grammar allows).
    by_first_byte: Vec<Vec<u32>>,
}

/// GPT-2's byte <-> printable-char table used by byte-level BPE vocabularies.
fn byte_level_table() -> HashMap<char, u8> {
    let mut table = HashMap::with_capacity(256);
    let mut extra = 0u32;
    for b in 0u32..=255 {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            b
        } else {
            extra += 1;
            255 + extra
        };
        if let Some(c) = char::from_u32(c) {
            table.insert(c, b as u8);
        }
    }
    table
}

pub(super) fn model_err(what: impl std::fmt::Display) -> Error {
    Error::Model(format!("tokenizer: {what}"))
}

fn string_array(content: &Content, key: &str) -> Result<Vec<String>> {
    let value = content.metadata.get(key).ok_or_else(|| model_err(format!("GGUF has no {key}")))?;
    let items = value.to_vec().map_err(model_err)?;
    items.iter().map(|v| v.to_string().cloned().map_err(model_err)).collect()
}

/// qwen2's pre-tokenizer split (llama.cpp `LLAMA_VOCAB_PRE_TYPE_QWEN2`).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn pre_tokenizer(name: Option<&str>) -> Result<Sequence> {
    Ok(match name {
        Some("qwen2") => {
            let split = Split::new(SplitPattern::Regex(QWEN2_SPLIT.into()), SplitDelimiterBehavior::Isolated, false)
                .map_err(model_err)?;
            Sequence::new(vec![
                PreTokenizerWrapper::Split(split),
                PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, false)),
            ])
        }
        _ => Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
        ]),
    })
}

impl ChatTokenizer {
    pub fn from_gguf(content: &Content) -> Result<Self> {
        let tokens = string_array(content, "tokenizer.ggml.tokens")?;
        let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
            Some(Value::Array(items)) => items.iter().map(|v| v.to_i32().unwrap_or(1)).collect(),
            _ => vec![1; tokens.len()],
        };
        let model = content.metadata.get("tokenizer.ggml.model").and_then(|v| v.to_string().ok()).cloned();
        let (tokenizer, special, bytes) = match model.as_deref().unwrap_or("gpt2") {
            "gpt2" => byte_level_bpe(content, &tokens, &types)?,
            "llama" => {
                let special = spm::special(&tokens, &types);
                let bytes = spm::piece_bytes(&tokens, &special);
                (spm::tokenizer(content, &tokens, &types, &special)?, special, bytes)
            }
            other => return Err(model_err(format!("unsupported tokenizer model {other:?} (gpt2, llama)"))),
        };
        let ids: HashMap<String, u32> = tokens.into_iter().enumerate().map(|(i, t)| (t, i as u32)).collect();
        let mut by_first_byte = vec![Vec::new(); 256];
        for (id, b) in bytes.iter().enumerate() {
            if let (Some(&first), false) = (b.first(), special[id]) {
                by_first_byte[first as usize].push(id as u32);
            }
        }
        Ok(Self { bpe: tokenizer, bytes, special, ids, by_first_byte })
    }

    /// The id of a token, if the vocabulary has it.
    pub fn token_id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// Reads only the metadata of a GGUF file.
    pub fn from_gguf_file(path: &std::path::Path) -> Result<Self> {
        let bad = |why: String| Error::BadModelFile { path: path.display().to_string(), why };
        let mut file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let content = Content::read(&mut file).map_err(|e| bad(format!("not a GGUF: {e}")))?;
        Self::from_gguf(&content)
    }

    /// Plain text to token ids (special-token names are not recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.bpe.encode_fast(text, false).map_err(model_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// The id of a special token such as `<|im_start|>`.
    pub fn special_id(&self, name: &str) -> Result<u32> {
        self.ids.get(name).copied().ok_or_else(|| model_err(format!("no token {name}")))
    }

    pub fn vocab_size(&self) -> usize {
        self.bytes.len()
    }

    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Ordinary (non-special) tokens whose bytes start with `byte`.
    pub fn tokens_starting_with(&self, byte: u8) -> &[u32] {
        &self.by_first_byte[byte as usize]
    }

    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(true)
    }

    /// Decodes ids to text, dropping special tokens (lossy on invalid UTF-8).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> =
            ids.iter().filter(|&&id| !self.is_special(id)).flat_map(|&id| self.token_bytes(id).to_vec()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Byte-level BPE (`tokenizer.ggml.model = "gpt2"`): the tokenizer, which tokens are special,
/// and each token's bytes.
fn byte_level_bpe(content: &Content, tokens: &[String], types: &[i32]) -> Result<(Tokenizer, Vec<bool>, Vec<Vec<u8>>)> {
    let merges = string_array(content, "tokenizer.ggml.merges")?;
    let merges: Vec<(String, String)> = merges
        .iter()
        .filter_map(|m| m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(model_err)?;
    let mut tokenizer = Tokenizer::new(bpe);
    let pre = content.metadata.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).cloned();
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer(pre.as_deref())?));
    let table = byte_level_table();
    let special: Vec<bool> = (0..tokens.len())
        .map(|i| matches!(types.get(i), Some(3) | Some(4)) || is_chat_marker(&tokens[i]))
        .collect();
    let bytes: Vec<Vec<u8>> = tokens
        .iter()
        .zip(&special)
        .map(|(t, &s)| match s {
            true => t.as_bytes().to_vec(),
            false => t.chars().map(|c| table.get(&c).copied().unwrap_or(b'?')).collect(),
        })
        .collect();
    Ok((tokenizer, special, bytes))
}

/// Chat-template markers: ChatML's `<|...|>` and gemma's turn markers.
pub(super) fn is_chat_marker(token: &str) -> bool {
    (token.starts_with("<|") && token.ends_with("|>") && token.len() > 4)
        || token == "<start_of_turn>"
        || token == "<end_of_turn>"
}

/// Turns a stream of token bytes into text pieces that never split a UTF-8 character.
#[derive(Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Invalid (not just incomplete) bytes: emit lossily rather than stall.
            Err(_) => self.pending.len(),
        };
        let out: Vec<u8> = self.pending.drain(..valid).collect();
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod pre_tokenizer_tests {
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

    fn pieces(name: Option<&str>, text: &str) -> Vec<String> {
        let pre = super::pre_tokenizer(name).unwrap();
        let mut s = PreTokenizedString::from(text);
        pre.pre_tokenize(&mut s).unwrap();
        s.get_splits(OffsetReferential::Original, OffsetType::Byte).into_iter().map(|(p, _, _)| p.to_string()).collect()
    }

    #[test]
    fn qwen2_splits_single_digits_contractions_and_spaces_like_llama_cpp() {
        assert_eq!(pieces(Some("qwen2"), "I'm 25 years"), ["I", "'m", "Ġ", "2", "5", "Ġyears"]);
    }

    #[test]
    fn smollm_keeps_its_digit_then_byte_level_split() {
        assert_eq!(pieces(None, "I'm 25"), ["I", "'m", "Ġ", "2", "5"]);
    }
}
