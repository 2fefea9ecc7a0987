//! Our own forward pass for llama-family chat models (llama, qwen2, gemma3) on candle's GGUF
//! reader.
//! candle's `quantized_llama` keeps the KV cache inside the weights, copies the whole cache on
//! every token and runs one sequence at a time; this pass keeps each sequence's KV cache
//! outside the weights (cheap snapshots for the prefix cache and `choose`), feeds the tokens
//! of several sequences through the same weight reads (batched prefill and decode), and spends
//! its time in one quantized kernel (`kernels`).

mod attention;
pub mod device;
mod config;
pub mod kernels;
mod kv;
mod kernels_x86;
mod weights;
mod vmath;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod gemma3_tests;

use attention::Rope;
use kernels::{matmul, QActs};
pub use config::{Act, Config};
pub use kv::KvCache;
pub use weights::Weights;
use weights::Layer;

/// One sequence's part of a batch: its cache and the tokens to feed after it.
pub struct Item<'a> {
    pub cache: &'a mut KvCache,
    pub tokens: &'a [u32],
}

pub struct Llm {
    pub weights: Weights,
    rope: Rope,
    /// The sliding-window layers' rotary tables (gemma3), when they have their own.
    local_rope: Option<Rope>,
}

/// Reused buffers of one forward pass.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    xn: Vec<f32>,
    big: Vec<f32>,
    mid: Vec<f32>,
    acts: QActs,
}

fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    out.copy_from_slice(x);
    rms_norm_in_place(out, w, eps);
}

/// RMSNorm of every `w.len()` values of `x`, in place.
fn rms_norm_in_place(x: &mut [f32], w: &[f32], eps: f32) {
    let d = w.len();
    for row in x.chunks_exact_mut(d) {
        let ms = row.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let inv = 1.0 / (ms + eps).sqrt();
        for (v, g) in row.iter_mut().zip(w) {
            *v *= inv * g;
        }
    }
}

/// GELU, tanh approximation (`gelu_pytorch_tanh`).
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
}

/// `act(gate) * up` for every row of stacked `[gate | up]` values.
fn gated(act: Act, gate_up: &[f32], ffn: usize, out: &mut [f32]) {
    for (gu, h) in gate_up.chunks_exact(2 * ffn).zip(out.chunks_exact_mut(ffn)) {
        let (g, u) = gu.split_at(ffn);
        match act {
            Act::Silu => vmath::silu_mul(g, u, h),
            Act::GeluTanh => {
                for ((h, &g), &u) in h.iter_mut().zip(g).zip(u) {
                    *h = gelu_tanh(g) * u;
                }
            }
        }
    }
}

fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Why `tokens` cannot be fed after `held` positions, if they cannot: none, too many for
/// `positions`, or one outside a vocabulary of `vocab` (both passes check before any work).
pub(super) fn check_feed(held: usize, tokens: &[u32], positions: usize, vocab: usize) -> Result<(), String> {
    if tokens.is_empty() {
        return Err("nothing to feed".into());
    }
    if held + tokens.len() > positions {
        return Err(format!("sequence longer than {positions} positions"));
    }
    match tokens.iter().find(|&&t| t as usize >= vocab) {
        Some(t) => Err(format!("token {t} outside the vocabulary")),
        None => Ok(()),
    }
}

impl Llm {
    pub fn new(weights: Weights) -> Self {
        let c = &weights.config;
        let positions = c.context.clamp(512, 32_768);
        let rope = Rope::new(c.head_dim, c.rope_theta, c.rope_scale, positions, c.rope_neox);
        let local_rope = c.sliding.map(|s| Rope::new(c.head_dim, s.rope_theta, 1.0, positions, c.rope_neox));
        Self { weights, rope, local_rope }
    }

    fn rope(&self, l: usize) -> &Rope {
        match (&self.local_rope, self.weights.config.window(l)) {
            (Some(local), Some(_)) => local,
            _ => &self.rope,
        }
    }

    /// Most positions a sequence may hold.
    pub fn max_positions(&self) -> usize {
        self.rope.positions()
    }

