//! The quantized matrix product the chat model spends its time in: `y = x · Wᵀ` with the
//! weights in 8-bit blocks of 32 (GGUF Q8_0 values, re-laid-out at load) and the activations
//! quantized the same way on the fly. One kernel serves prefill (many rows of `x`), batched
//! decode (one row per sequence) and single decode; it tiles four weight rows against a few
//! activation rows (three on AVX512-VNNI, two on AVX2) so each loaded block is used several
//! times, and splits the weight rows across the engine's rayon pool.
//!
//! Inner loops: AVX512-VNNI / AVX-VNNI `dpbusd` where the CPU has it (weights stored as
//! unsigned `w + 128`, corrected with each activation block's sum), AVX2 `maddubs` otherwise,
//! plain Rust elsewhere. All three give the same integers; tests compare them.

use rayon::prelude::*;

/// Values per quantization block (GGUF Q8_0).
pub const BLOCK: usize = 32;

/// Weight rows per tile: the kernels read four rows' blocks together.
pub const QUAD: usize = 4;
/// Bytes of one pair of blocks of a quad: 4 × 2 f32 scales (`[row][block]`), then each row's
/// two blocks together (64 values, interleaved, see [`pair_offset`]), so a 512-bit load takes
/// one row's pair.
pub const QUAD_PAIR: usize = 2 * QUAD * 4 + QUAD * 2 * BLOCK;

/// Where value `i` of block `h` (0 or 1) of a pair lies among the pair's 64 bytes: the two
/// blocks alternate in groups of four, so each 32-bit lane of an integer dot product covers one
/// block and the lanes alternate between the two. A lane's scale is then one of two adjacent
/// floats, which a 64-bit broadcast load gives the whole register (no shuffle, no multiply per
/// lane pattern). Weights and activations use the same layout.
#[inline]
pub const fn pair_offset(h: usize, i: usize) -> usize {
    (i / 4 * 2 + h) * 4 + i % 4
}

/// Blocks per row after padding to an even count (a zero block adds nothing).
pub fn padded_blocks(cols: usize) -> usize {
    cols.div_ceil(2 * BLOCK) * 2
}

/// A weight matrix `[rows, cols]` in 8-bit blocks, packed for the kernels: rows grouped in
/// quads (the last padded with zero rows), blocks in pairs (a row's odd last block padded with
/// zeros); for each quad and pair, the eight scales and the four rows' 64 values (`w + 128` as
/// bytes) lie together, so a tile reads one sequential stream.
#[derive(Clone, Debug)]
pub struct QMatrix {
    pub rows: usize,
    pub cols: usize,
    /// Blocks per row, padded (even).
    pub bpr: usize,
    data: Vec<u8>,
}

impl QMatrix {
    /// Packs row-major blocks: `qs` (`w + 128`, `[rows, cols]`) and `scales` (`[rows, cols/32]`).
    /// Pair layout: the quad's eight scales `[row][block]`, then each row's 64 values.
    fn pack(rows: usize, cols: usize, qs: &[u8], scales: &[f32]) -> Self {
        let real = cols / BLOCK;
        let bpr = padded_blocks(cols);
        let quads = rows.div_ceil(QUAD);
        let mut data = vec![0u8; quads * bpr / 2 * QUAD_PAIR];
        for q in 0..quads {
            for b in 0..bpr {
                let at = (q * bpr / 2 + b / 2) * QUAD_PAIR;
                let h = b % 2;
                for j in 0..QUAD {
                    let r = q * QUAD + j;
                    let (d, vals) = match r < rows && b < real {
                        true => (scales[r * real + b], &qs[(r * real + b) * BLOCK..][..BLOCK]),
                        false => (0.0, &[128u8; BLOCK][..]),
                    };
                    let s = at + 8 * j + 4 * h;
                    data[s..s + 4].copy_from_slice(&d.to_le_bytes());
                    let v = at + 32 + j * 2 * BLOCK;
                    for (i, &val) in vals.iter().enumerate() {
                        data[v + pair_offset(h, i)] = val;
                    }
                }
            }
        }
        Self { rows, cols, bpr, data }
    }

    /// Quantizes f32 weights (row-major `[rows, cols]`, `cols` a multiple of 32).
    pub fn quantize(values: &[f32], rows: usize, cols: usize) -> Self {
        assert_eq!(values.len(), rows * cols);
        assert!(cols.is_multiple_of(BLOCK), "columns must be a multiple of {BLOCK}");
        let mut qs = vec![0u8; rows * cols];
        let mut scales = vec![0f32; rows * cols / BLOCK];
        for (b, (src, dst)) in values.chunks_exact(BLOCK).zip(qs.chunks_exact_mut(BLOCK)).enumerate() {
            let (d, q) = quantize_block(src);
            scales[b] = d;
            for (o, v) in dst.iter_mut().zip(q) {
                *o = (v as i16 + 128) as u8;
            }
        }
        Self::pack(rows, cols, &qs, &scales)
    }

