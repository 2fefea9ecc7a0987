//! Exponentials, eight at a time. SwiGLU takes one per hidden unit per token (1,536 per layer
//! for SmolLM2, 740 k per batched step of 16) and softmax one per attended position; libm's
//! `expf` is a call per value that the compiler cannot vectorise. On AVX2 + FMA this is the
//! classic range reduction (`x = n·ln 2 + r`, |r| ≤ ln 2 / 2) with Cephes' degree-6 polynomial
//! for `eʳ`: within 2 ulp of `expf` over the range that matters (tests compare the two).

/// `out[i] = silu(g[i]) · u[i]`.
pub fn silu_mul(g: &[f32], u: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::kernels::Kernel::detect() != super::kernels::Kernel::Scalar {
        // SAFETY: a kernel other than the scalar one means the CPU has AVX2 and FMA.
        return unsafe { silu_mul_avx2(g, u, out) };
    }
    for ((h, &g), &u) in out.iter_mut().zip(g).zip(u) {
        *h = g / (1.0 + (-g).exp()) * u;
    }
}

/// `s[i] = e^(s[i] - max)` for every score; returns their sum. `F`: compiled for AVX2 + FMA
/// (the caller is).
#[inline(always)]
pub fn exp_shifted<const F: bool>(scores: &mut [f32], max: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if F {
        // SAFETY: `F` is only set by callers compiled for AVX2 and FMA.
        return unsafe { exp_shifted_avx2(scores, max) };
    }
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    sum
}

/// `eˣ` of eight values. Inputs below -87.3 give about 1e-38 (not 0), above 88.4 about 2e38.
///
/// # Safety
/// AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp8(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.336_54)), _mm256_set1_ps(88.376_26));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)));
    // ln 2 in two parts, so `n · ln 2` loses nothing in the subtraction.
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm256_set1_ps(1.987_569_2e-4);
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0)));
    let pow2n = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)));
    _mm256_mul_ps(y, _mm256_castsi256_ps(pow2n))
}

/// # Safety
/// AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn silu_mul_avx2(g: &[f32], u: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = out.len().min(g.len()).min(u.len());
    let mut i = 0;
    while i + 8 <= n {
        let gv = unsafe { _mm256_loadu_ps(g.as_ptr().add(i)) };
        let uv = unsafe { _mm256_loadu_ps(u.as_ptr().add(i)) };
        let e = unsafe { exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv)) };
        let h = _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(_mm256_set1_ps(1.0), e)), uv);
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(i), h) };
        i += 8;
    }
    for ((h, &g), &u) in out[i..n].iter_mut().zip(&g[i..n]).zip(&u[i..n]) {
        *h = g / (1.0 + (-g).exp()) * u;
    }
}

/// # Safety
/// AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_shifted_avx2(scores: &mut [f32], max: f32) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm256_set1_ps(max);
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i + 8 <= scores.len() {
        let p = unsafe { scores.as_mut_ptr().add(i) };
        let e = unsafe { exp8(_mm256_sub_ps(_mm256_loadu_ps(p), m)) };
        unsafe { _mm256_storeu_ps(p, e) };
        acc = _mm256_add_ps(acc, e);
        i += 8;
    }
    let mut lanes = [0f32; 8];
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    let mut sum: f32 = lanes.iter().sum();
    for s in &mut scores[i..] {
        *s = (*s - max).exp();
        sum += *s;
    }
    sum
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn exp8_is_within_two_ulp_of_libm() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let mut x = -87.0f32;
        while x < 88.0 {
            let xs: [f32; 8] = std::array::from_fn(|i| x + i as f32 * 0.0137);
            let mut got = [0f32; 8];
            unsafe { std::arch::x86_64::_mm256_storeu_ps(got.as_mut_ptr(), exp8(std::arch::x86_64::_mm256_loadu_ps(xs.as_ptr()))) };
            for (g, v) in got.iter().zip(xs) {
                let want = v.exp();
                let ulps = (g.to_bits() as i64 - want.to_bits() as i64).abs();
                assert!(ulps <= 2, "exp({v}) = {g}, libm {want} ({ulps} ulp)");
            }
            x += 0.1093;
        }
    }

    #[test]
    fn vector_paths_agree_with_the_plain_ones() {
        let g: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.7).collect();
        let u: Vec<f32> = (0..37).map(|i| 1.0 + i as f32 * 0.1).collect();
        let mut fast = vec![0.0; 37];
        silu_mul(&g, &u, &mut fast);
        for ((f, g), u) in fast.iter().zip(&g).zip(&u) {
            let want = g / (1.0 + (-g).exp()) * u;
            assert!((f - want).abs() <= 1e-6 * want.abs().max(1.0), "silu({g}) · {u}: {f} vs {want}");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            let mut a = g.clone();
            let mut b = g.clone();
            let (sa, sb) = (exp_shifted::<true>(&mut a, 12.6), exp_shifted::<false>(&mut b, 12.6));
            assert!((sa - sb).abs() <= 1e-5 * sb, "{sa} vs {sb}");
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-6 * y.max(1e-30), "{x} vs {y}");
            }
        }
    }
}
