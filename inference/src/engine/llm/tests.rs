//! Our forward pass against candle's reference implementations (`quantized_llama`,
//! `quantized_qwen2`) on small random GGUF files written here, so both architectures are
//! checked without downloading a model; and batching against one-at-a-time.

use std::io::Cursor;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::{Item, KvCache, Llm, Weights};

pub(super) const D: usize = 64;
pub(super) const HEADS: usize = 4;
pub(super) const KV: usize = 2;
pub(super) const FFN: usize = 128;
pub(super) const LAYERS: usize = 2;
pub(super) const VOCAB: usize = 96;

pub(super) fn random(shape: &[usize], seed: u64, scale: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Random tensors for a GGUF, each from its own seed (Q8_0 matrices, f32 vectors).
#[derive(Default)]
pub(super) struct Tensors {
    list: Vec<(String, QTensor)>,
    seed: u64,
}

impl Tensors {
    pub(super) fn add(&mut self, name: String, shape: &[usize], q: bool, scale: f32) {
        self.seed += 1;
        let t = random(shape, self.seed, scale);
        let dtype = if q { GgmlDType::Q8_0 } else { GgmlDType::F32 };
        self.list.push((name, QTensor::quantize(&t, dtype).unwrap()));
    }

    /// The tensors every architecture has, for heads of `hd` values and `vocab` tokens.
    pub(super) fn common(hd: usize, vocab: usize) -> Self {
        let mut t = Self::default();
        t.add("token_embd.weight".into(), &[vocab, D], true, 1.0);
        for i in 0..LAYERS {
            let p = |s: &str| format!("blk.{i}.{s}");
            t.add(p("attn_q.weight"), &[HEADS * hd, D], true, 0.2);
            t.add(p("attn_k.weight"), &[KV * hd, D], true, 0.2);
            t.add(p("attn_v.weight"), &[KV * hd, D], true, 0.2);
            t.add(p("attn_output.weight"), &[D, HEADS * hd], true, 0.2);
            t.add(p("ffn_gate.weight"), &[FFN, D], true, 0.2);
            t.add(p("ffn_up.weight"), &[FFN, D], true, 0.2);
            t.add(p("ffn_down.weight"), &[D, FFN], true, 0.2);
            t.add(p("attn_norm.weight"), &[D], false, 1.0);
            t.add(p("ffn_norm.weight"), &[D], false, 1.0);
        }
        t.add("output_norm.weight".into(), &[D], false, 1.0);
        t
    }

    /// The metadata every architecture has, under `arch`.
    pub(super) fn common_meta(arch: &str, hd: usize) -> Vec<(String, gguf_file::Value)> {
        use gguf_file::Value;
        vec![
            ("general.architecture".into(), Value::String(arch.into())),
            (format!("{arch}.attention.head_count"), Value::U32(HEADS as u32)),
            (format!("{arch}.attention.head_count_kv"), Value::U32(KV as u32)),
            (format!("{arch}.block_count"), Value::U32(LAYERS as u32)),
            (format!("{arch}.embedding_length"), Value::U32(D as u32)),
            (format!("{arch}.feed_forward_length"), Value::U32(FFN as u32)),
            (format!("{arch}.rope.dimension_count"), Value::U32(hd as u32)),
            (format!("{arch}.context_length"), Value::U32(512)),
            (format!("{arch}.attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        ]
    }

    pub(super) fn write(&self, meta: &[(String, gguf_file::Value)]) -> Vec<u8> {
        let meta_refs: Vec<(&str, &gguf_file::Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensor_refs: Vec<(&str, &QTensor)> = self.list.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut out = Cursor::new(Vec::new());
        gguf_file::write(&mut out, &meta_refs, &tensor_refs).unwrap();
        out.into_inner()
    }
}

/// A GGUF with random weights for `arch` (llama or qwen2).
pub(super) fn tiny_gguf(arch: &str, tied: bool) -> Vec<u8> {
    let hd = D / HEADS;
    let mut t = Tensors::common(hd, VOCAB);
    for i in 0..LAYERS {
        if arch == "qwen2" {
            t.add(format!("blk.{i}.attn_q.bias"), &[D], false, 0.1);
            t.add(format!("blk.{i}.attn_k.bias"), &[KV * hd], false, 0.1);
            t.add(format!("blk.{i}.attn_v.bias"), &[KV * hd], false, 0.1);
        }
    }
    if !tied {
        t.add("output.weight".into(), &[VOCAB, D], true, 0.5);
    }
    let mut meta = Tensors::common_meta(arch, hd);
    meta.push((format!("{arch}.rope.freq_base"), gguf_file::Value::F32(10_000.0)));
    t.write(&meta)
}

pub(super) fn ours(bytes: &[u8]) -> Llm {
    let mut cur = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut cur).unwrap();
    Llm::new(Weights::load(&content, &mut cur).unwrap())
}

/// candle's logits for feeding `chunks` one after the other.
fn reference(arch: &str, bytes: &[u8], chunks: &[&[u32]]) -> Vec<Vec<f32>> {
    let mut cur = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut cur).unwrap();
    let dev = Device::Cpu;
    let mut pos = 0;
    let mut out = Vec::new();
    enum M {
        L(quantized_llama::ModelWeights),
        Q(quantized_qwen2::ModelWeights),
    }
    let mut m = if arch == "llama" {
        M::L(quantized_llama::ModelWeights::from_gguf(content, &mut cur, &dev).unwrap())
    } else {
        M::Q(quantized_qwen2::ModelWeights::from_gguf(content, &mut cur, &dev).unwrap())
    };
    for c in chunks {
        let x = Tensor::new(*c, &dev).unwrap().unsqueeze(0).unwrap();
        let l = match &mut m {
            M::L(w) => w.forward(&x, pos).unwrap(),
            M::Q(w) => w.forward(&x, pos).unwrap(),
        };
        out.push(l.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        pos += c.len();
    }
    out
}

pub(super) fn assert_close(a: &[f32], b: &[f32], what: &str) {
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(worst <= 0.03 * scale, "{what}: max difference {worst} vs logit scale {scale}");
}

#[test]
fn matches_candle_reference_for_llama_and_qwen2() {
    let chunks: [&[u32]; 4] = [&[1, 5, 9, 33, 70], &[12], &[95], &[3, 4]];
    for (arch, tied) in [("llama", false), ("llama", true), ("qwen2", false)] {
        let bytes = tiny_gguf(arch, tied);
        let want = reference(arch, &bytes, &chunks);
        let llm = ours(&bytes);
        let mut cache = KvCache::default();
        for (i, c) in chunks.iter().enumerate() {
            let got = llm.forward(&mut [Item { cache: &mut cache, tokens: c }]).unwrap().remove(0);
            assert_close(&got, &want[i], &format!("{arch} tied={tied} step {i}"));
            // Later steps attend across shared segments and the tail, as after a prefix-cache hit.
            if i % 2 == 0 {
                cache.freeze();
            }
        }
        assert_eq!(cache.len(), 9);
    }
}

#[test]
fn a_batch_gives_what_each_sequence_gives_alone() {
    let llm = ours(&tiny_gguf("llama", false));
    let (mut a, mut b) = (KvCache::default(), KvCache::default());
    let alone_a = llm.forward(&mut [Item { cache: &mut a, tokens: &[1, 2, 3] }]).unwrap().remove(0);
    let alone_b = llm.forward(&mut [Item { cache: &mut b, tokens: &[7, 8] }]).unwrap().remove(0);
    let (mut a2, mut b2) = (KvCache::default(), KvCache::default());
    let both = llm
        .forward(&mut [Item { cache: &mut a2, tokens: &[1, 2, 3] }, Item { cache: &mut b2, tokens: &[7, 8] }])
        .unwrap();
    assert_close(&both[0], &alone_a, "a");
    assert_close(&both[1], &alone_b, "b");
    // And a snapshot continues exactly like the original, copied or shared.
    let mut snap = a.clone();
    let mut shared = a.clone();
    shared.freeze();
    let mut shared2 = shared.clone();
    let z = llm.forward(&mut [Item { cache: &mut shared2, tokens: &[4] }]).unwrap().remove(0);
    assert_eq!(shared.len(), 3, "a shared snapshot is untouched by its clone's growth");
    let x = llm.forward(&mut [Item { cache: &mut a, tokens: &[4] }]).unwrap().remove(0);
    let y = llm.forward(&mut [Item { cache: &mut snap, tokens: &[4] }]).unwrap().remove(0);
    assert_eq!(x, y);
    assert_eq!(x, z);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let llm = ours(&tiny_gguf("llama", false));
    let mut c = KvCache::default();
    assert!(llm.forward(&mut [Item { cache: &mut c, tokens: &[] }]).is_err());
    assert!(llm.forward(&mut [Item { cache: &mut c, tokens: &[VOCAB as u32] }]).is_err());
    assert!(c.is_empty());
}

#[test]
fn an_unsupported_architecture_is_refused_by_name() {
    let bytes = tiny_gguf("phi3", false);
    let mut cur = Cursor::new(&bytes[..]);
    let content = gguf_file::Content::read(&mut cur).unwrap();
    let err = Weights::load(&content, &mut cur).err().unwrap();
    assert!(err.contains("unsupported architecture \"phi3\"") && err.contains("gemma3"), "{err}");
}