    /// Takes GGUF Q8_0 blocks (`f16 scale` + 32 × `i8`, 34 bytes each) as they lie in the file.
    pub fn from_q8_0(raw: &[u8], rows: usize, cols: usize) -> Self {
        let blocks = rows * cols / BLOCK;
        assert_eq!(raw.len(), blocks * 34, "Q8_0 data of the wrong size");
        let mut qs = vec![0u8; rows * cols];
        let mut scales = vec![0f32; blocks];
        for (b, block) in raw.chunks_exact(34).enumerate() {
            scales[b] = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
            for (o, &v) in qs[b * BLOCK..(b + 1) * BLOCK].iter_mut().zip(&block[2..]) {
                *o = v ^ 0x80;
            }
        }
        Self::pack(rows, cols, &qs, &scales)
    }

    /// Scale and values (`w + 128`) of row `r`, block `b`.
    pub(super) fn block(&self, r: usize, b: usize) -> (f32, [u8; BLOCK]) {
        let at = ((r / QUAD) * self.bpr / 2 + b / 2) * QUAD_PAIR;
        let (h, j) = (b % 2, r % QUAD);
        let s = at + 8 * j + 4 * h;
        let d = f32::from_le_bytes(self.data[s..s + 4].try_into().unwrap_or_default());
        let v = at + 32 + j * 2 * BLOCK;
        (d, std::array::from_fn(|i| self.data[v + pair_offset(h, i)]))
    }

    /// Start of quad `q`'s packed pairs.
    pub(super) fn quad_ptr(&self, q: usize) -> *const u8 {
        self.data[q * self.bpr / 2 * QUAD_PAIR..].as_ptr()
    }

    pub fn quads(&self) -> usize {
        self.rows.div_ceil(QUAD)
    }

    /// Row `r` as f32 (token embeddings stay quantized; rows are expanded on lookup).
    pub fn row(&self, r: usize, out: &mut [f32]) {
        for b in 0..self.cols / BLOCK {
            let (d, q) = self.block(r, b);
            for (o, v) in out[b * BLOCK..(b + 1) * BLOCK].iter_mut().zip(q) {
                *o = ((v ^ 0x80) as i8) as f32 * d;
            }
        }
    }

    /// Stacks matrices with the same column count (fused q/k/v, gate/up).
    pub fn stack(parts: &[QMatrix]) -> Self {
        let cols = parts[0].cols;
        assert!(parts.iter().all(|p| p.cols == cols));
        let bpr = cols / BLOCK;
        let rows: usize = parts.iter().map(|p| p.rows).sum();
        let (mut qs, mut scales) = (Vec::with_capacity(rows * cols), Vec::with_capacity(rows * bpr));
        for p in parts {
            for r in 0..p.rows {
                for b in 0..bpr {
                    let (d, q) = p.block(r, b);
                    scales.push(d);
                    qs.extend_from_slice(&q);
                }
            }
        }
        Self::pack(rows, cols, &qs, &scales)
    }

    pub fn bytes(&self) -> usize {
        self.data.len()
    }
}

/// Activations `[rows, cols]` quantized per block: `qs` signed (pairs of blocks interleaved as
/// the weights', [`pair_offset`]), `scales` per block, and `bias[b] = -16 · Σ qs` per block:
/// the eight i32 lanes of a block pair's dot product that belong to block `b`, each started at
/// `bias[b]`, sum to `-128 · Σ qs`, which undoes the weights' +128 offset.
/// Rows are padded to the weights' even block count with zero blocks.
#[derive(Default)]
pub struct QActs {
    pub rows: usize,
    pub cols: usize,
    /// Blocks per row, padded (even).
    pub bpr: usize,
    qs: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<i32>,
}

/// One block to 8-bit values and a scale (the AVX2 twin, `quantize_block_avx2`, gives the same
/// values).
fn quantize_block(src: &[f32]) -> (f32, [i8; BLOCK]) {
    let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
    let mut q = [0i8; BLOCK];
    for (o, v) in q.iter_mut().zip(src) {
        // Round half away from zero without a libm call (`f32::round` is one on baseline x86_64).
        let y = v * inv;
        *o = ((y + 0.5f32.copysign(y)) as i32).clamp(-127, 127) as i8;
    }
    (d, q)
}