    /// Feeds every item's tokens after its cache and returns, per item, the logits that
    /// follow its last token. Items must each have at least one token.
    pub fn forward(&self, items: &mut [Item<'_>]) -> Result<Vec<Vec<f32>>, String> {
        let c = &self.weights.config;
        let mut rows = Vec::new();
        for (i, item) in items.iter().enumerate() {
            check_feed(item.cache.len(), item.tokens, self.max_positions(), c.vocab)?;
            rows.extend((0..item.tokens.len()).map(|j| (i, item.cache.len() + j)));
        }
        let mut s = Scratch::default();
        let n = rows.len();
        s.x.resize(n * c.d_model, 0.0);
        let tokens = items.iter().flat_map(|it| it.tokens.iter());
        for (t, row) in tokens.zip(s.x.chunks_exact_mut(c.d_model)) {
            self.weights.embed.row(*t as usize, row);
            if c.embed_scale != 1.0 {
                row.iter_mut().for_each(|v| *v *= c.embed_scale);
            }
        }
        for layer in 0..c.layers {
            self.layer(layer, items, &rows, &mut s);
        }
        for item in items.iter_mut() {
            item.cache.advance(item.tokens.len());
        }
        Ok(self.logits(items, &mut s))
    }

    fn layer(&self, l: usize, items: &mut [Item<'_>], rows: &[(usize, usize)], s: &mut Scratch) {
        let c = &self.weights.config;
        let w = &self.weights.layers[l];
        let n = rows.len();
        s.xn.resize(n * c.d_model, 0.0);
        rms_norm(&s.x, &w.attn_norm, c.eps, &mut s.xn);
        self.attention(l, w, items, rows, s);
        if let Some(e) = &w.extra {
            rms_norm_in_place(&mut s.xn, &e.post_attn, c.eps);
        }
        add_in_place(&mut s.x, &s.xn);

        rms_norm(&s.x, &w.ffn_norm, c.eps, &mut s.xn);
        s.acts.quantize(&s.xn, n, c.d_model);
        s.big.resize(n * 2 * c.ffn, 0.0);
        matmul(&s.acts, &w.gate_up, &mut s.big);
        s.mid.resize(n * c.ffn, 0.0);
        gated(c.act, &s.big, c.ffn, &mut s.mid);
        s.acts.quantize(&s.mid, n, c.ffn);
        matmul(&s.acts, &w.down, &mut s.xn);
        if let Some(e) = &w.extra {
            rms_norm_in_place(&mut s.xn, &e.post_ffn, c.eps);
        }
        add_in_place(&mut s.x, &s.xn);
    }

    /// Self-attention of the normed rows in `s.xn`; leaves the output projection in `s.xn`.
    fn attention(&self, l: usize, w: &Layer, items: &mut [Item<'_>], rows: &[(usize, usize)], s: &mut Scratch) {
        let c = &self.weights.config;
        let n = rows.len();
        let (qd, kvd) = (c.q_dim(), c.kv_dim());
        let width = qd + 2 * kvd;
        s.acts.quantize(&s.xn, n, c.d_model);
        s.big.resize(n * width, 0.0);
        matmul(&s.acts, &w.qkv, &mut s.big);
        let rope = self.rope(l);
        for (row, &(_, pos)) in s.big.chunks_exact_mut(width).zip(rows) {
            if let Some(b) = &w.qkv_bias {
                add_in_place(row, b);
            }
            if let Some(e) = &w.extra {
                rms_norm_in_place(&mut row[..qd], &e.q, c.eps);
                rms_norm_in_place(&mut row[qd..qd + kvd], &e.k, c.eps);
            }
            rope.apply(&mut row[..qd + kvd], pos);
        }
        for (row, &(item, _)) in s.big.chunks_exact(width).zip(rows) {
            items[item].cache.push(l, c.layers, &row[qd..qd + kvd], &row[qd + kvd..]);
        }
        s.mid.resize(n * qd, 0.0);
        let caches: Vec<&KvCache> = items.iter().map(|it| &*it.cache).collect();
        attention::attend(c, l, &caches, rows, &s.big, &mut s.mid);
        s.acts.quantize(&s.mid, n, qd);
        s.xn.resize(n * c.d_model, 0.0);
        matmul(&s.acts, &w.wo, &mut s.xn);
    }

    fn logits(&self, items: &[Item<'_>], s: &mut Scratch) -> Vec<Vec<f32>> {
        let c = &self.weights.config;
        let d = c.d_model;
        let mut last = Vec::with_capacity(items.len() * d);
        let mut end = 0;
        for item in items {
            end += item.tokens.len();
            last.extend_from_slice(&s.x[(end - 1) * d..end * d]);
        }
        let mut normed = vec![0.0; last.len()];
        rms_norm(&last, &self.weights.out_norm, c.eps, &mut normed);
        s.acts.quantize(&normed, items.len(), d);
        let out = self.weights.output.as_ref().unwrap_or(&self.weights.embed);
        let mut logits = vec![0.0; items.len() * out.rows];
        matmul(&s.acts, out, &mut logits);
        logits.chunks_exact(out.rows).map(<[f32]>::to_vec).collect()
    }
}
