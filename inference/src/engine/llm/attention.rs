//! Rotary position embedding and causal attention over a sequence's KV cache, for every token
//! of a batch (tokens of different sequences attend only to their own cache). Grouped-query
//! attention: each key/value head serves `heads / kv_heads` query heads.

use rayon::prelude::*;

use super::{Config, KvCache};

/// Precomputed cos/sin tables, one row per position.
pub struct Rope {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
    neox: bool,
    head_dim: usize,
}

impl Rope {
    /// `scale`: linear position scaling (positions are divided by it; 1 = none).
    pub fn new(head_dim: usize, theta: f32, scale: f32, positions: usize, neox: bool) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        for p in 0..positions {
            for i in 0..half {
                let freq = (theta as f64).powf(-2.0 * i as f64 / head_dim as f64);
                let angle = p as f64 / scale as f64 * freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Self { half, cos, sin, neox, head_dim }
    }

    pub fn positions(&self) -> usize {
        self.cos.len() / self.half.max(1)
    }

    /// Rotates every head in `row` (query heads then key heads, `head_dim` each) for `pos`.
    pub fn apply(&self, row: &mut [f32], pos: usize) {
        let cos = &self.cos[pos * self.half..(pos + 1) * self.half];
        let sin = &self.sin[pos * self.half..(pos + 1) * self.half];
        for head in row.chunks_exact_mut(self.head_dim) {
            for i in 0..self.half {
                let (a, b) = if self.neox { (i, i + self.half) } else { (2 * i, 2 * i + 1) };
                let (x, y) = (head[a], head[b]);
                head[a] = x * cos[i] - y * sin[i];
                head[b] = x * sin[i] + y * cos[i];
            }
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent sums so the compiler vectorises the loop.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Attention of one token (its query heads in `q`) at `pos` against positions `..=pos` of
/// `cache` in layer `l` (all of them, or the layer's sliding window); writes `heads × head_dim` values into `out`.
fn attend_one(c: &Config, l: usize, cache: &KvCache, pos: usize, q: &[f32], out: &mut [f32], scores: &mut Vec<f32>) {
    let (hd, kvd) = (c.head_dim, c.kv_dim());
    let group = c.heads / c.kv_heads;
    let scale = c.attn_scale;
    let (keys, values) = (&cache.k[l], &cache.v[l]);
    // A sliding layer sees only the last `window` positions, this one included.
    let first = c.window(l).map_or(0, |w| (pos + 1).saturating_sub(w));
    for h in 0..c.heads {
        let g = h / group;
        let qh = &q[h * hd..(h + 1) * hd];
        scores.clear();
        scores.extend((first..=pos).map(|t| dot(qh, &keys[t * kvd + g * hd..t * kvd + (g + 1) * hd]) * scale));
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let o = &mut out[h * hd..(h + 1) * hd];
        o.fill(0.0);
        for (t, &p) in (first..).zip(scores.iter()) {
            let v = &values[t * kvd + g * hd..t * kvd + (g + 1) * hd];
            let w = p / sum;
            for (o, v) in o.iter_mut().zip(v) {
                *o += w * v;
            }
        }
    }
}

/// For every batch row `(item, pos)`: attention of its query (the first `q_dim` values of its
/// row in `qkv`) over its item's cache, written to its row of `out` (`[rows, q_dim]`).
pub fn attend(c: &Config, l: usize, caches: &[&KvCache], rows: &[(usize, usize)], qkv: &[f32], out: &mut [f32]) {
    let qd = c.q_dim();
    let width = qd + 2 * c.kv_dim();
    let work: usize = rows.iter().map(|&(_, pos)| pos + 1).sum::<usize>() * c.heads;
    let run = |(r, o): (usize, &mut [f32])| {
        let (item, pos) = rows[r];
        let mut scores = Vec::with_capacity(pos + 1);
        attend_one(c, l, caches[item], pos, &qkv[r * width..r * width + qd], o, &mut scores);
    };
    if work < 4096 {
        out.chunks_exact_mut(qd).enumerate().for_each(run);
    } else {
        out.par_chunks_exact_mut(qd).enumerate().for_each(run);
    }
}
