//! SentencePiece vocabularies in GGUF metadata (`tokenizer.ggml.model = "llama"`: llama 2,
//! mistral, gemma): pieces with scores, `▁` for spaces, `<0xNN>` byte tokens for what the
//! vocabulary lacks. llama.cpp tokenizes these by repeatedly merging the adjacent pair whose
//! union is the highest-scoring piece; that is BPE with merges ranked by the merged piece's
//! score, which is how HF converts such vocabularies too, so we build a `tokenizers` BPE with
//! byte fallback from the pieces and scores.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence};
use tokenizers::{NormalizerWrapper, Tokenizer};

use super::tokenizer::{is_chat_marker, model_err};
use crate::Result;

/// GGUF token types (llama.cpp `llama_token_type`).
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const UNUSED: i32 = 5;
const BYTE: i32 = 6;

/// The byte a `<0xNN>` piece stands for.
fn byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() == 2 { u8::from_str_radix(hex, 16).ok() } else { None }
}

/// Pieces that are never text: control, unknown and unused tokens, and chat markers.
pub fn special(tokens: &[String], types: &[i32]) -> Vec<bool> {
    let kind = |i: usize| types.get(i).copied().unwrap_or(1);
    (0..tokens.len()).map(|i| matches!(kind(i), UNKNOWN | CONTROL | UNUSED) || is_chat_marker(&tokens[i])).collect()
}

/// The exact bytes of each piece (`▁` is a space; special pieces: their literal name).
pub fn piece_bytes(tokens: &[String], special: &[bool]) -> Vec<Vec<u8>> {
    let bytes = |(t, &s): (&String, &bool)| match (s, byte_piece(t)) {
        (true, _) => t.as_bytes().to_vec(),
        (false, Some(b)) => vec![b],
        (false, None) => t.replace('\u{2581}', " ").into_bytes(),
    };
    tokens.iter().zip(special).map(bytes).collect()
}

/// BPE merges from pieces and scores: every split of a text piece into two text pieces,
/// best-scoring union first (then by piece ids, as HF's SentencePiece converter orders them).
fn merges(tokens: &[String], scores: &[f32], text: &[bool]) -> Vec<(String, String)> {
    let ids: HashMap<&str, usize> =
        tokens.iter().enumerate().filter(|&(i, _)| text[i]).map(|(i, t)| (t.as_str(), i)).collect();
    let mut found: Vec<(f32, usize, usize, usize)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate().filter(|&(i, _)| text[i]) {
        for (cut, _) in piece.char_indices().skip(1) {
            if let (Some(&l), Some(&r)) = (ids.get(&piece[..cut]), ids.get(&piece[cut..])) {
                found.push((scores.get(id).copied().unwrap_or(0.0), id, l, r));
            }
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2, a.3).cmp(&(b.1, b.2, b.3))));
    found.into_iter().map(|(_, _, l, r)| (tokens[l].clone(), tokens[r].clone())).collect()
}

/// The tokenizer for a SentencePiece vocabulary; `special` as from [`special`].
pub fn tokenizer(content: &Content, tokens: &[String], types: &[i32], special: &[bool]) -> Result<Tokenizer> {
    let scores: Vec<f32> = match content.metadata.get("tokenizer.ggml.scores") {
        Some(Value::Array(items)) => items.iter().map(|v| v.to_f32().unwrap_or(0.0)).collect(),
        _ => vec![0.0; tokens.len()],
    };
    let text: Vec<bool> = (0..tokens.len())
        .map(|i| !special[i] && types.get(i) != Some(&BYTE) && byte_piece(&tokens[i]).is_none())
        .collect();
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let mut builder = BPE::builder().vocab_and_merges(vocab, merges(tokens, &scores, &text)).byte_fallback(true);
    if let Some(unk) = (0..tokens.len()).find(|&i| types.get(i) == Some(&UNKNOWN)) {
        builder = builder.unk_token(tokens[unk].clone());
    }
    let mut tokenizer = Tokenizer::new(builder.build().map_err(model_err)?);
    // llama.cpp's default is to prepend a space; gemma's GGUF files turn that off.
    let prefix = content.metadata.get("tokenizer.ggml.add_space_prefix").and_then(|v| v.to_bool().ok()).unwrap_or(true);
    let mut steps = Vec::new();
    if prefix {
        steps.push(NormalizerWrapper::Prepend(Prepend::new("\u{2581}".into())));
    }
    steps.push(NormalizerWrapper::Replace(Replace::new(" ", "\u{2581}").map_err(model_err)?));
    tokenizer.with_normalizer(Some(Sequence::new(steps)));
    Ok(tokenizer)
}
