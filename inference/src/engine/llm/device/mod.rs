//! The forward pass on a candle device: the same network as `llm` (llama, qwen2, gemma3, the
//! same `Config`) written in candle tensor operations, so it runs wherever candle does — on a
//! GPU with the `cuda` feature. Our own pass (`llm`) stays the CPU's: its kernels are x86 code
//! and several times faster there than candle's. The engine around either is the same: every
//! sequence's KV cache lives outside the weights (`DeviceCache`, shareable snapshots), and a
//! batch of sequences goes through each weight matrix in one product, and through the rotary
//! embedding in one kernel (each row at its own position); attention runs per sequence over
//! its own cache. On a GPU a small model's step costs kernel launches more than arithmetic,
//! so the per-sequence part is kept to the few launches attention needs.

mod cache;
mod weights;
#[cfg(test)]
mod tests;

use std::io::{Read, Seek};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::ops::{rms_norm, silu, softmax_last_dim};
use candle_nn::rotary_emb::{rope, rope_i};

pub use cache::DeviceCache;
use weights::{DeviceWeights, Layer};

use super::check_feed;
use super::config::{Act, Config};

/// One sequence's part of a batch (see `llm::Item`).
pub struct DeviceItem<'a> {
    pub cache: &'a mut DeviceCache,
    pub tokens: &'a [u32],
}

