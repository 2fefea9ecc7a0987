//! The inner loops of [`super::kernels::matmul`]: a register tile of one packed weight quad
//! (four rows, read as one sequential stream) by `RN` activation rows, a pair of blocks at a
//! time, fully unrolled (const generics) so the accumulators stay in registers. Flavours: plain
//! Rust, AVX2 (`maddubs` on signed weights), AVX-VNNI and AVX512-VNNI (`dpbusd` on the stored
//! unsigned `w + 128`, the offset undone by starting each block's integer sum at `-128 · Σ x`).
//! All compute the same integer dot products; tests compare them.
//!
//! Per pair and cell (weight row × activation row) the SIMD tiles do the integer dot product,
//! one conversion and one fused multiply-add. The pair layout alternates the two blocks lane
//! by lane, so the cell's two scale products come as one 64-bit broadcast load from a small
//! table filled once per pair (one multiply per activation row for all four weight rows),
//! instead of a multiply per cell.

use std::ops::Range;

use super::kernels::{QActs, QMatrix, BLOCK, QUAD, QUAD_PAIR};

/// Plain Rust: any CPU.
///
/// # Safety
/// `out` points to `[x.rows, w.rows]` floats and no other thread writes the rows of `quads`.
pub(super) unsafe fn scalar_block(x: &QActs, w: &QMatrix, quads: Range<usize>, out: *mut f32) {
    let bpr = w.bpr;
    let rows = quads.start * QUAD..(quads.end * QUAD).min(w.rows);
    for r in 0..x.rows {
        for c in rows.clone() {
            let mut acc = 0f32;
            for b in 0..bpr {
                let (dw, wq) = w.block(c, b);
                let (dx, xq) = x.block(r, b);
                let dot: i32 = wq.iter().zip(xq).map(|(&a, b)| ((a ^ 0x80) as i8 as i32) * b as i32).sum();
                acc += dot as f32 * dw * dx;
            }
            unsafe { *out.add(r * w.rows + c) = acc };
        }
    }
}

/// The loop every SIMD flavour shares: for each weight quad, tiles of `$rn` activation rows,
/// then a tile of two if two are left, else the rows left one at a time; results stored for
/// the quad's real rows only.
macro_rules! drive {
    ($x:expr, $w:expr, $quads:expr, $out:expr, $tile:ident, $rn:literal) => {{
        let (x, w, out) = ($x, $w, $out);
        let bpr = w.bpr;
        let xp = x.parts();
        let xrow = |r: usize| unsafe { xp.qs.as_ptr().add(r * bpr * BLOCK) };
        let xsc = |r: usize| unsafe { xp.scales.as_ptr().add(r * bpr) };
        let xbias = |r: usize| unsafe { xp.bias.as_ptr().add(r * bpr) };
        for q in $quads {
            let wq = w.quad_ptr(q);
            let c = q * QUAD;
            let valid = (w.rows - c).min(QUAD);
            let store = |r: usize, t: &[f32; 4]| {
                for j in 0..valid {
                    unsafe { *out.add(r * w.rows + c + j) = t[j] };
                }
            };
            let mut r = 0;
            while r + $rn <= x.rows {
                let t = unsafe {
                    $tile::<$rn>(wq, std::array::from_fn(|i| xrow(r + i)), std::array::from_fn(|i| xsc(r + i)), std::array::from_fn(|i| xbias(r + i)), bpr)
                };
                for i in 0..$rn {
                    store(r + i, &std::array::from_fn(|j| t[j][i]));
                }
                r += $rn;
            }
            if $rn > 2 && x.rows - r == 2 {
                let t = unsafe { $tile::<2>(wq, [xrow(r), xrow(r + 1)], [xsc(r), xsc(r + 1)], [xbias(r), xbias(r + 1)], bpr) };
                for i in 0..2 {
                    store(r + i, &std::array::from_fn(|j| t[j][i]));
                }
                r += 2;
            }
            while r < x.rows {
                let t = unsafe { $tile::<1>(wq, [xrow(r)], [xsc(r)], [xbias(r)], bpr) };
                store(r, &std::array::from_fn(|j| t[j][0]));
                r += 1;
            }
        }
    }};
}

/// How far ahead of the current pair a tile prefetches its weights.
const PREFETCH: usize = 4 * QUAD_PAIR;

/// Asks for the weights `PREFETCH` bytes past `pair` (one pair's worth of cache lines) well
/// ahead of use: decode streams them once, and the first tile of a quad in a batch reads them
/// from memory too. A prefetch never faults, so running past the matrix's end is harmless.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_ahead(pair: *const u8) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    for k in 0..5 {
        // SAFETY: SSE is part of every x86_64 CPU; a prefetch reads nothing.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(pair.wrapping_add(PREFETCH + 64 * k) as *const i8) };
    }
}

