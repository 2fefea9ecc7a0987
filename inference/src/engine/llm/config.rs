//! The shape of a chat network and the few ways the supported architectures differ, read from
//! GGUF metadata. llama and qwen2 differ only in rotary pairing and q/k/v biases; gemma3 adds
//! scaled embeddings, per-head q/k norms, norms after attention and after the MLP, a GELU-gated
//! MLP, and sliding-window layers with their own rotary base between its global layers.

use candle_core::quantized::gguf_file;

/// The architectures this engine runs (GGUF `general.architecture`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
    Gemma3,
}

/// The gate's activation in the gated MLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// SwiGLU (llama, qwen2).
    Silu,
    /// GeGLU with the tanh approximation of GELU (gemma3, as in HF `gelu_pytorch_tanh` and
    /// llama.cpp; candle 0.11.1's `quantized_gemma3` uses SiLU here, which is wrong:
    /// huggingface/candle#3745).
    GeluTanh,
}

/// Sliding-window attention (gemma3): every layer but each `pattern`-th one attends only to
/// the `window` most recent positions (itself included, as in HF and llama.cpp) and rotates
/// with its own base.
#[derive(Clone, Copy, Debug)]
pub struct Sliding {
    pub window: usize,
    pub pattern: usize,
    pub rope_theta: f32,
}

/// The shape of the network, from GGUF metadata.
#[derive(Clone, Debug)]
pub struct Config {
    pub arch: Arch,
    pub layers: usize,
    pub d_model: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub eps: f32,
    pub rope_theta: f32,
    /// Linear rotary scaling of the global layers (positions divided by it); 1 = none.
    pub rope_scale: f32,
    /// Rotary pairs `(i, i + d/2)` (NeoX: qwen2, gemma3) instead of `(2i, 2i + 1)` (llama GGUF).
    pub rope_neox: bool,
    pub context: usize,
    pub act: Act,
    /// Token embeddings are multiplied by this (gemma3: `sqrt(d_model)`).
    pub embed_scale: f32,
    /// Attention logits are multiplied by this (`1 / sqrt(query_pre_attn_scalar)`).
    pub attn_scale: f32,
    pub sliding: Option<Sliding>,
}

impl Config {
    pub fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// The sliding window of layer `l`; `None` for a global layer.
    pub fn window(&self, l: usize) -> Option<usize> {
        self.sliding.filter(|s| !(l + 1).is_multiple_of(s.pattern.max(1))).map(|s| s.window)
    }
}

type Res<T> = std::result::Result<T, String>;

fn meta_usize(content: &gguf_file::Content, key: &str) -> Res<Option<usize>> {
    match content.metadata.get(key) {
        None => Ok(None),
        Some(v) => v.to_u32().map(|x| Some(x as usize)).map_err(|e| format!("{key}: {e}")),
    }
}

fn meta_f32(content: &gguf_file::Content, key: &str) -> Option<f32> {
    content.metadata.get(key).and_then(|v| v.to_f32().ok())
}

impl Config {
    pub fn from_gguf(content: &gguf_file::Content) -> Res<Self> {
        let name = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let arch = match name.as_str() {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "gemma3" => Arch::Gemma3,
            other => return Err(format!("unsupported architecture {other:?} (llama, qwen2, gemma3)")),
        };
        let opt = |key: &str| meta_usize(content, &format!("{name}.{key}"));
        let need = |key: &str| -> Res<usize> { opt(key)?.ok_or_else(|| format!("GGUF has no {name}.{key}")) };
        let float = |key: &str| meta_f32(content, &format!("{name}.{key}"));
        let d_model = need("embedding_length")?;
        let heads = need("attention.head_count")?;
        let head_dim = opt("attention.key_length")?.unwrap_or(d_model / heads.max(1));
        let layers = need("block_count")?;
        let vocab = content
            .tensor_infos
            .get("token_embd.weight")
            .map(|t| t.shape.dims()[0])
            .ok_or("GGUF has no token_embd.weight")?;
        let mut config = Self {
            arch,
            layers,
            d_model,
            heads,
            kv_heads: opt("attention.head_count_kv")?.unwrap_or(heads),
            head_dim,
            ffn: need("feed_forward_length")?,
            vocab,
            eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
            rope_scale: 1.0,
            rope_neox: arch != Arch::Llama,
            context: opt("context_length")?.unwrap_or(4096),
            act: Act::Silu,
            embed_scale: 1.0,
            attn_scale: 1.0 / (head_dim as f32).sqrt(),
            sliding: None,
        };
        if arch == Arch::Gemma3 {
            config.gemma3(content, &name)?;
        }
        Ok(config)
    }

    /// gemma3's differences. Keys and defaults follow llama.cpp's gemma3 loader (and candle's
    /// `quantized_gemma3` for `rope.local_freq_base` / `attention.sliding_window_type`).
    fn gemma3(&mut self, content: &gguf_file::Content, name: &str) -> Res<()> {
        let opt = |key: &str| meta_usize(content, &format!("{name}.{key}"));
        let float = |key: &str| meta_f32(content, &format!("{name}.{key}"));
        self.act = Act::GeluTanh;
        self.embed_scale = (self.d_model as f32).sqrt();
        self.rope_theta = float("rope.freq_base").unwrap_or(1_000_000.0);
        self.rope_scale = float("rope.scaling.factor").filter(|f| *f > 0.0).unwrap_or(1.0);
        self.eps = float("attention.layer_norm_rms_epsilon").unwrap_or(1e-6);
        // query_pre_attn_scalar: head_dim, except the 27B model (62 layers), which uses
        // d_model / heads (llama.cpp hard-codes the same rule; the GGUF carries no key for it).
        let scalar = match (float("attention.query_pre_attn_scalar"), self.layers) {
            (Some(s), _) => s,
            (None, 62) => (self.d_model / self.heads) as f32,
            (None, _) => self.head_dim as f32,
        };
        self.attn_scale = 1.0 / scalar.sqrt();
        let window = opt("attention.sliding_window")?
            .ok_or_else(|| format!("GGUF has no {name}.attention.sliding_window"))?;
        self.sliding = Some(Sliding {
            window,
            pattern: opt("attention.sliding_window_type")?.unwrap_or(6),
            rope_theta: float("rope.local_freq_base").unwrap_or(10_000.0),
        });
        Ok(())
    }
}
