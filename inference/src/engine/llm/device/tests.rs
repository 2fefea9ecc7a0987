//! The device pass against our CPU pass (itself checked against candle's reference models in
//! `llm::tests`) on the same small random GGUF files: every architecture, feeding in chunks
//! across frozen segments, sliding windows, batches, and a failed pass leaving the caches as
//! they were. They run on candle's CPU device, or on the GPU that `INFERENCE_TEST_DEVICE`
//! names (`cuda`, in a build with the `cuda` feature), so a GPU machine checks its kernels
//! without the real models.

use std::io::Cursor;

use candle_core::quantized::gguf_file;
use candle_core::Device;

use super::super::gemma3_tests::tiny_gemma3;
use super::super::tests::{assert_close, ours, tiny_gguf, VOCAB};
use super::super::{Item, KvCache, Llm};
use super::{DeviceCache, DeviceItem, DeviceLlm};

/// The candle device these tests run on: `INFERENCE_TEST_DEVICE`, else candle's CPU.
fn test_device() -> Device {
    let Ok(name) = std::env::var("INFERENCE_TEST_DEVICE") else { return Device::Cpu };
    let setting: crate::ModelDevice = name.parse().expect("INFERENCE_TEST_DEVICE: cuda, cuda:N or candle-cpu");
    crate::engine::chat::candle_device(setting).unwrap().unwrap_or(Device::Cpu)
}

fn on_device(bytes: &[u8]) -> DeviceLlm {
    let mut cur = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut cur).unwrap();
    DeviceLlm::load(&content, &mut cur, &test_device()).unwrap()
}

fn host_feed(llm: &Llm, cache: &mut KvCache, tokens: &[u32]) -> Vec<f32> {
    llm.forward(&mut [Item { cache, tokens }]).unwrap().remove(0)
}

fn device_feed(llm: &DeviceLlm, cache: &mut DeviceCache, tokens: &[u32]) -> Vec<f32> {
    llm.forward(&mut [DeviceItem { cache, tokens }]).unwrap().remove(0)
}

/// Feeds `chunks` to both passes, freezing after every other one, and compares each step.
fn same_steps(bytes: &[u8], chunks: &[&[u32]], what: &str) {
    let (host, device) = (ours(bytes), on_device(bytes));
    let (mut hc, mut dc) = (KvCache::default(), DeviceCache::default());
    for (i, c) in chunks.iter().enumerate() {
        let want = host_feed(&host, &mut hc, c);
        let got = device_feed(&device, &mut dc, c);
        assert_close(&got, &want, &format!("{what} step {i}"));
        if i % 2 == 0 {
            dc.freeze();
        }
    }
    assert_eq!(dc.len(), hc.len());
}

#[test]
fn the_device_pass_matches_ours_for_llama_and_qwen2() {
    let chunks: [&[u32]; 5] = [&[1, 5, 9, 33, 70], &[12], &[95], &[3, 4], &[7]];
    for (arch, tied) in [("llama", false), ("llama", true), ("qwen2", false)] {
        same_steps(&tiny_gguf(arch, tied), &chunks, &format!("{arch} tied={tied}"));
    }
}

#[test]
fn the_device_pass_matches_ours_for_gemma3_inside_and_past_its_window() {
    let chunks: [&[u32]; 5] = [&[2, 1, 2, 3, 4, 5, 6], &[7], &[8, 9, 10], &[11], &[12]];
    for window in [4, 64] {
        same_steps(&tiny_gemma3(window), &chunks, &format!("gemma3 window {window}"));
    }
}

