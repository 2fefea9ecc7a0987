//! Reading a chat model's weights out of a GGUF file into the layout our kernels want: 8-bit
//! blocks for every matrix (Q8_0 tensors are taken as they are; any other quantization is
//! expanded once with candle and re-quantized), q/k/v and gate/up stacked so one product
//! computes each, norms and biases as f32. Token embeddings stay quantized.

use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::{gguf_file, GgmlDType};
use candle_core::Device;

use super::kernels::QMatrix;

/// The architectures this engine runs (GGUF `general.architecture`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
}

/// The shape of the network, from GGUF metadata.
#[derive(Clone, Debug)]
pub struct Config {
    #[allow(dead_code)] // shown in Debug output; the layout differences are the fields below
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
    /// Rotary pairs `(i, i + d/2)` (NeoX, qwen2) instead of `(2i, 2i + 1)` (llama GGUF).
    pub rope_neox: bool,
    pub context: usize,
}

impl Config {
    pub fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

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
}

pub struct Weights {
    pub config: Config,
    pub embed: QMatrix,
    pub layers: Vec<Layer>,
    pub out_norm: Vec<f32>,
    /// `None`: the output projection is tied to the token embeddings.
    pub output: Option<QMatrix>,
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
            other => return Err(format!("unsupported architecture {other:?} (llama, qwen2)")),
        };
        let need = |key: &str| -> Res<usize> {
            meta_usize(content, &format!("{name}.{key}"))?.ok_or_else(|| format!("GGUF has no {name}.{key}"))
        };
        let d_model = need("embedding_length")?;
        let heads = need("attention.head_count")?;
        let kv_heads = meta_usize(content, &format!("{name}.attention.head_count_kv"))?.unwrap_or(heads);
        let vocab = content
            .tensor_infos
            .get("token_embd.weight")
            .map(|t| t.shape.dims()[0])
            .ok_or("GGUF has no token_embd.weight")?;
        Ok(Self {
            arch,
            layers: need("block_count")?,
            d_model,
            heads,
            kv_heads,
            head_dim: d_model / heads.max(1),
            ffn: need("feed_forward_length")?,
            vocab,
            eps: meta_f32(content, &format!("{name}.attention.layer_norm_rms_epsilon")).unwrap_or(1e-5),
            rope_theta: meta_f32(content, &format!("{name}.rope.freq_base")).unwrap_or(10_000.0),
            rope_neox: arch == Arch::Qwen2,
            context: meta_usize(content, &format!("{name}.context_length"))?.unwrap_or(4096),
        })
    }
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
            && l.gate_up.rows == 2 * c.ffn
            && l.down.cols == c.ffn
            && c.heads % c.kv_heads.max(1) == 0
            && c.head_dim % 2 == 0;
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
