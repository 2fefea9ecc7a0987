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
    /// The same for embeddings, counted apart: every patient message of a few words is
    /// embedded (the red-flag and intent example net), and waiting embeddings run as one batch,
    /// so they need more places than generations and cost far less each.
    pub embed_queue_capacity: usize,
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
    /// Where the chat model's forward pass runs: `cpu`, `cuda` or `cuda:N`, or `candle-cpu`.
    pub device: ModelDevice,
}

/// Where the chat model's forward pass runs. The embedding model always runs on the CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ModelDevice {
    /// Our own pass with int8 kernels: the fast one on a CPU.
    #[default]
    Cpu,
    /// GPU `n` through candle's CUDA backend (a build with the `cuda` feature).
    Cuda(usize),
    /// The pass a GPU runs, on candle's CPU backend: slower than `cpu`, for checking the GPU
    /// path on a machine without one.
    CandleCpu,
}

impl std::fmt::Display for ModelDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(0) => f.write_str("cuda"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::CandleCpu => f.write_str("candle-cpu"),
        }
    }
}

impl std::str::FromStr for ModelDevice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("unknown device {s:?} (cpu, cuda, cuda:N, candle-cpu)");
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            "candle-cpu" => Ok(Self::CandleCpu),
            _ => s.strip_prefix("cuda:").and_then(|n| n.parse().ok()).map(Self::Cuda).ok_or_else(bad),
        }
    }
}

impl TryFrom<String> for ModelDevice {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ModelDevice> for String {
    fn from(d: ModelDevice) -> Self {
        d.to_string()
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            queue_capacity: 32,
            embed_queue_capacity: 256,
            max_tokens: 512,
            max_extract_tokens: 256,
            context_tokens: 4096,
            kv_cache_bytes: 256 << 20,
            models_dir: None,
            chat_gguf: None,
            embedding_dir: None,
            device: ModelDevice::Cpu,
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

    #[test]
    fn devices_parse_and_print_back() {
        for (text, device) in [
            ("cpu", ModelDevice::Cpu),
            ("cuda", ModelDevice::Cuda(0)),
            ("cuda:2", ModelDevice::Cuda(2)),
            ("candle-cpu", ModelDevice::CandleCpu),
        ] {
            let cfg: ModelConfig = toml::from_str(&format!("device = {text:?}")).unwrap();
            assert_eq!(cfg.device, device);
            assert_eq!(device.to_string(), text);
        }
        assert_eq!(ModelConfig::default().device, ModelDevice::Cpu);
        for bad in ["gpu", "cuda:", "cuda:x", "CUDA"] {
            let err = toml::from_str::<ModelConfig>(&format!("device = {bad:?}")).unwrap_err().to_string();
            assert!(err.contains("unknown device"), "{bad}: {err}");
        }
    }
}
