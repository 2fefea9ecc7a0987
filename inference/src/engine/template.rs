//! Chat templates: which one a GGUF calls for (ChatML, or gemma's turns), how messages become
//! tokens, and which tokens end the model's turn. The choice reads `tokenizer.chat_template`
//! when the GGUF has one, else the vocabulary's turn markers. Markers are pushed as ids and
//! message text is encoded plainly, so text can never forge a marker.

use candle_core::quantized::gguf_file::Content;

use super::tokenizer::ChatTokenizer;
use crate::{Error, Message, Result, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `<|im_start|>role\ncontent<|im_end|>\n`, no BOS (SmolLM2, qwen2).
    ChatMl { start: u32, end: u32 },
    /// `<bos><start_of_turn>user\ncontent<end_of_turn>\n`; the assistant is `model`, and the
    /// system prompt opens the first user turn (gemma has no system role).
    Gemma { bos: Option<u32>, start: u32, end: u32 },
}

#[derive(Clone, Debug)]
pub struct Template {
    kind: Kind,
    /// Tokens that end the assistant's turn (the turn marker, then end-of-text / EOS).
    stops: Vec<u32>,
}

fn meta_id(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(|v| v.to_u32().ok())
}

impl Template {
    pub fn from_gguf(content: &Content, tok: &ChatTokenizer) -> Result<Self> {
        let declared = content.metadata.get("tokenizer.chat_template").and_then(|v| v.to_string().ok());
        let gemma_ids = (tok.token_id("<start_of_turn>"), tok.token_id("<end_of_turn>"));
        let chatml_ids = (tok.token_id("<|im_start|>"), tok.token_id("<|im_end|>"));
        let wants_gemma = match declared {
            Some(t) if t.contains("<start_of_turn>") => true,
            Some(t) if t.contains("<|im_start|>") => false,
            _ => chatml_ids.0.is_none() && gemma_ids.0.is_some(),
        };
        let eos = meta_id(content, "tokenizer.ggml.eos_token_id");
        let (kind, stops) = match (wants_gemma, gemma_ids, chatml_ids) {
            (true, (Some(start), Some(end)), _) => {
                let bos = meta_id(content, "tokenizer.ggml.bos_token_id").or(tok.token_id("<bos>"));
                (Kind::Gemma { bos, start, end }, [Some(end), eos, tok.token_id("<eos>")])
            }
            (false, _, (Some(start), Some(end))) => {
                (Kind::ChatMl { start, end }, [Some(end), tok.token_id("<|endoftext|>"), eos])
            }
            _ => {
                let why = "no chat template: the vocabulary has neither ChatML nor gemma turn markers";
                return Err(Error::Model(why.into()));
            }
        };
        let mut stops: Vec<u32> = stops.into_iter().flatten().collect();
        stops.sort_unstable();
        stops.dedup();
        Ok(Self { kind, stops })
    }

    /// True for the tokens that end the assistant's turn.
    pub fn is_stop(&self, id: u32) -> bool {
        self.stops.contains(&id)
    }

    /// The token that closes a turn (appended to each option `choose` scores).
    pub fn end_of_turn(&self) -> u32 {
        match self.kind {
            Kind::ChatMl { end, .. } | Kind::Gemma { end, .. } => end,
        }
    }

    /// The messages as tokens, then (when `open_answer`) the opening of the assistant's turn.
    /// Returns the tokens and where the system part ends (the shareable prefix). The first
    /// message must be the system prompt.
    pub fn render(&self, tok: &ChatTokenizer, messages: &[Message], open_answer: bool) -> Rendered {
        if messages.first().map(|m| m.role) != Some(Role::System) {
            return Err(Error::InvalidRequest("the prompt must start with a system message".into()));
        }
        match self.kind {
            Kind::ChatMl { start, end } => chatml(tok, start, end, messages, open_answer),
            Kind::Gemma { bos, start, end } => gemma(tok, bos, (start, end), messages, open_answer),
        }
    }
}

/// Prompt tokens and where the system part ends.
type Rendered = Result<(Vec<u32>, usize)>;

fn chatml(tok: &ChatTokenizer, start: u32, end: u32, messages: &[Message], open_answer: bool) -> Rendered {
    let mut tokens = Vec::new();
    let mut system_end = 0;
    for (i, m) in messages.iter().enumerate() {
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        tokens.push(start);
        tokens.extend(tok.encode(&format!("{role}\n{}", m.content))?);
        tokens.push(end);
        tokens.extend(tok.encode("\n")?);
        if i == 0 {
            system_end = tokens.len();
        }
    }
    if open_answer {
        tokens.push(start);
        tokens.extend(tok.encode("assistant\n")?);
    }
    Ok((tokens, system_end))
}

/// gemma's template (as its `tokenizer.chat_template`): contents trimmed, the system prompt
/// and a blank line at the head of the first user turn.
fn gemma(tok: &ChatTokenizer, bos: Option<u32>, turn: (u32, u32), messages: &[Message], open_answer: bool) -> Rendered {
    let (start, end) = turn;
    let mut tokens: Vec<u32> = bos.into_iter().collect();
    tokens.push(start);
    tokens.extend(tok.encode(&format!("user\n{}\n\n", messages[0].content.trim()))?);
    let system_end = tokens.len();
    let mut rest = &messages[1..];
    match rest.first() {
        Some(m) if m.role == Role::User => {
            tokens.extend(tok.encode(m.content.trim())?);
            rest = &rest[1..];
        }
        _ => {}
    }
    tokens.push(end);
    tokens.extend(tok.encode("\n")?);
    for m in rest {
        let role = if m.role == Role::Assistant { "model" } else { "user" };
        tokens.push(start);
        tokens.extend(tok.encode(&format!("{role}\n{}", m.content.trim()))?);
        tokens.push(end);
        tokens.extend(tok.encode("\n")?);
    }
    if open_answer {
        tokens.push(start);
        tokens.extend(tok.encode("model\n")?);
    }
    Ok((tokens, system_end))
}