#[test]
fn a_device_batch_gives_what_each_sequence_gives_alone() {
    let llm = on_device(&tiny_gemma3(4));
    let (mut a, mut b) = (DeviceCache::default(), DeviceCache::default());
    let alone_a = device_feed(&llm, &mut a, &[2, 1, 2, 3, 4, 5]);
    let alone_b = device_feed(&llm, &mut b, &[2, 7, 8]);
    let (mut a2, mut b2) = (DeviceCache::default(), DeviceCache::default());
    let both = llm
        .forward(&mut [
            DeviceItem { cache: &mut a2, tokens: &[2, 1, 2, 3, 4, 5] },
            DeviceItem { cache: &mut b2, tokens: &[2, 7, 8] },
        ])
        .unwrap();
    assert_close(&both[0], &alone_a, "a");
    assert_close(&both[1], &alone_b, "b");
    // Decode steps of both together, one token each, after a freeze (as after a prefix hit).
    a.freeze();
    let mut snap = a.clone();
    let step = llm
        .forward(&mut [DeviceItem { cache: &mut a, tokens: &[9] }, DeviceItem { cache: &mut b, tokens: &[9] }])
        .unwrap();
    assert_close(&step[0], &device_feed(&llm, &mut snap, &[9]), "a decode step");
    assert_eq!(snap.len(), 7);
    assert_eq!(a.segments().collect::<Vec<_>>(), snap.segments().collect::<Vec<_>>(), "both share the frozen part");
}

#[test]
fn bad_input_leaves_the_device_caches_untouched() {
    let llm = on_device(&tiny_gguf("llama", false));
    let (mut a, mut b) = (DeviceCache::default(), DeviceCache::default());
    device_feed(&llm, &mut a, &[1, 2]);
    let err = llm
        .forward(&mut [DeviceItem { cache: &mut a, tokens: &[3] }, DeviceItem { cache: &mut b, tokens: &[VOCAB as u32] }])
        .unwrap_err();
    assert!(err.contains("outside the vocabulary"), "{err}");
    assert_eq!((a.len(), b.len()), (2, 0));
    assert!(llm.forward(&mut [DeviceItem { cache: &mut b, tokens: &[] }]).is_err());
    // The cache still continues as if nothing had happened.
    let mut fresh = DeviceCache::default();
    device_feed(&llm, &mut fresh, &[1, 2]);
    assert_eq!(device_feed(&llm, &mut a, &[3]), device_feed(&llm, &mut fresh, &[3]));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn a_gpu_in_a_build_without_cuda_is_a_clear_error() {
    let err = crate::engine::chat::candle_device(crate::ModelDevice::Cuda(0)).unwrap_err().to_string();
    assert!(err.contains("device cuda: this build has no GPU support"), "{err}");
}

/// Tokens `0..n` spread over the tiny vocabulary.
fn tokens(n: usize, salt: u32) -> Vec<u32> {
    (0..n as u32).map(|i| (i * 7 + salt) % VOCAB as u32).collect()
}

#[test]
fn clones_that_go_different_ways_each_keep_their_own_positions() {
    // Two clones of an unfrozen cache share its buffers; the second to write finds the
    // first's positions past its end and must copy, not overwrite them.
    let bytes = tiny_gguf("qwen2", false);
    let (host, llm) = (ours(&bytes), on_device(&bytes));
    let mut a = DeviceCache::default();
    device_feed(&llm, &mut a, &[1, 5, 9]);
    let mut b = a.clone();
    let got_a = [device_feed(&llm, &mut a, &[12]), device_feed(&llm, &mut a, &[13])];
    let got_b = [device_feed(&llm, &mut b, &[40]), device_feed(&llm, &mut b, &[41])];
    let got_a2 = device_feed(&llm, &mut a, &[14]);
    for (history, got) in [(&[1, 5, 9, 12, 13, 14][..], &got_a2), (&[1, 5, 9, 40, 41][..], &got_b[1])] {
        let mut hc = KvCache::default();
        let want = host_feed(&host, &mut hc, history);
        assert_close(got, &want, &format!("{history:?}"));
    }
    assert_ne!(got_a[1], got_b[1]);
}

#[test]
fn a_cache_grows_past_its_first_buffer_one_step_at_a_time() {
    let bytes = tiny_gguf("llama", false);
    let (host, llm) = (ours(&bytes), on_device(&bytes));
    let (mut hc, mut dc) = (KvCache::default(), DeviceCache::default());
    let prompt = tokens(120, 3);
    assert_close(&device_feed(&llm, &mut dc, &prompt), &host_feed(&host, &mut hc, &prompt), "prompt");
    for (i, t) in tokens(20, 11).into_iter().enumerate() {
        if i == 5 {
            dc.freeze();
        }
        let want = host_feed(&host, &mut hc, &[t]);
        assert_close(&device_feed(&llm, &mut dc, &[t]), &want, &format!("step {i}"));
    }
    assert_eq!(dc.len(), 140);
}
