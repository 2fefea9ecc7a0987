//! Rotary position embedding and causal attention over a sequence's KV cache, for every token
//! of a batch (tokens of different sequences attend only to their own cache). Grouped-query
//! attention: each key/value head serves `heads / kv_heads` query heads.

use std::ops::Range;

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::kernels::Kernel;
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

/// `a · b + c`, fused where the caller is compiled for FMA (`F`); Rust never fuses on its own.
#[inline(always)]
fn madd<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `q` against four keys at once, portably. One dot product is a chain of dependent additions
/// (bound by their latency); four are independent chains the core runs side by side, and each
/// chunk of `q` is loaded once for all four.
#[inline(always)]
fn dot4<const F: bool>(q: &[f32], k: [&[f32]; 4]) -> [f32; 4] {
    let n = q.len() / 8 * 8;
    let mut acc = [[0f32; 8]; 4];
    for c in (0..n).step_by(8) {
        let qc: &[f32; 8] = q[c..c + 8].try_into().expect("eight values");
        for (acc, k) in acc.iter_mut().zip(k) {
            let kc: &[f32; 8] = k[c..c + 8].try_into().expect("eight values");
            for i in 0..8 {
                acc[i] = madd::<F>(qc[i], kc[i], acc[i]);
            }
        }
    }
    let mut out = [0f32; 4];
    for (j, o) in out.iter_mut().enumerate() {
        let tail: f32 = q[n..].iter().zip(&k[j][n..]).map(|(x, y)| x * y).sum();
        *o = acc[j].iter().sum::<f32>() + tail;
    }
    out
}

/// `q` against eight keys at once, in AVX2 (falls back to two [`dot4`] passes when a key is
/// shorter than `q`). Eight independent sums keep both FMA pipes busy; with four, each pass
/// waited on its sums' latency (eight dependent FMAs each for a 64-wide head).
#[inline(always)]
fn dot8<const F: bool>(q: &[f32], k: [&[f32]; 8]) -> [f32; 8] {
    #[cfg(target_arch = "x86_64")]
    if F && k.iter().all(|k| k.len() == q.len()) {
        // SAFETY: `F` is only set by `attend_one_avx2`, compiled for AVX2 and FMA; lengths checked.
        return unsafe { dot_keys_avx2::<8>(q, k) };
    }
    let (a, b) = (dot4::<F>(q, [k[0], k[1], k[2], k[3]]), dot4::<F>(q, [k[4], k[5], k[6], k[7]]));
    std::array::from_fn(|i| if i < 4 { a[i] } else { b[i - 4] })
}

/// [`dot8`] in explicit 256-bit registers, one accumulator per key (`N` a multiple of four).
/// Left to itself, the compiler spreads the keys across the lanes of one register and spends
/// the loop shuffling. Each key's sum is the same whatever `N`: the same chunks in the same
/// order, then the same horizontal adds.
///
/// # Safety
/// The CPU has AVX2 and FMA; every key is as long as `q`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_keys_avx2<const N: usize>(q: &[f32], k: [&[f32]; N]) -> [f32; N] {
    use std::arch::x86_64::*;
    let n = q.len() / 8 * 8;
    let mut acc = [_mm256_setzero_ps(); N];
    let mut c = 0;
    while c < n {
        let qv = unsafe { _mm256_loadu_ps(q.as_ptr().add(c)) };
        for (a, k) in acc.iter_mut().zip(k) {
            *a = _mm256_fmadd_ps(qv, unsafe { _mm256_loadu_ps(k.as_ptr().add(c)) }, *a);
        }
        c += 8;
    }
    let mut out = [0f32; N];
    for (g, out) in out.chunks_exact_mut(4).enumerate() {
        let a = &acc[4 * g..4 * g + 4];
        // Three horizontal adds leave [Σa0, Σa1, Σa2, Σa3] in each half; the halves then add.
        let h = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
        let sums = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h));
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), sums) };
    }
    for (o, k) in out.iter_mut().zip(k) {
        *o += q[n..].iter().zip(&k[n..]).map(|(x, y)| x * y).sum::<f32>();
    }
    out
}

