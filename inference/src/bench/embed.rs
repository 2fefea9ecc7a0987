//! Embedding figures: sentences/s at batch 1 and 32 through our public API, against llama.cpp
//! embedding the same sentences with the same BERT weights (converted once to a GGUF by the
//! peer), alternating round by round. Before timing anything, both sides embed a few check
//! sentences and the report carries their cosines, so a reader sees both embed the same thing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::peer::Peer;
use super::report::{BenchReport, Figure};
use super::median;
use crate::{CandleModel, LanguageModel, ModelPaths, Result};

/// Below this the two sides do not compute the same embedding and their speeds are not
/// comparable (the bench says so rather than hide it).
pub const MIN_COSINE: f64 = 0.99;

const CHECK_SENTENCES: [&str; 4] = [
    "I would like to change my appointment.",
    "My wound is leaking and I have a fever.",
    "Can I take my tablets with food?",
    "Where do I park for the orthopaedic clinic?",
];

/// Where the peer's GGUF of our embedding model is cached (git-ignored models/cache/, beside
/// the safetensors it is made from, with `<file>.sha256` next to it).
pub fn peer_gguf(paths: &ModelPaths) -> PathBuf {
    paths.embedding_dir.join(format!("{}.f32.gguf", paths.embedding_id))
}

/// Cosine similarity; 0 when either vector is zero or their lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let denom = norm(a) * norm(b);
    if denom == 0.0 { 0.0 } else { dot / denom }
}

fn embed_ours(model: &CandleModel, texts: &[String]) -> Result<(Duration, Vec<Vec<f32>>)> {
    // The engine's futures need no runtime (channels only): block this thread on them.
    let start = Instant::now();
    let vectors = futures::executor::block_on(model.embed(texts.to_vec()))?;
    Ok((start.elapsed(), vectors))
}

/// Opens the peer's embedding model and compares its vectors with ours. `Ok(false)` (with the
/// reason in the report) when the peer cannot embed or embeds something else.
fn open_and_check(model: &CandleModel, peer: &mut Peer, paths: &ModelPaths, r: &mut BenchReport) -> Result<bool> {
    let gguf = peer_gguf(paths);
    let opened = match peer.embed_open(&paths.embedding_dir, &gguf) {
        Ok(o) => o,
        Err(e) => {
            r.check(format!("llama.cpp embeddings not measured: {e}"));
            return Ok(false);
        }
    };
    let texts: Vec<String> = CHECK_SENTENCES.map(String::from).to_vec();
    let (_, ours) = embed_ours(model, &texts)?;
    let theirs = match peer.embed(&texts, true) {
        Ok(t) => t.vectors,
        Err(e) => {
            r.check(format!("llama.cpp embeddings not measured: {e}"));
            return Ok(false);
        }
    };
    r.embed_cosine = ours.iter().zip(&theirs).map(|(a, b)| cosine(a, b)).collect();
    let min = r.embed_cosine.iter().copied().fold(f64::INFINITY, f64::min);
    let agree = theirs.len() == texts.len() && min > MIN_COSINE;
    r.check(format!(
        "embeddings: cosine(ours, llama.cpp) over {} sentences min {:.5} [{}] -> {}; peer GGUF {} {} (sha256 {}…), mean pooling",
        texts.len(),
        min,
        r.embed_cosine.iter().map(|c| format!("{c:.5}")).collect::<Vec<_>>().join(" "),
        if agree { "same embedding" } else { "DIFFERENT embeddings: peer figures left out" },
        gguf_name(&gguf),
        if opened.converted { "converted this run" } else { "cached" },
        &opened.sha256[..12],
    ));
    Ok(agree)
}

fn gguf_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Embedding sentences/s at batch 1 and 32, ours and (when it agrees with us) the peer's.
pub fn figures(model: &CandleModel, peer: Option<&mut Peer>, paths: &ModelPaths, r: &mut BenchReport, rounds: usize) -> Result<()> {
    let mut peer = match peer {
        Some(p) => open_and_check(model, p, paths, r)?.then_some(p),
        None => None,
    };
    let one: Vec<String> = vec!["I would like to change my appointment.".into()];
    let many: Vec<String> = (0..32).map(|i| format!("Question {i}: can I take my tablets with food?")).collect();
    let batches = [&one, &many];
    let mut ours: [Vec<Duration>; 2] = Default::default();
    let mut theirs: [Vec<Duration>; 2] = Default::default();
    for _ in 0..rounds {
        for (i, texts) in batches.iter().enumerate() {
            ours[i].push(embed_ours(model, texts)?.0);
            if let Some(p) = peer.as_deref_mut() {
                match p.embed(texts, false) {
                    Ok(t) => theirs[i].push(t.seconds),
                    Err(e) => {
                        r.check(format!("llama.cpp embeddings stopped: {e}"));
                        peer = None;
                        theirs = Default::default();
                    }
                }
            }
        }
    }
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    for (i, texts) in batches.iter().enumerate() {
        let n = texts.len();
        let peer_rate = (!theirs[i].is_empty()).then(|| rate(n, median(theirs[i].clone())));
        r.push(Figure::rate(&format!("embed batch {n}"), "sent/s", rate(n, median(ours[i].clone())), peer_rate));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_same_direction_is_one_and_of_orthogonal_is_zero() {
        assert!((cosine(&[0.6, 0.8], &[3.0, 4.0]) - 1.0).abs() < 1e-9);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-9);
    }

    #[test]
    fn cosine_of_mismatched_or_zero_vectors_is_zero() {
        assert_eq!(cosine(&[1.0, 0.0], &[1.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
