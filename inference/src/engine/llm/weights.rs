//! Reading a chat model's weights out of a GGUF file into the layout our kernels want: 8-bit
//! blocks for every matrix (Q8_0 tensors are taken as they are; any other quantization is
//! expanded once with candle and re-quantized), q/k/v and gate/up stacked so one product
//! computes each, norms and biases as f32. Token embeddings stay quantized.

use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::{gguf_file, GgmlDType};
use candle_core::Device;

use super::config::{Arch, Config};
use super::kernels::QMatrix;

type Res<T> = std::result::Result<T, String>;

pub struct Layer {
    pub attn_norm: Vec<f32>,
    /// q, k and v projections stacked: `[q_dim + 2 kv_dim, d_model]`.
    pub qkv: QMatrix,
    pub qkv_bias: Option<Vec<f32>>,
    pub wo: QMatrix,
    pub ffn_norm: Vec<f32>,
    /// gate and up projections stacked: `[2 ffn, d_model]`.
    pub gate_up: QMatrix,
    pub down: QMatrix,
    /// gemma3's extra norms; `None` for llama and qwen2.
    pub extra: Option<ExtraNorms>,
}

/// gemma3's norms beyond llama's two: per-head on queries and keys (before rotation), and on
/// the attention and MLP outputs before each joins the residual stream. GGUF files store
/// gemma's norm weights with the `1 +` of its RMSNorm already added, so every norm here is a
/// plain RMSNorm.
pub struct ExtraNorms {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub post_attn: Vec<f32>,
    pub post_ffn: Vec<f32>,
}

pub struct Weights {
    pub config: Config,
    pub embed: QMatrix,
    pub layers: Vec<Layer>,
    pub out_norm: Vec<f32>,
    /// `None`: the output projection is tied to the token embeddings.
    pub output: Option<QMatrix>,
}

/// Reads tensors by name from an open GGUF file.
struct Reader<'a, R> {
    content: &'a gguf_file::Content,
    file: &'a mut R,
}

impl<'a, R: Read + Seek> Reader<'a, R> {
    fn info(&self, name: &str) -> Res<&'a gguf_file::TensorInfo> {
        let content: &'a gguf_file::Content = self.content;
        content.tensor_infos.get(name).ok_or_else(|| format!("GGUF has no tensor {name}"))
    }

    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn floats(&mut self, name: &str) -> Res<Vec<f32>> {
        let info = self.info(name)?;
        let q = info
            .read(self.file, self.content.tensor_data_offset, &Device::Cpu)
            .map_err(|e| format!("{name}: {e}"))?;
        q.dequantize(&Device::Cpu)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("{name}: {e}"))
    }

    fn matrix(&mut self, name: &str) -> Res<QMatrix> {
        let info = self.info(name)?;
        let dims = info.shape.dims().to_vec();
        let [rows, cols] = dims[..] else { return Err(format!("{name}: expected a matrix, got {dims:?}")) };
        if info.ggml_dtype == GgmlDType::Q8_0 {
            let mut raw = vec![0u8; rows * cols / 32 * 34];
            self.file
                .seek(SeekFrom::Start(self.content.tensor_data_offset + info.offset))
                .and_then(|_| self.file.read_exact(&mut raw))
                .map_err(|e| format!("{name}: {e}"))?;
            return Ok(QMatrix::from_q8_0(&raw, rows, cols));
        }
        let values = self.floats(name)?;
        Ok(QMatrix::quantize(&values, rows, cols))
    }
}

impl Weights {
    pub fn load<R: Read + Seek>(content: &gguf_file::Content, file: &mut R) -> Res<Self> {
        let config = Config::from_gguf(content)?;
        let mut r = Reader { content, file };
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = |s: &str| format!("blk.{i}.{s}");
            let qkv = QMatrix::stack(&[
                r.matrix(&p("attn_q.weight"))?,
                r.matrix(&p("attn_k.weight"))?,
                r.matrix(&p("attn_v.weight"))?,
            ]);
            let qkv_bias = if r.has(&p("attn_q.bias")) {
                let mut b = r.floats(&p("attn_q.bias"))?;
                b.extend(r.floats(&p("attn_k.bias"))?);
                b.extend(r.floats(&p("attn_v.bias"))?);
                Some(b)
            } else {
                None
            };
            layers.push(Layer {
                attn_norm: r.floats(&p("attn_norm.weight"))?,
                qkv,
                qkv_bias,
                wo: r.matrix(&p("attn_output.weight"))?,
                ffn_norm: r.floats(&p("ffn_norm.weight"))?,
                gate_up: QMatrix::stack(&[r.matrix(&p("ffn_gate.weight"))?, r.matrix(&p("ffn_up.weight"))?]),
                down: r.matrix(&p("ffn_down.weight"))?,
                extra: match config.arch {
                    Arch::Gemma3 => Some(ExtraNorms {
                        q: r.floats(&p("attn_q_norm.weight"))?,
                        k: r.floats(&p("attn_k_norm.weight"))?,
                        post_attn: r.floats(&p("post_attention_norm.weight"))?,
                        post_ffn: r.floats(&p("post_ffw_norm.weight"))?,
                    }),
                    Arch::Llama | Arch::Qwen2 => None,
                },
            });
        }
        let output = if r.has("output.weight") { Some(r.matrix("output.weight")?) } else { None };
        let weights = Self {
            embed: r.matrix("token_embd.weight")?,
            out_norm: r.floats("output_norm.weight")?,
            output,
            layers,
            config,
        };
        weights.check()?;
        Ok(weights)
    }

    fn check(&self) -> Res<()> {
        let c = &self.config;
        let l = &self.layers[0];
        let ok = l.qkv.rows == c.q_dim() + 2 * c.kv_dim()
            && l.qkv.cols == c.d_model
            && l.wo.rows == c.d_model
            && l.wo.cols == c.q_dim()
            && l.extra.as_ref().is_none_or(|e| e.q.len() == c.head_dim && e.k.len() == c.head_dim)
            && l.gate_up.rows == 2 * c.ffn
            && l.down.cols == c.ffn
            && c.heads.is_multiple_of(c.kv_heads.max(1))
            && c.head_dim.is_multiple_of(2);
        if ok { Ok(()) } else { Err("tensor shapes do not match the GGUF metadata".into()) }
    }

    /// Bytes of weights held in memory.
    pub fn bytes(&self) -> usize {
        let layer: usize = self
            .layers
            .iter()
            .map(|l| l.qkv.bytes() + l.wo.bytes() + l.gate_up.bytes() + l.down.bytes())
            .sum();
        layer + self.embed.bytes() + self.output.as_ref().map_or(0, QMatrix::bytes)
    }
}