/// Scaled scores of `q` against every key (`kv_dim` values per key, this head's at `head`).
#[inline(always)]
fn scores_into<const F: bool>(q: &[f32], keys: &[f32], kv_dim: usize, head: Range<usize>, scale: f32, scores: &mut Vec<f32>) {
    let key = |t: usize| &keys[t * kv_dim..][head.clone()];
    let n = keys.len() / kv_dim;
    let mut t = 0;
    // The last pass repeats its last key: every score then comes out of the same sum in the same
    // order, so a prompt scores bit for bit alike however its positions are split into runs
    // (a prefix-cache hit or not).
    while t < n {
        let pick = |i: usize| key((t + i).min(n - 1));
        let take = (n - t).min(8);
        let d = dot8::<F>(q, std::array::from_fn(pick));
        scores.extend(d[..take].iter().map(|d| d * scale));
        t += take;
    }
}

/// `out += Σ w[t] · v[t]` over this head's part (`head`) of each value row: four rows per pass,
/// so `out` is loaded and stored once for four.
#[inline(always)]
fn weighted_sum<const F: bool>(out: &mut [f32], values: &[f32], kv_dim: usize, head: Range<usize>, w: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if F && out.len() == head.len() && out.len().is_multiple_of(8) && head.end <= kv_dim && values.len() >= w.len() * kv_dim {
        // SAFETY: `F` is only set by `attend_one_avx2` (AVX2 and FMA); bounds checked above.
        return unsafe { weighted_sum_avx2(out, values, kv_dim, head.start, w) };
    }
    let value = |t: usize| &values[t * kv_dim..][head.clone()];
    let mut t = 0;
    while t + 4 <= w.len() {
        let (v0, v1, v2, v3) = (value(t), value(t + 1), value(t + 2), value(t + 3));
        let (w0, w1, w2, w3) = (w[t], w[t + 1], w[t + 2], w[t + 3]);
        for (i, o) in out.iter_mut().enumerate() {
            *o = madd::<F>(w3, v3[i], madd::<F>(w2, v2[i], madd::<F>(w1, v1[i], madd::<F>(w0, v0[i], *o))));
        }
        t += 4;
    }
    for (t, &wt) in w.iter().enumerate().skip(t) {
        for (o, v) in out.iter_mut().zip(value(t)) {
            *o = madd::<F>(wt, *v, *o);
        }
    }
}

/// [`weighted_sum`] in explicit 256-bit registers. Left to the compiler, the loop over a head's
/// values kept a scalar path that ran often (a `perf` profile of prefill put a fifth of
/// attention's samples in scalar multiply-adds).
///
/// # Safety
/// AVX2 and FMA; `out.len()` is a multiple of 8; every row `t < w.len()` of `values` holds
/// `kv_dim` values and `from + out.len() <= kv_dim`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn weighted_sum_avx2(out: &mut [f32], values: &[f32], kv_dim: usize, from: usize, w: &[f32]) {
    use std::arch::x86_64::*;
    let row = |t: usize| unsafe { values.as_ptr().add(t * kv_dim + from) };
    let o = out.as_mut_ptr();
    let mut t = 0;
    while t + 4 <= w.len() {
        let (v, ws) = ([row(t), row(t + 1), row(t + 2), row(t + 3)], [w[t], w[t + 1], w[t + 2], w[t + 3]].map(|x| _mm256_set1_ps(x)));
        for c in (0..out.len()).step_by(8) {
            let mut acc = unsafe { _mm256_loadu_ps(o.add(c)) };
            for (v, wt) in v.iter().zip(ws) {
                acc = _mm256_fmadd_ps(wt, unsafe { _mm256_loadu_ps(v.add(c)) }, acc);
            }
            unsafe { _mm256_storeu_ps(o.add(c), acc) };
        }
        t += 4;
    }
    while t < w.len() {
        let (v, wt) = (row(t), _mm256_set1_ps(w[t]));
        for c in (0..out.len()).step_by(8) {
            let acc = _mm256_fmadd_ps(wt, unsafe { _mm256_loadu_ps(v.add(c)) }, unsafe { _mm256_loadu_ps(o.add(c)) });
            unsafe { _mm256_storeu_ps(o.add(c), acc) };
        }
        t += 1;
    }
}