/// Rotary tables on the device, `[positions, head_dim / 2]` each.
struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    fn new(c: &Config, theta: f32, scale: f32, positions: usize, device: &Device) -> Result<Self> {
        let half = c.head_dim / 2;
        let (mut cos, mut sin) = (Vec::with_capacity(positions * half), Vec::with_capacity(positions * half));
        for p in 0..positions {
            for i in 0..half {
                let freq = (theta as f64).powf(-2.0 * i as f64 / c.head_dim as f64);
                let angle = p as f64 / scale as f64 * freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Ok(Self { cos: Tensor::from_vec(cos, (positions, half), device)?, sin: Tensor::from_vec(sin, (positions, half), device)? })
    }
}

/// The rotary tables' rows for every token row of one pass (`[rows, 1, head_dim / 2]`),
/// gathered once a pass at the rows' positions and used by every layer.
struct RowAngles {
    cos: Tensor,
    sin: Tensor,
}

impl RowAngles {
    fn gather(table: &Rope, positions: &Tensor) -> Result<Self> {
        let n = positions.dim(0)?;
        let (cos, sin) = (table.cos.index_select(positions, 0)?, table.sin.index_select(positions, 0)?);
        let half = cos.dim(1)?;
        Ok(Self { cos: cos.reshape((n, 1, half))?, sin: sin.reshape((n, 1, half))? })
    }
}

/// What every layer of one pass shares: the row angles of the global and the sliding-window
/// rotary tables, and each item's attention masks.
struct PassState {
    angles: RowAngles,
    local_angles: Option<RowAngles>,
    masks: Vec<Masks>,
}

/// One item's attention masks for one forward pass, made on first use: one for the global
/// layers, one for the sliding-window ones (uploaded once a pass, not once a layer).
#[derive(Default)]
struct Masks {
    global: Option<Option<Tensor>>,
    local: Option<Option<Tensor>>,
}

pub struct DeviceLlm {
    w: DeviceWeights,
    device: Device,
    rope: Rope,
    local_rope: Option<Rope>,
    positions: usize,
}

fn text(e: candle_core::Error) -> String {
    e.to_string()
}

impl DeviceLlm {
    /// Loads the weights onto `device` (seconds for a small model).
    pub fn load<R: Read + Seek>(content: &gguf_file::Content, file: &mut R, device: &Device) -> std::result::Result<Self, String> {
        let w = DeviceWeights::load(content, file, device)?;
        let c = &w.config;
        let positions = c.context.clamp(512, 32_768);
        let rope = Rope::new(c, c.rope_theta, c.rope_scale, positions, device).map_err(text)?;
        let local_rope = match c.sliding {
            Some(s) => Some(Rope::new(c, s.rope_theta, 1.0, positions, device).map_err(text)?),
            None => None,
        };
        Ok(Self { w, device: device.clone(), rope, local_rope, positions })
    }

    pub fn config(&self) -> &Config {
        &self.w.config
    }

    /// Most positions a sequence may hold.
    pub fn max_positions(&self) -> usize {
        self.positions
    }

    /// Bytes of weights one decode step reads.
    pub fn weight_bytes(&self) -> usize {
        self.w.bytes
    }

    /// Feeds every item's tokens after its cache and returns, per item, the logits that follow
    /// its last token. A failed pass leaves every cache as it was.
    pub fn forward(&self, items: &mut [DeviceItem<'_>]) -> std::result::Result<Vec<Vec<f32>>, String> {
        let c = &self.w.config;
        for item in items.iter() {
            check_feed(item.cache.len(), item.tokens, self.positions, c.vocab)?;
        }
        // The pass works on snapshots (no copy: tensors are shared) and keeps them on success.
        let mut caches: Vec<DeviceCache> = items.iter().map(|it| it.cache.clone()).collect();
        let tokens: Vec<&[u32]> = items.iter().map(|it| it.tokens).collect();
        let logits = self.run(&tokens, &mut caches).map_err(text)?;
        for ((item, mut cache), t) in items.iter_mut().zip(caches).zip(&tokens) {
            cache.advance(t.len());
            *item.cache = cache;
        }
        Ok(logits)
    }

    fn run(&self, tokens: &[&[u32]], caches: &mut [DeviceCache]) -> Result<Vec<Vec<f32>>> {
        let c = &self.w.config;
        let all: Vec<u32> = tokens.iter().flat_map(|t| t.iter().copied()).collect();
        let ids = Tensor::new(all.as_slice(), &self.device)?;
        let mut x = self.w.embed.index_select(&ids, 0)?.to_dtype(DType::F32)?;
        if c.embed_scale != 1.0 {
            x = (x * c.embed_scale as f64)?;
        }
        let positions: Vec<u32> = tokens
            .iter()
            .zip(caches.iter())
            .flat_map(|(t, cache)| (0..t.len()).map(move |j| (cache.len() + j) as u32))
            .collect();
        let positions = Tensor::new(positions.as_slice(), &self.device)?;
        let mut pass = PassState {
            angles: RowAngles::gather(&self.rope, &positions)?,
            local_angles: self.local_rope.as_ref().map(|r| RowAngles::gather(r, &positions)).transpose()?,
            masks: tokens.iter().map(|_| Masks::default()).collect(),
        };
        for l in 0..c.layers {
            x = self.layer(l, x, tokens, caches, &mut pass)?;
        }
        let mut end = 0u32;
        let last: Vec<u32> = tokens
            .iter()
            .map(|t| {
                end += t.len() as u32;
                end - 1
            })
            .collect();
        let last = x.index_select(&Tensor::new(last.as_slice(), &self.device)?, 0)?;
        let normed = rms_norm(&last, &self.w.out_norm, c.eps)?;
        self.w.output.forward(&normed)?.to_dtype(DType::F32)?.to_vec2::<f32>()
    }

    fn layer(&self, l: usize, x: Tensor, tokens: &[&[u32]], caches: &mut [DeviceCache], pass: &mut PassState) -> Result<Tensor> {
        let c = &self.w.config;
        let w = &self.w.layers[l];
        let xn = rms_norm(&x, &w.attn_norm, c.eps)?;
        let mut h = self.attention(l, w, &xn, tokens, caches, pass)?;
        if let Some(e) = &w.extra {
            h = rms_norm(&h, &e.post_attn, c.eps)?;
        }
        let x = (x + h)?;
        let xn = rms_norm(&x, &w.ffn_norm, c.eps)?;
        let gate = w.gate.forward(&xn)?;
        let act = match c.act {
            Act::Silu => silu(&gate)?,
            Act::GeluTanh => gate.gelu()?,
        };
        let mut h = w.down.forward(&(act * w.up.forward(&xn)?)?)?;
        if let Some(e) = &w.extra {
            h = rms_norm(&h, &e.post_ffn, c.eps)?;
        }
        x + h
    }

    /// Self-attention of the normed rows `xn` (every item's tokens, in order), through the
    /// output projection. Pushes each item's new keys and values to its cache.
    fn attention(
        &self,
        l: usize,
        w: &Layer,
        xn: &Tensor,
        tokens: &[&[u32]],
        caches: &mut [DeviceCache],
        pass: &mut PassState,
    ) -> Result<Tensor> {
        let c = &self.w.config;
        let n = xn.dim(0)?;
        let (mut q, mut k, mut v) = (w.q.forward(xn)?, w.k.forward(xn)?, w.v.forward(xn)?);
        if let Some([bq, bk, bv]) = &w.bias {
            (q, k, v) = (q.broadcast_add(bq)?, k.broadcast_add(bk)?, v.broadcast_add(bv)?);
        }
        let mut q = q.reshape((n, c.heads, c.head_dim))?;
        let mut k = k.reshape((n, c.kv_heads, c.head_dim))?;
        let v = v.reshape((n, c.kv_heads, c.head_dim))?;
        if let Some(e) = &w.extra {
            q = rms_norm(&q, &e.q, c.eps)?;
            k = rms_norm(&k, &e.k, c.eps)?;
        }
        let window = c.window(l);
        let angles = match (&pass.local_angles, window) {
            (Some(local), Some(_)) => local,
            _ => &pass.angles,
        };
        // Every row rotated at its own position in one kernel; the scores' scale folded into
        // the queries once for all rows.
        let q = (self.rotate(&q, angles)? * c.attn_scale as f64)?;
        let k = self.rotate(&k, angles)?;
        let heads_first = |x: &Tensor, start: usize, len: usize| x.narrow(0, start, len)?.transpose(0, 1)?.contiguous();
        let mut outs = Vec::with_capacity(tokens.len());
        let mut start = 0;
        for ((t, cache), m) in tokens.iter().zip(caches.iter_mut()).zip(pass.masks.iter_mut()) {
            let (len, p0) = (t.len(), cache.len());
            let qi = heads_first(&q, start, len)?;
            let ki = heads_first(&k, start, len)?;
            let vi = heads_first(&v, start, len)?;
            cache.push(l, &ki, &vi)?;
            let (keys, values) = cache.layer(l)?;
            let slot = if window.is_some() { &mut m.local } else { &mut m.global };
            if slot.is_none() {
                *slot = Some(self.mask(window, len, p0, keys.dim(1)?)?);
            }
            outs.push(self.attend(&qi, &keys, &values, slot.as_ref().and_then(Option::as_ref))?);
            start += len;
        }
        w.wo.forward(&Tensor::cat(&outs, 0)?)
    }

    /// Rotates `[rows, heads, head_dim]`, each row at its own position (`angles`): each row
    /// is a batch of one token for candle's rope, so all rows of all items take one kernel.
    fn rotate(&self, x: &Tensor, angles: &RowAngles) -> Result<Tensor> {
        let x = x.contiguous()?.unsqueeze(2)?;
        let out = if self.w.config.rope_neox {
            rope(&x, &angles.cos, &angles.sin)?
        } else {
            rope_i(&x, &angles.cos, &angles.sin)?
        };
        out.squeeze(2)
    }

    /// Attention of queries `[heads, n, head_dim]` (scaled already) over every key and value
    /// of the layer (`[kv_heads, len, head_dim]`, views of the cache's buffers), hidden where
    /// `mask` says; returns `[n, heads * head_dim]`.
    /// Each key/value head serves its group of query heads in one product.
    fn attend(&self, q: &Tensor, keys: &Tensor, values: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let c = &self.w.config;
        let (heads, n, hd) = q.dims3()?;
        let (kv, len) = (c.kv_heads, keys.dim(1)?);
        let groups = heads / kv;
        let q = q.reshape((kv, groups * n, hd))?;
        let mut scores = q.matmul(&keys.t()?)?;
        if let Some(mask) = mask {
            scores = scores.reshape((kv, groups, n, len))?.broadcast_add(mask)?.reshape((kv, groups * n, len))?;
        }
        let out = softmax_last_dim(&scores)?.matmul(values)?;
        out.reshape((heads, n, hd))?.transpose(0, 1)?.reshape((n, heads * hd))
    }

    /// `[n, len]` of 0 (visible) and -inf (hidden) for queries at `p0..p0 + n`: causal, and on
    /// a sliding-window layer only the `window` most recent positions (the query's own
    /// included). `None` when every key is visible to every query.
    fn mask(&self, window: Option<usize>, n: usize, p0: usize, len: usize) -> Result<Option<Tensor>> {
        if n == 1 && window.is_none_or(|w| len <= w) {
            return Ok(None);
        }
        let hidden = |p: usize, key: usize| key > p || window.is_some_and(|w| key + w <= p);
        let m: Vec<f32> = (0..n)
            .flat_map(|j| (0..len).map(move |key| (p0 + j, key)))
            .map(|(p, key)| if hidden(p, key) { f32::NEG_INFINITY } else { 0.0 })
            .collect();
        Tensor::from_vec(m, (n, len), &self.device).map(Some)
    }
}
