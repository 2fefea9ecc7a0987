//! Measurements of the forward pass itself, on the same token ids the peer gets: prefill,
//! greedy decode, batched decode across sequences, and this machine's memory bandwidth (the
//! ceiling a decode step can reach: it must read every weight once).

use std::time::{Duration, Instant};

use crate::engine::chat::{ChatModel, Sequence};
use crate::Result;

/// Time to feed `tokens` into a fresh sequence (one forward pass).
pub fn prefill(chat: &ChatModel, tokens: &[u32]) -> Result<Duration> {
    let mut seq = chat.new_sequence();
    let start = Instant::now();
    seq.feed(tokens, chat)?;
    Ok(start.elapsed())
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Feeds `prompt`, then times `n` greedy steps (one token each).
pub fn decode(chat: &ChatModel, prompt: &[u32], n: usize) -> Result<Duration> {
    let mut seq = chat.new_sequence();
    let mut token = argmax(&seq.feed(prompt, chat)?);
    let start = Instant::now();
    for _ in 0..n {
        token = argmax(&seq.feed(&[token], chat)?);
    }
    Ok(start.elapsed())
}

/// `b` sequences (distinct prompts), then `n` steps that feed one token of each together:
/// the time of those steps, and sequence 0's greedy tokens (compared with the peer's).
pub fn batched_decode(chat: &ChatModel, prompts: &[Vec<u32>], n: usize) -> Result<(Duration, Vec<u32>)> {
    let mut seqs: Vec<Sequence> = Vec::with_capacity(prompts.len());
    let mut next = Vec::with_capacity(prompts.len());
    for p in prompts {
        let mut s = chat.new_sequence();
        next.push([argmax(&s.feed(p, chat)?)]);
        seqs.push(s);
    }
    let mut first = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let mut batch: Vec<(&mut Sequence, &[u32])> = seqs.iter_mut().zip(&next).map(|(s, t)| (s, &t[..])).collect();
        let logits = chat.feed_batch(&mut batch)?;
        for (t, l) in next.iter_mut().zip(&logits) {
            t[0] = argmax(l);
        }
        if let Some(t) = next.first() {
            first.push(t[0]);
        }
    }
    Ok((start.elapsed(), first))
}

/// Read bandwidth in bytes/s with the current rayon pool: each thread sums its share of a
/// buffer much larger than the caches, several times; the best pass counts.
pub fn memory_bandwidth(bytes: usize) -> f64 {
    use rayon::prelude::*;
    let words = bytes / 8;
    let buf: Vec<u64> = (0..words as u64).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
    let threads = rayon::current_num_threads().max(1);
    let chunk = words.div_ceil(threads);
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let sum: u64 = buf
            .par_chunks(chunk)
            .map(|c| {
                // Four independent lanes so the loop is bound by loads, not by one add chain.
                let mut acc = [0u64; 4];
                for q in c.chunks_exact(4) {
                    for i in 0..4 {
                        acc[i] = acc[i].wrapping_add(q[i]);
                    }
                }
                acc.iter().fold(0u64, |a, b| a.wrapping_add(*b))
            })
            .reduce(|| 0, u64::wrapping_add);
        std::hint::black_box(sum);
        best = best.max(bytes as f64 / start.elapsed().as_secs_f64());
    }
    best
}
