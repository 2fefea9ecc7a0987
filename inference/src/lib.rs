//! The local language model. The rest of the system sees only the `LanguageModel` trait:
//! the model classifies and extracts under constrained decoding and phrases replies; it never
//! decides. The candle engine (feature `candle`) runs the model on its own thread.

pub mod config;
pub mod grammar;
pub mod models;
pub mod schema;
#[cfg(feature = "candle")]
mod stops;

#[cfg(feature = "candle")]
pub mod bench;
#[cfg(feature = "candle")]
mod engine;

pub use config::{ModelConfig, ModelDevice};
#[cfg(feature = "candle")]
pub use engine::{CandleModel, ChatTokenizer, EngineStats, Kind, KindStats};
pub use models::{default_models_dir, fetch, resolve, verify, Manifest, ModelPaths};

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

/// Errors from loading or running the model.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The request queue is full: callers answer 503 with Retry-After.
    #[error("model is overloaded")]
    Overloaded,
    /// The engine thread is gone (shut down or crashed).
    #[error("model engine stopped")]
    Stopped,
    /// A model file is missing, truncated or fails its checksum.
    #[error("model file {path}: {why}")]
    BadModelFile { path: String, why: String },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("model error: {0}")]
    Model(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One chat message for the chat template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// A prompt: messages rendered with the model's chat template. `session` lets the engine reuse
/// that conversation's KV cache across turns; the system message's KV cache is shared.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Prompt {
    pub messages: Vec<Message>,
    pub session: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GenerateParams {
    pub max_tokens: usize,
    pub stop: Vec<String>,
    /// 0.0 = greedy.
    pub temperature: f64,
    pub seed: u64,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self { max_tokens: 128, stop: Vec::new(), temperature: 0.0, seed: 0 }
    }
}

/// Result of `choose`: the index of the best option and each option's log-probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: usize,
    pub logprobs: Vec<f32>,
}

/// What identifies the model in an audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub sha256: String,
    pub embedding_id: String,
    pub embedding_sha256: String,
}

/// The model as the rest of the system sees it.
#[async_trait]
pub trait LanguageModel: Send + Sync {
    fn info(&self) -> ModelInfo;
    /// Streams generated text pieces until a stop sequence, end of turn or `max_tokens`.
    async fn generate(&self, prompt: Prompt, params: GenerateParams)
        -> Result<BoxStream<'static, Result<String>>>;
    /// Scores each option as the assistant's answer to `prompt`. Frame it with the question
    /// and options in the system message and the patient's own words as the last user message:
    /// the candle engine mixes the chat model's score with the embedding similarity between
    /// that message and each option (`logprobs` are logs of the mixture probabilities).
    async fn choose(&self, prompt: Prompt, options: Vec<String>) -> Result<Choice>;
    /// A JSON value valid against `schema` (the supported JSON-schema subset) by construction.
    async fn extract(&self, prompt: Prompt, schema: serde_json::Value) -> Result<serde_json::Value>;
    /// L2-normalised sentence embeddings, one per text.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>>;
    /// The engine's counters, for engines that keep them (metrics and benchmarks).
    fn engine_stats(&self) -> Option<EngineStats> {
        None
    }
}