/// Attention of one token (its query heads in `q`) at `pos` against positions `..=pos` of
/// `cache` in layer `l` (all of them, or the layer's sliding window); writes `heads × head_dim`
/// values into `out`. The positions may lie in several runs (shared prefix segments, then the
/// sequence's own tail).
#[inline(always)]
fn attend_one<const F: bool>(c: &Config, l: usize, cache: &KvCache, pos: usize, q: &[f32], out: &mut [f32], scores: &mut Vec<f32>) {
    let (hd, kvd) = (c.head_dim, c.kv_dim());
    let group = c.heads / c.kv_heads;
    // A sliding layer sees only the last `window` positions, this one included.
    let first = c.window(l).map_or(0, |w| (pos + 1).saturating_sub(w));
    let span = first..pos + 1;
    for h in 0..c.heads {
        let g = h / group;
        let qh = &q[h * hd..(h + 1) * hd];
        let head = g * hd..(g + 1) * hd;
        scores.clear();
        for run in cache.runs(l, kvd, span.clone()) {
            scores_into::<F>(qh, run.k, kvd, head.clone(), c.attn_scale, scores);
        }
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum = super::vmath::exp_shifted::<F>(scores, max);
        let inv = 1.0 / sum;
        scores.iter_mut().for_each(|s| *s *= inv);
        let o = &mut out[h * hd..(h + 1) * hd];
        o.fill(0.0);
        let mut done = 0;
        for run in cache.runs(l, kvd, span.clone()) {
            let n = run.v.len() / kvd;
            weighted_sum::<F>(o, run.v, kvd, head.clone(), &scores[done..done + n]);
            done += n;
        }
    }
}

/// [`attend_one`] compiled for AVX2 and FMA: eight lanes per instruction and fused
/// multiply-adds, where the portable build has four lanes and separate multiplies and adds.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_one_avx2(c: &Config, l: usize, cache: &KvCache, pos: usize, q: &[f32], out: &mut [f32], scores: &mut Vec<f32>) {
    attend_one::<true>(c, l, cache, pos, q, out, scores)
}

/// For every batch row `(item, pos)`: attention of its query (the first `q_dim` values of its
/// row in `qkv`) over its item's cache, written to its row of `out` (`[rows, q_dim]`).
pub fn attend(c: &Config, l: usize, caches: &[&KvCache], rows: &[(usize, usize)], qkv: &[f32], out: &mut [f32]) {
    let qd = c.q_dim();
    let width = qd + 2 * c.kv_dim();
    let work: usize = rows.iter().map(|&(_, pos)| pos + 1).sum::<usize>() * c.heads;
    #[cfg(target_arch = "x86_64")]
    let fast = Kernel::detect() != Kernel::Scalar;
    let run = |(r, o): (usize, &mut [f32])| {
        let (item, pos) = rows[r];
        let mut scores = Vec::with_capacity(pos + 1);
        let q = &qkv[r * width..r * width + qd];
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: a kernel other than the scalar one means the CPU has AVX2 and FMA.
            return unsafe { attend_one_avx2(c, l, caches[item], pos, q, o, &mut scores) };
        }
        attend_one::<false>(c, l, caches[item], pos, q, o, &mut scores);
    };
    if work < 4096 {
        out.chunks_exact_mut(qd).enumerate().for_each(run);
    } else {
        out.par_chunks_exact_mut(qd).enumerate().for_each(run);
    }
}