impl QActs {
    /// Quantizes `rows` rows of `cols` activations, reusing this buffer's memory. Every
    /// forward step quantizes each layer's inputs (7% of a batched decode step when it was
    /// scalar), so it runs in AVX2 where the CPU has it: the same arithmetic, the same values.
    pub fn quantize(&mut self, x: &[f32], rows: usize, cols: usize) {
        assert_eq!(x.len(), rows * cols);
        assert!(cols.is_multiple_of(BLOCK));
        let bpr = padded_blocks(cols);
        self.rows = rows;
        self.cols = cols;
        self.bpr = bpr;
        self.qs.clear();
        self.qs.resize(rows * bpr * BLOCK, 0);
        self.scales.clear();
        self.scales.resize(rows * bpr, 0.0);
        self.bias.clear();
        self.bias.resize(rows * bpr, 0);
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features.
            return unsafe { self.fill_avx2(x, cols) };
        }
        self.fill(x, cols, |src| {
            let (d, q) = quantize_block(src);
            (d, q, q.iter().map(|&v| v as i32).sum())
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fill_avx2(&mut self, x: &[f32], cols: usize) {
        // SAFETY: AVX2 and FMA (this function's features); `fill` hands over whole blocks.
        self.fill(x, cols, |src| unsafe { super::kernels_x86::quantize_block_avx2(src) })
    }

    /// Quantizes every block with `quant` (scale, values, their sum) into the pair layout.
    #[inline(always)]
    fn fill(&mut self, x: &[f32], cols: usize, quant: impl Fn(&[f32]) -> (f32, [i8; BLOCK], i32)) {
        let (real, bpr) = (cols / BLOCK, self.bpr);
        for (i, src) in x.chunks_exact(BLOCK).enumerate() {
            let b = (i / real) * bpr + i % real;
            let (d, q, sum) = quant(src);
            let h = b % 2;
            let pair = &mut self.qs[(b - h) * BLOCK..][..2 * BLOCK];
            for (g, group) in q.chunks_exact(4).enumerate() {
                let at = pair_offset(h, 4 * g);
                pair[at..at + 4].copy_from_slice(group);
            }
            self.scales[b] = d;
            self.bias[b] = -16 * sum;
        }
    }

    /// Scale and values of row `r`, block `b` (the plain kernel's view).
    pub(super) fn block(&self, r: usize, b: usize) -> (f32, [i8; BLOCK]) {
        let i = r * self.bpr + b;
        let pair = &self.qs[(i - i % 2) * BLOCK..][..2 * BLOCK];
        (self.scales[i], std::array::from_fn(|k| pair[pair_offset(b % 2, k)]))
    }
}

/// `out[r][c] = Σ_k x[r][k] · w[c][k]` for all activation rows `r` and weight rows `c`;
/// `out` is `[x.rows, w.rows]`, row-major. Parallel over weight rows.
pub fn matmul(x: &QActs, w: &QMatrix, out: &mut [f32]) {
    assert_eq!(x.cols, w.cols);
    assert_eq!(x.bpr, w.bpr);
    assert_eq!(out.len(), x.rows * w.rows);
    let kernel = Kernel::detect();
    let threads = rayon::current_num_threads().max(1);
    // Chunks of quads: a few per thread for balance.
    let quads = w.quads();
    let per = quads.div_ceil(threads * 4).max(1);
    let chunks = quads.div_ceil(per);
    let out_ptr = SendPtr(out.as_mut_ptr());
    let run = |chunk: usize| {
        let start = chunk * per;
        let end = (start + per).min(quads);
        // SAFETY: every (row, column) cell of `out` is written by exactly one chunk.
        unsafe { kernel.block(x, w, start..end, out_ptr) };
    };
    if chunks == 1 || threads == 1 || x.rows * w.rows * w.cols < 1 << 16 {
        (0..chunks).for_each(run);
    } else {
        (0..chunks).into_par_iter().for_each(run);
    }
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    AvxVnni,
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
}

impl Kernel {
    /// The fastest kernel this CPU supports (`INFERENCE_KERNEL=scalar|avx2` forces one).
    pub fn detect() -> Self {
        static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *KERNEL.get_or_init(|| {
            let forced = std::env::var("INFERENCE_KERNEL").unwrap_or_default();
            Self::best(&forced)
        })
    }

    fn best(forced: &str) -> Self {
        if forced == "scalar" {
            return Kernel::Scalar;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni");
            if avx2 && avx512 && forced.is_empty() {
                return Kernel::Avx512Vnni;
            }
            if avx2 && forced != "avx2" && is_x86_feature_detected!("avxvnni") {
                return Kernel::AvxVnni;
            }
            if avx2 {
                return Kernel::Avx2;
            }
        }
        Kernel::Scalar
    }

    /// # Safety
    /// `out` points to `[x.rows, w.rows]` floats; no other thread writes the columns of the
    /// weight quads `quads`.
    unsafe fn block(self, x: &QActs, w: &QMatrix, quads: std::ops::Range<usize>, out: SendPtr) {
        match self {
            Kernel::Scalar => super::kernels_x86::scalar_block(x, w, quads, out.0),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { super::kernels_x86::avx2_block(x, w, quads, out.0) },
            #[cfg(target_arch = "x86_64")]
            Kernel::AvxVnni => unsafe { super::kernels_x86::vnni_block(x, w, quads, out.0) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => unsafe { super::kernels_x86::vnni512_block(x, w, quads, out.0) },
        }
    }
}

pub(super) struct ActParts<'a> {
    pub qs: &'a [i8],
    pub scales: &'a [f32],
    pub bias: &'a [i32],
}

impl QActs {
    pub(super) fn parts(&self) -> ActParts<'_> {
        ActParts { qs: &self.qs, scales: &self.scales, bias: &self.bias }
    }
}

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;
