//! The kernels against the float product, the packing round trips, and a speed probe.

use super::*;

fn reference(x: &[f32], w: &[f32], rows: usize, n: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * n];
    for r in 0..rows {
        for c in 0..n {
            out[r * n + c] = (0..k).map(|i| x[r * k + i] * w[c * k + i]).sum();
        }
    }
    out
}

fn pseudo(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((s >> 8) as f32 / (1u32 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn every_kernel_matches_the_float_product() {
    for (rows, n, k) in [(1, 7, 64), (3, 13, 96), (9, 40, 576), (5, 4, 32), (6, 9, 64), (4, 8, 1536)] {
        let x = pseudo(rows * k, 1);
        let w = pseudo(n * k, 2);
        let want = reference(&x, &w, rows, n, k);
        let wq = QMatrix::quantize(&w, n, k);
        let mut xq = QActs::default();
        xq.quantize(&x, rows, k);
        for kernel in ["scalar", "avx2", "avxvnni", ""] {
            let kern = Kernel::best(kernel);
            let mut got = vec![0.0; rows * n];
            let ptr = SendPtr(got.as_mut_ptr());
            unsafe { kern.block(&xq, &wq, 0..wq.quads(), ptr) };
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 0.02 * (k as f32).sqrt(), "{kern:?} {rows}x{n}x{k}: {g} vs {w}");
            }
        }
        let mut par = vec![0.0; rows * n];
        matmul(&xq, &wq, &mut par);
        let mut scalar = vec![0.0; rows * n];
        unsafe { Kernel::Scalar.block(&xq, &wq, 0..wq.quads(), SendPtr(scalar.as_mut_ptr())) };
        for (a, b) in par.iter().zip(&scalar) {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "parallel {a} vs scalar {b}");
        }
    }
}

/// `cargo test --release -p inference --lib kernel_speed -- --ignored --nocapture`: each kernel
/// on a prefill-sized, a batched-decode-sized (16 rows) and a decode-sized product,
/// alternating, best of five (GMAC/s).
#[test]
#[ignore]
fn kernel_speed() {
    let (n, k) = (3072, 576);
    let w = QMatrix::quantize(&pseudo(n * k, 9), n, k);
    for rows in [64usize, 16, 1] {
        let mut x = QActs::default();
        x.quantize(&pseudo(rows * k, 8), rows, k);
        let mut out = vec![0.0; rows * n];
        let mut best = std::collections::BTreeMap::new();
        for _ in 0..5 {
            for name in ["avx2", "avxvnni", ""] {
                let kern = Kernel::best(name);
                let reps = 192 / rows;
                let t = std::time::Instant::now();
                for _ in 0..reps {
                    unsafe { kern.block(&x, &w, 0..w.quads(), SendPtr(out.as_mut_ptr())) };
                }
                let gmacs = (reps * rows * n * k) as f64 / t.elapsed().as_secs_f64() / 1e9;
                let e = best.entry(format!("{kern:?}")).or_insert(0f64);
                *e = e.max(gmacs);
            }
        }
        eprintln!("rows {rows}: {best:?}");
    }
}

#[test]
fn stacking_keeps_every_row() {
    let (a, b) = (pseudo(3 * 64, 5), pseudo(6 * 64, 6));
    let s = QMatrix::stack(&[QMatrix::quantize(&a, 3, 64), QMatrix::quantize(&b, 6, 64)]);
    assert_eq!(s.rows, 9);
    let mut row = vec![0.0; 64];
    s.row(4, &mut row);
    for (x, y) in row.iter().zip(&b[64..128]) {
        assert!((x - y).abs() < 0.02, "{x} vs {y}");
    }
}

#[test]
fn gguf_blocks_and_rows_round_trip() {
    let w = pseudo(2 * 64, 3);
    let q = QMatrix::quantize(&w, 2, 64);
    let mut raw = Vec::new();
    for b in 0..4 {
        let (d, vals) = q.block(b / 2, b % 2);
        raw.extend(half::f16::from_f32(d).to_le_bytes());
        raw.extend(vals.iter().map(|v| v ^ 0x80));
    }
    let back = QMatrix::from_q8_0(&raw, 2, 64);
    let mut row = vec![0.0; 64];
    back.row(1, &mut row);
    for (a, b) in row.iter().zip(&w[64..]) {
        assert!((a - b).abs() < 0.02, "{a} vs {b}");
    }
}

