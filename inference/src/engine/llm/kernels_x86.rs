//! The inner loops of [`super::kernels::matmul`]: four weight rows against one activation row
//! at a time, block by block, in three flavours (plain Rust, AVX2, AVX-VNNI) that compute the
//! same integer dot products. Split from `kernels` so the unsafe SIMD code sits in one place.

use std::ops::Range;

use super::kernels::{QActs, QMatrix, BLOCK};

/// Plain Rust: any CPU.
///
/// # Safety
/// `out` points to `[x.rows, w.rows]` floats and no other thread writes columns `cols`.
pub(super) unsafe fn scalar_block(x: &QActs, w: &QMatrix, cols: Range<usize>, out: *mut f32) {
    let (xp, wp) = (x.parts(), w.parts());
    let bpr = w.cols / BLOCK;
    for r in 0..x.rows {
        for c in cols.clone() {
            let mut acc = 0f32;
            for b in 0..bpr {
                let wq = &wp.qs[(c * bpr + b) * BLOCK..][..BLOCK];
                let xq = &xp.qs[(r * bpr + b) * BLOCK..][..BLOCK];
                let dot: i32 = wq.iter().zip(xq).map(|(&a, &b)| ((a ^ 0x80) as i8 as i32) * b as i32).sum();
                acc += dot as f32 * wp.scales[c * bpr + b] * xp.scales[r * bpr + b];
            }
            unsafe { *out.add(r * w.rows + c) = acc };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps::<1>(v);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// Signed 32 × i8 dot product of an offset weight block (`w + 128`) and an activation block,
    /// as eight partial i32 sums, with AVX2 only (no overflow: |w|, |x| ≤ 127).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_avx2(w_off: __m256i, x: __m256i) -> __m256i {
        let w = _mm256_xor_si256(w_off, _mm256_set1_epi8(-128));
        let ax = _mm256_sign_epi8(w, w);
        let sx = _mm256_sign_epi8(x, w);
        let pairs = _mm256_maddubs_epi16(ax, sx);
        _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
    }
}

/// Generates one SIMD block function: `$dot(w_block, x_block)` gives eight i32 partial sums,
/// `$correct` says whether the +128 weight offset must be undone with the activation sums.
macro_rules! simd_block {
    ($name:ident, $features:literal, $dot:expr, $correct:expr) => {
        /// # Safety
        /// The CPU has the named features; `out` as for [`scalar_block`].
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        pub(super) unsafe fn $name(x: &QActs, w: &QMatrix, cols: Range<usize>, out: *mut f32) {
            use std::arch::x86_64::*;
            let (xp, wp) = (x.parts(), w.parts());
            let bpr = w.cols / BLOCK;
            let mut c = cols.start;
            while c < cols.end {
                let n = (cols.end - c).min(4);
                for r in 0..x.rows {
                    let mut acc = [_mm256_setzero_ps(); 4];
                    let mut corr = [0f32; 4];
                    let xrow = r * bpr;
                    for b in 0..bpr {
                        let xv = unsafe { _mm256_loadu_si256(xp.qs.as_ptr().add((xrow + b) * BLOCK) as *const __m256i) };
                        let dx = xp.scales[xrow + b];
                        for j in 0..n {
                            let wi = (c + j) * bpr + b;
                            let wv = unsafe { _mm256_loadu_si256(wp.qs.as_ptr().add(wi * BLOCK) as *const __m256i) };
                            let dot = $dot(wv, xv);
                            let s = _mm256_set1_ps(wp.scales[wi] * dx);
                            acc[j] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(dot), acc[j]);
                            if $correct {
                                corr[j] += wp.scales[wi] * xp.corr[xrow + b];
                            }
                        }
                    }
                    for j in 0..n {
                        let v = unsafe { simd::hsum(acc[j]) } - corr[j];
                        unsafe { *out.add(r * w.rows + c + j) = v };
                    }
                }
                c += n;
            }
        }
    };
}

simd_block!(avx2_block, "avx2,fma", |w, x| unsafe { simd::dot_avx2(w, x) }, false);
simd_block!(
    vnni_block,
    "avx2,fma,avxvnni",
    |w, x| _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w, x),
    true
);
