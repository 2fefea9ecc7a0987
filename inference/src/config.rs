//! The `[model]` section of the service config: engine sizing and optional model paths.
//! Always compiled (the service parses it even in builds without the candle engine).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Engine settings. Every field has a default, unknown keys are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Threads of the engine's own rayon pool (matmuls). 0 = all cores. Default 1: on a
    /// 2-core host two threads collapse (~6x slower) as soon as the other core is busy;
    /// raise it on hosts with cores to spare (see `agent bench model`).
    pub threads: usize,
    /// Requests waiting or running at once; one more is refused with `Error::Overloaded`.
    pub queue_capacity: usize,
    /// Upper bound on `GenerateParams::max_tokens` (larger requests are clamped).
    pub max_tokens: usize,
    /// Token budget for one `extract` answer.
    pub max_extract_tokens: usize,
    /// Prompt + answer tokens a request may use (the model's context is 8192 for SmolLM2;
    /// candle's llama is built for 4096).
    pub context_tokens: usize,
    /// Bytes of KV cache kept for reuse (system-prompt prefixes and recent sessions).
    pub kv_cache_bytes: u64,
    /// Folder with `manifest.toml` and `cache/`; default: see `models::default_models_dir`.
    pub models_dir: Option<PathBuf>,
    /// A site's own chat GGUF (llama, qwen2 or gemma3 architecture), used instead of the manifest's.
    pub chat_gguf: Option<PathBuf>,
    /// A site's own BERT folder (`model.safetensors`, `config.json`, `tokenizer.json`).
    pub embedding_dir: Option<PathBuf>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            queue_capacity: 32,
            max_tokens: 512,
            max_extract_tokens: 256,
            context_tokens: 4096,
            kv_cache_bytes: 256 << 20,
            models_dir: None,
            chat_gguf: None,
            embedding_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_unknown_keys_and_fills_defaults() {
        let cfg: ModelConfig = toml::from_str("threads = 1").unwrap();
        assert_eq!(cfg.threads, 1);
        assert_eq!(cfg.queue_capacity, ModelConfig::default().queue_capacity);
        assert!(toml::from_str::<ModelConfig>("thread = 1").is_err());
    }
}