/// Generates one SIMD flavour: `$tile` (the register tile), `$name` (the block driver).
/// `$dot(acc, w, x)` adds the lane sums of 32 bytes of a pair (half its lanes) to `acc`;
/// `$correct` says whether the +128 weight offset must be undone (then each lane starts at
/// twice its block's `-16 · Σ x`: a 256-bit register holds four lanes of each block per half,
/// and both halves go into the same sum); `$rn` is the activation rows per tile.
macro_rules! simd_flavour {
    ($name:ident, $tile:ident, $features:literal, $rn:literal, $dot:expr, $correct:expr) => {
        /// # Safety
        /// The CPU has the named features; pointers cover `bpr` (even) blocks of each row.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $tile<const RN: usize>(
            w: *const u8,
            x: [*const i8; RN],
            xs: [*const f32; RN],
            xb: [*const i32; RN],
            bpr: usize,
        ) -> [[f32; RN]; 4] {
            use std::arch::x86_64::*;
            let mut acc = [[_mm256_setzero_ps(); RN]; 4];
            for p in 0..bpr / 2 {
                let pair = unsafe { w.add(p * QUAD_PAIR) };
                prefetch_ahead(pair);
                let sc = unsafe { scale_table::<RN>(pair, xs, p) };
                let mut xv = [[_mm256_setzero_si256(); 2]; RN];
                let mut init = [_mm256_setzero_si256(); RN];
                for r in 0..RN {
                    for half in 0..2 {
                        xv[r][half] = unsafe { _mm256_loadu_si256(x[r].add(p * 2 * BLOCK + half * BLOCK) as *const __m256i) };
                    }
                    if $correct {
                        let b = unsafe { _mm256_set1_epi64x((xb[r].add(2 * p) as *const i64).read_unaligned()) };
                        init[r] = _mm256_add_epi32(b, b);
                    }
                }
                for j in 0..4 {
                    let row = unsafe { pair.add(32 + j * 2 * BLOCK) };
                    let wv = unsafe { [0, 1].map(|half| _mm256_loadu_si256(row.add(half * BLOCK) as *const __m256i)) };
                    for r in 0..RN {
                        let dot = $dot($dot(init[r], wv[0], xv[r][0]), wv[1], xv[r][1]);
                        let s = _mm256_castpd_ps(_mm256_set1_pd(unsafe { (sc[r].as_ptr().add(2 * j) as *const f64).read_unaligned() }));
                        acc[j][r] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(dot), acc[j][r]);
                    }
                }
            }
            let mut out = [[0f32; RN]; 4];
            for j in 0..4 {
                for r in 0..RN {
                    out[j][r] = unsafe { hsum(acc[j][r]) };
                }
            }
            out
        }

        /// # Safety
        /// The CPU has the named features; `out` as for [`scalar_block`].
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        pub(super) unsafe fn $name(x: &QActs, w: &QMatrix, quads: Range<usize>, out: *mut f32) {
            drive!(x, w, quads, out, $tile, $rn)
        }
    };
}

/// The scale products of one pair for each activation row: `[row][j][block]`, the quad's
/// eight weight scales (`[j][block]`) times the row's two block scales, one 256-bit multiply
/// per row. A cell then loads its two products as one 64-bit broadcast.
///
/// # Safety
/// AVX2; `pair` is a packed pair, each `xs[r]` covers blocks `2p` and `2p + 1`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn scale_table<const RN: usize>(pair: *const u8, xs: [*const f32; RN], p: usize) -> [[f32; 8]; RN] {
    use std::arch::x86_64::*;
    let dw = unsafe { _mm256_loadu_ps(pair as *const f32) };
    let mut sc = [[0f32; 8]; RN];
    for r in 0..RN {
        let dx = _mm256_castpd_ps(_mm256_set1_pd(unsafe { (xs[r].add(2 * p) as *const f64).read_unaligned() }));
        unsafe { _mm256_storeu_ps(sc[r].as_mut_ptr(), _mm256_mul_ps(dw, dx)) };
    }
    sc
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// Signed block dot product from an offset weight block with AVX2 only (no overflow:
/// |w|, |x| ≤ 127 so pair sums fit i16).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(w_off: std::arch::x86_64::__m256i, x: std::arch::x86_64::__m256i) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let w = _mm256_xor_si256(w_off, _mm256_set1_epi8(-128));
    let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
}

