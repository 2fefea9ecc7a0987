//! The inner loops of [`super::kernels::matmul`]: a register tile of one packed weight quad
//! (four rows, read as one sequential stream) by `RN` activation rows, block by block, fully unrolled (const generics) so the accumulators stay in
//! registers. Flavours: plain Rust, AVX2 (`maddubs` on signed weights), AVX-VNNI and
//! AVX512-VNNI (`dpbusd` on the stored unsigned `w + 128`, the offset undone by starting each
//! block's integer sum at `-128 · Σ x`). All compute the same integer dot products; tests compare them.

use std::ops::Range;

use super::kernels::{QActs, QMatrix, BLOCK, QUAD, QUAD_PAIR};

/// Plain Rust: any CPU.
///
/// # Safety
/// `out` points to `[x.rows, w.rows]` floats and no other thread writes the rows of `quads`.
pub(super) unsafe fn scalar_block(x: &QActs, w: &QMatrix, quads: Range<usize>, out: *mut f32) {
    let xp = x.parts();
    let bpr = w.bpr;
    let rows = quads.start * QUAD..(quads.end * QUAD).min(w.rows);
    for r in 0..x.rows {
        for c in rows.clone() {
            let mut acc = 0f32;
            for b in 0..bpr {
                let (dw, wq) = w.block(c, b);
                let xq = &xp.qs[(r * bpr + b) * BLOCK..][..BLOCK];
                let dot: i32 = wq.iter().zip(xq).map(|(&a, &b)| ((a ^ 0x80) as i8 as i32) * b as i32).sum();
                acc += dot as f32 * dw * xp.scales[r * bpr + b];
            }
            unsafe { *out.add(r * w.rows + c) = acc };
        }
    }
}

/// The loop every SIMD flavour shares: for each weight quad, tiles of `$rn` activation rows,
/// then the rows left one at a time; results stored for the quad's real rows only. `$scales`
/// and `$bias` are the activations' per-block arrays, `$lanes` values per block in them.
macro_rules! drive {
    ($x:expr, $w:expr, $quads:expr, $out:expr, $tile:ident, $rn:literal, $scales:expr, $bias:expr, $lanes:literal) => {{
        let (x, w, out) = ($x, $w, $out);
        let bpr = w.bpr;
        let xrow = |r: usize| unsafe { x.parts().qs.as_ptr().add(r * bpr * BLOCK) };
        let xsc = |r: usize| unsafe { $scales.as_ptr().add(r * bpr * $lanes) };
        let xbias = |r: usize| unsafe { $bias.as_ptr().add(r * bpr * $lanes) };
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
            while r < x.rows {
                let t = unsafe { $tile::<1>(wq, [xrow(r)], [xsc(r)], [xbias(r)], bpr) };
                store(r, &std::array::from_fn(|j| t[j][0]));
                r += 1;
            }
        }
    }};
}

/// How far ahead of the current block a decode tile prefetches its weights.
const PREFETCH: usize = 4 * QUAD_PAIR;

/// Generates one SIMD flavour: `$tile` (the register tile), `$name` (the block driver).
/// `$dot(init, w, x)` gives eight i32 partial sums of one block pair added to `init`;
/// `$correct` says whether the +128 weight offset must be undone (then `init` carries the
/// activation block's `-16 · Σ x` per lane); `$rn` is the activation rows per tile.
macro_rules! simd_flavour {
    ($name:ident, $tile:ident, $features:literal, $rn:literal, $dot:expr, $correct:expr) => {
        /// # Safety
        /// The CPU has the named features; pointers cover `bpr` blocks of each row.
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
            for b in 0..bpr {
                let pair = unsafe { w.add((b / 2) * QUAD_PAIR) };
                let h = b % 2;
                // The block's four weight scales times each activation row's, kept in memory:
                // each product is then one broadcast load, not a multiply and a shuffle per cell.
                let dwq = unsafe { _mm_loadu_ps((pair as *const f32).add(h * QUAD)) };
                let mut sc = [[0f32; 4]; RN];
                let mut xv = [_mm256_setzero_si256(); RN];
                let mut init = [_mm256_setzero_si256(); RN];
                for r in 0..RN {
                    xv[r] = unsafe { _mm256_loadu_si256(x[r].add(b * BLOCK) as *const __m256i) };
                    let dx = unsafe { _mm_broadcast_ss(&*xs[r].add(b)) };
                    unsafe { _mm_storeu_ps(sc[r].as_mut_ptr(), _mm_mul_ps(dwq, dx)) };
                    if $correct {
                        init[r] = _mm256_set1_epi32(unsafe { *xb[r].add(b) });
                    }
                }
                // Decode streams the weights once: ask for them well ahead of use.
                if RN == 1 && h == 0 {
                    let blk = pair;
                    _mm_prefetch::<_MM_HINT_T0>(blk.wrapping_add(PREFETCH) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(blk.wrapping_add(PREFETCH + 64) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(blk.wrapping_add(PREFETCH + 128) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(blk.wrapping_add(PREFETCH + 192) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(blk.wrapping_add(PREFETCH + 256) as *const i8);
                }
                for j in 0..4 {
                    let wv = unsafe { _mm256_loadu_si256(pair.add(32 + j * 2 * BLOCK + h * BLOCK) as *const __m256i) };
                    for r in 0..RN {
                        let dot = $dot(init[r], wv, xv[r]);
                        let s = _mm256_broadcast_ss(&sc[r][j]);
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
            let xp = x.parts();
            drive!(x, w, quads, out, $tile, $rn, xp.scales, xp.bias, 1)
        }
    };
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

simd_flavour!(avx2_block, avx2_tile, "avx2,fma", 2, |_, w, x| unsafe { dot_avx2(w, x) }, false);
simd_flavour!(
    vnni_block,
    vnni_tile,
    "avx2,fma,avxvnni",
    2,
    |init, w, x| _mm256_dpbusd_avx_epi32(init, w, x),
    true
);

/// The AVX512-VNNI tile: a quad of weight rows by `RN` activation rows, two blocks per
/// 512-bit operation (the pair layout puts a row's two blocks together; the activations'
/// per-lane scale and offset arrays give the matching sixteen lanes).
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
        if RN == 1 {
            for k in 0..5 {
                _mm_prefetch::<_MM_HINT_T0>(pair.wrapping_add(PREFETCH + 64 * k) as *const i8);
            }
        }
        for j in 0..4 {
            let wv = unsafe { _mm512_loadu_si512(pair.add(32 + j * 2 * BLOCK) as *const _) };
            let (s0, s1) = unsafe { ((pair as *const f32).add(j).read_unaligned(), (pair as *const f32).add(QUAD + j).read_unaligned()) };
            let dw = _mm512_mask_broadcastss_ps(_mm512_set1_ps(s0), 0xFF00, _mm_set_ss(s1));
            for r in 0..RN {
                // Activation operands straight from L1 (memory operands): no register pressure.
                let (xv, dx, init) = unsafe {
                    (
                        _mm512_loadu_si512(x[r].add(p * 2 * BLOCK) as *const _),
                        _mm512_loadu_ps(xs[r].add(p * 16)),
                        _mm512_loadu_si512(xb[r].add(p * 16) as *const _),
                    )
                };
                let dot = _mm512_dpbusd_epi32(init, wv, xv);
                acc[j][r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(dot), acc[j][r]);
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
    let xp = x.parts();
    drive!(x, w, quads, out, vnni512_tile, 4, xp.scale_lanes, xp.bias_lanes, 8)
}
