//! A chat model's weights loaded onto a candle device for the device forward pass: matrices
//! stay in the file's quantization (candle's quantized matmul runs them on the GPU), norms and
//! biases become f32 tensors, and the token embeddings are expanded once to f16 for lookups.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{Device, Tensor};

use super::super::config::{Arch, Config};

type Res<T> = std::result::Result<T, String>;

/// gemma3's extra norms (see `weights::ExtraNorms`).
pub(super) struct Extra {
    pub q: Tensor,
    pub k: Tensor,
    pub post_attn: Tensor,
    pub post_ffn: Tensor,
}

pub(super) struct Layer {
    pub attn_norm: Tensor,
    pub q: QMatMul,
    pub k: QMatMul,
    pub v: QMatMul,
    /// q, k and v biases (qwen2).
    pub bias: Option<[Tensor; 3]>,
    pub wo: QMatMul,
    pub ffn_norm: Tensor,
    pub gate: QMatMul,
    pub up: QMatMul,
    pub down: QMatMul,
    pub extra: Option<Extra>,
}

pub(super) struct DeviceWeights {
    pub config: Config,
    /// `[vocab, d_model]`, f16.
    pub embed: Tensor,
    pub layers: Vec<Layer>,
    pub out_norm: Tensor,
    pub output: QMatMul,
    /// Bytes of the matrices as stored on the device.
    pub bytes: usize,
}

struct Reader<'a, R> {
    content: &'a gguf_file::Content,
    file: &'a mut R,
    device: &'a Device,
    bytes: usize,
}

impl<R: Read + Seek> Reader<'_, R> {
    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn qtensor(&mut self, name: &str) -> Res<QTensor> {
        if !self.has(name) {
            return Err(format!("GGUF has no tensor {name}"));
        }
        let t = self.content.tensor(self.file, name, self.device).map_err(|e| format!("{name}: {e}"))?;
        self.bytes += t.storage_size_in_bytes();
        Ok(t)
    }

    fn matrix(&mut self, name: &str) -> Res<QMatMul> {
        let t = self.qtensor(name)?;
        if t.shape().rank() != 2 {
            return Err(format!("{name}: expected a matrix, got {:?}", t.shape()));
        }
        QMatMul::from_qtensor(t).map_err(|e| format!("{name}: {e}"))
    }

    fn vector(&mut self, name: &str) -> Res<Tensor> {
        let t = self.qtensor(name)?;
        t.dequantize(self.device).and_then(|t| t.flatten_all()).map_err(|e| format!("{name}: {e}"))
    }
}

impl DeviceWeights {
    pub fn load<R: Read + Seek>(content: &gguf_file::Content, file: &mut R, device: &Device) -> Res<Self> {
        let config = Config::from_gguf(content)?;
        let mut r = Reader { content, file, device, bytes: 0 };
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            layers.push(load_layer(&mut r, &config, i)?);
        }
        let embed_q = Arc::new(r.qtensor("token_embd.weight")?);
        let embed = embed_q.dequantize_f16(device).map_err(|e| format!("token_embd.weight: {e}"))?;
        let output = if r.has("output.weight") {
            r.matrix("output.weight")?
        } else {
            QMatMul::from_arc(embed_q).map_err(|e| format!("token_embd.weight: {e}"))?
        };
        let out_norm = r.vector("output_norm.weight")?;
        let bytes = r.bytes;
        let weights = Self { config, embed, layers, out_norm, output, bytes };
        weights.check()?;
        Ok(weights)
    }

    fn check(&self) -> Res<()> {
        let c = &self.config;
        let dims = self.embed.dims();
        let ok = dims == [c.vocab, c.d_model]
            && self.layers.iter().all(|l| l.attn_norm.dims() == [c.d_model])
            && c.heads.is_multiple_of(c.kv_heads.max(1))
            && c.head_dim.is_multiple_of(2);
        if ok { Ok(()) } else { Err("tensor shapes do not match the GGUF metadata".into()) }
    }
}

fn load_layer<R: Read + Seek>(r: &mut Reader<'_, R>, config: &Config, i: usize) -> Res<Layer> {
    let p = |s: &str| format!("blk.{i}.{s}");
    let bias = if r.has(&p("attn_q.bias")) {
        Some([r.vector(&p("attn_q.bias"))?, r.vector(&p("attn_k.bias"))?, r.vector(&p("attn_v.bias"))?])
    } else {
        None
    };
    let extra = match config.arch {
        Arch::Gemma3 => Some(Extra {
            q: r.vector(&p("attn_q_norm.weight"))?,
            k: r.vector(&p("attn_k_norm.weight"))?,
            post_attn: r.vector(&p("post_attention_norm.weight"))?,
            post_ffn: r.vector(&p("post_ffw_norm.weight"))?,
        }),
        Arch::Llama | Arch::Qwen2 => None,
    };
    Ok(Layer {
        attn_norm: r.vector(&p("attn_norm.weight"))?,
        q: r.matrix(&p("attn_q.weight"))?,
        k: r.matrix(&p("attn_k.weight"))?,
        v: r.matrix(&p("attn_v.weight"))?,
        bias,
        wo: r.matrix(&p("attn_output.weight"))?,
        ffn_norm: r.vector(&p("ffn_norm.weight"))?,
        gate: r.matrix(&p("ffn_gate.weight"))?,
        up: r.matrix(&p("ffn_up.weight"))?,
        down: r.matrix(&p("ffn_down.weight"))?,
        extra,
    })
}