/// `cargo test --release -p inference --lib shape_speed -- --ignored --nocapture`: the
/// detected kernel on SmolLM2's matrix shapes at 16 rows (batched decode), and one row against
/// the output matrix (decode, as read bandwidth).
#[test]
#[ignore]
fn shape_speed() {
    for (n, k) in [(960usize, 576usize), (576, 576), (3072, 576), (576, 1536), (49152, 576)] {
        let w = QMatrix::quantize(&pseudo(n * k, 9), n, k);
        let rows = 16;
        let mut x = QActs::default();
        x.quantize(&pseudo(rows * k, 8), rows, k);
        let mut out = vec![0.0; rows * n];
        let kern = Kernel::best("");
        let mut best = 0f64;
        for _ in 0..5 {
            let reps = (200_000_000 / (rows * n * k)).max(1);
            let t = std::time::Instant::now();
            for _ in 0..reps {
                unsafe { kern.block(&x, &w, 0..w.quads(), SendPtr(out.as_mut_ptr())) };
            }
            best = best.max((reps * rows * n * k) as f64 / t.elapsed().as_secs_f64() / 1e9);
        }
        eprintln!("{n}x{k}: {best:.1} GMAC/s");
    }
    // Decode: one row against a matrix larger than the caches, as read bandwidth.
    let (n, k) = (49152, 576);
    let w = QMatrix::quantize(&pseudo(n * k, 9), n, k);
    let mut x = QActs::default();
    x.quantize(&pseudo(k, 8), 1, k);
    let mut out = vec![0.0; n];
    let mut best = 0f64;
    for _ in 0..20 {
        let t = std::time::Instant::now();
        unsafe { Kernel::detect().block(&x, &w, 0..w.quads(), SendPtr(out.as_mut_ptr())) };
        best = best.max(w.bytes() as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    eprintln!("decode {n}x{k}: {best:.1} GB/s");
}

/// The 256-bit VNNI tile (AVX-VNNI CPUs) through its EVEX twin, where the CPU has AVX512-VNNI.
#[test]
fn the_256_bit_vnni_tile_matches_the_plain_kernel() {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl") && is_x86_feature_detected!("fma") {
        for (rows, n, k) in [(1, 7, 64), (3, 13, 96), (5, 40, 576), (4, 8, 1536)] {
            let (x, w) = (pseudo(rows * k, 21), pseudo(n * k, 22));
            let wq = QMatrix::quantize(&w, n, k);
            let mut xq = QActs::default();
            xq.quantize(&x, rows, k);
            let (mut got, mut want) = (vec![0.0; rows * n], vec![0.0; rows * n]);
            unsafe { super::super::kernels_x86::vnni_vl_block(&xq, &wq, 0..wq.quads(), got.as_mut_ptr()) };
            unsafe { Kernel::Scalar.block(&xq, &wq, 0..wq.quads(), SendPtr(want.as_mut_ptr())) };
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-3 * w.abs().max(1.0), "{rows}x{n}x{k}: {g} vs {w}");
            }
        }
    }
}

#[test]
fn avx2_quantization_gives_the_plain_values() {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        let mut x = pseudo(40 * BLOCK, 11);
        x[..BLOCK].fill(0.0);
        x[BLOCK + 3] = 7.5;
        for (i, block) in x.chunks_exact(BLOCK).enumerate() {
            let block: Vec<f32> = block.iter().map(|v| v * (i as f32 + 0.25)).collect();
            let (d, q) = quantize_block(&block);
            let (d2, q2, sum) = unsafe { super::super::kernels_x86::quantize_block_avx2(&block) };
            assert_eq!((d, q), (d2, q2), "block {i}");
            assert_eq!(sum, q.iter().map(|&v| v as i32).sum::<i32>());
        }
    }
}

#[test]
#[ignore]
fn quantize_speed() {
    let x = pseudo(16 * 1536, 4);
    let mut q = QActs::default();
    let t = std::time::Instant::now();
    for _ in 0..2000 {
        q.quantize(&x, 16, 1536);
    }
    eprintln!("quantize: {:.2} ns/value", t.elapsed().as_secs_f64() * 1e9 / (2000.0 * x.len() as f64));
}