simd_flavour!(avx2_block, avx2_tile, "avx2,fma", 2, |acc, w, x| _mm256_add_epi32(acc, unsafe { dot_avx2(w, x) }), false);
simd_flavour!(
    vnni_block,
    vnni_tile,
    "avx2,fma,avxvnni",
    2,
    |init, w, x| _mm256_dpbusd_avx_epi32(init, w, x),
    true
);
// The AVX-VNNI tile's code with the EVEX form of the same instruction, so that CPUs with
// AVX512-VNNI but not AVX-VNNI (Zen 4, the machines here) can test its arithmetic.
#[cfg(test)]
simd_flavour!(
    vnni_vl_block,
    vnni_vl_tile,
    "avx2,fma,avx512f,avx512vl,avx512vnni",
    2,
    |init, w, x| _mm256_dpbusd_epi32(init, w, x),
    true
);

/// The AVX512-VNNI tile: a quad of weight rows by `RN` activation rows, a pair of blocks per
/// 512-bit operation (the pair layout alternates the blocks lane by lane; a cell's two scale
/// products and two offset corrections each come as one 64-bit broadcast).
///
/// # Safety
/// The CPU has AVX512F/BW/VNNI; pointers cover `bpr` (even) blocks of each row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni")]
unsafe fn vnni512_tile<const RN: usize>(
    w: *const u8,
    x: [*const i8; RN],
    xs: [*const f32; RN],
    xb: [*const i32; RN],
    bpr: usize,
) -> [[f32; RN]; 4] {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); RN]; 4];
    for p in 0..bpr / 2 {
        let pair = unsafe { w.add(p * QUAD_PAIR) };
        prefetch_ahead(pair);
        let sc = unsafe { scale_table::<RN>(pair, xs, p) };
        let xv: [__m512i; RN] = std::array::from_fn(|r| unsafe { _mm512_loadu_si512(x[r].add(p * 2 * BLOCK) as *const _) });
        for j in 0..4 {
            let wv = unsafe { _mm512_loadu_si512(pair.add(32 + j * 2 * BLOCK) as *const _) };
            for r in 0..RN {
                let (init, s) = unsafe {
                    (
                        _mm512_set1_epi64((xb[r].add(2 * p) as *const i64).read_unaligned()),
                        _mm512_castpd_ps(_mm512_set1_pd((sc[r].as_ptr().add(2 * j) as *const f64).read_unaligned())),
                    )
                };
                let dot = _mm512_dpbusd_epi32(init, wv, xv[r]);
                acc[j][r] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(dot), acc[j][r]);
            }
        }
    }
    let mut out = [[0f32; RN]; 4];
    for j in 0..4 {
        for r in 0..RN {
            out[j][r] = _mm512_reduce_add_ps(acc[j][r]);
        }
    }
    out
}

/// # Safety
/// The CPU has AVX512F/BW/VNNI; `out` as for [`scalar_block`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni")]
pub(super) unsafe fn vnni512_block(x: &QActs, w: &QMatrix, quads: Range<usize>, out: *mut f32) {
    // Three rows a tile: with four, the 16 accumulators, activations and offsets outgrow the
    // 32 registers and the compiler spills and shuffles (three: 5–8% faster on the shapes of
    // SmolLM2, `shape_speed`).
    drive!(x, w, quads, out, vnni512_tile, 3)
}

/// One block of activations to 8-bit values as [`super::kernels`]'s `quantize_block` does it
/// (scale `max |x| / 127`, round half away from zero), in AVX2: the scale, the values and their
/// sum.
///
/// # Safety
/// AVX2 and FMA; `src` holds at least 32 values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_block_avx2(src: &[f32]) -> (f32, [i8; BLOCK], i32) {
    use std::arch::x86_64::*;
    assert!(src.len() >= BLOCK);
    let sign = _mm256_set1_ps(-0.0);
    let v: [__m256; 4] = std::array::from_fn(|k| unsafe { _mm256_loadu_ps(src.as_ptr().add(8 * k)) });
    let a: [__m256; 4] = v.map(|x| _mm256_andnot_ps(sign, x));
    let m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
    let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    let d = amax / 127.0;
    let inv = _mm256_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
    let half = _mm256_set1_ps(0.5);
    let q: [__m256i; 4] = v.map(|x| {
        let y = _mm256_mul_ps(x, inv);
        _mm256_cvttps_epi32(_mm256_add_ps(y, _mm256_or_ps(_mm256_and_ps(y, sign), half)))
    });
    // Packing interleaves the 128-bit halves: groups come out as 0, 2, 4, 6, 1, 3, 5, 7.
    let packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    let ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    let mut values = [0i8; BLOCK];
    unsafe { _mm256_storeu_si256(values.as_mut_ptr() as *mut __m256i, ordered) };
    let s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    (d, values, _mm_cvtsi128_si32(s))
}
