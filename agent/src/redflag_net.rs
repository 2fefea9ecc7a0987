//! Builds the red-flag example net (`workflows::redflags::net`) with the local embedding model.
//! Embedding its ~2,000 examples takes half a minute on two cores, so the vectors are kept in
//! the models' cache folder, keyed by the examples and the embedding model: `agent models
//! fetch` builds them once per machine, and the service loads them in a blink (or builds them
//! in the background, rules alone meanwhile, when the file is missing).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use inference::LanguageModel;
use sha2::{Digest, Sha256};
use workflows::redflags::net::{examples, examples_source, ExampleNet, NetSlot};

/// Texts embedded per request (the model's queue takes them between patients' turns).
const BATCH: usize = 32;

/// The models' folder a configuration uses.
pub fn models_dir(config: &inference::ModelConfig) -> PathBuf {
    config.models_dir.clone().unwrap_or_else(inference::default_models_dir)
}

/// The cache file for the shipped examples' vectors under the embedding model `embedding_sha256`.
pub fn cache_file(models_dir: &Path, embedding_sha256: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(embedding_sha256.as_bytes());
    for part in examples_source() {
        h.update(part.as_bytes());
    }
    let key = hex::encode(&h.finalize()[..8]);
    models_dir.join("cache").join(format!("redflag-examples-{key}.f32"))
}

/// The net from the cache file, when it holds the shipped examples' vectors for `model`.
fn load_cached(models_dir: &Path, model: &dyn LanguageModel) -> Option<ExampleNet> {
    let labelled = examples();
    let vectors = read_cache(&cache_file(models_dir, &model.info().embedding_sha256), labelled.len())?;
    ExampleNet::new(vectors, &labelled).ok()
}

/// The net from the cache file, or built with `model` and written there.
pub async fn load_or_build(models_dir: &Path, model: &dyn LanguageModel) -> anyhow::Result<ExampleNet> {
    if let Some(net) = load_cached(models_dir, model) {
        return Ok(net);
    }
    let labelled = examples();
    let mut vectors = Vec::with_capacity(labelled.len());
    for chunk in labelled.chunks(BATCH) {
        let texts = chunk.iter().map(|e| e.text.clone()).collect();
        vectors.extend(model.embed(texts).await.context("embedding the red-flag examples")?);
    }
    let net = ExampleNet::new(vectors.clone(), &labelled).context("red-flag examples")?;
    let path = cache_file(models_dir, &model.info().embedding_sha256);
    if let Err(e) = write_cache(&path, &vectors) {
        tracing::warn!(error = %e, "red-flag example vectors not cached");
    }
    Ok(net)
}

/// Tells `slot` which judgements the net may give (`server.redflag_examples`,
/// `server.intent_examples`); whether the net is wanted at all.
pub fn set_uses(slot: &NetSlot, server: &crate::config::ServerSettings) -> bool {
    slot.set_uses(server.redflag_examples, server.intent_examples);
    server.redflag_examples || server.intent_examples
}

/// Installs the net in `slot`: at once from the cache file when there is one, otherwise built
/// in the background (the rules run alone until then, and for good if that fails, logged).
pub fn install(models_dir: PathBuf, model: Arc<dyn LanguageModel>, slot: Arc<NetSlot>) {
    if let Some(net) = load_cached(&models_dir, model.as_ref()) {
        tracing::info!(examples = net.len(), "red-flag example net loaded");
        slot.set(net);
        return;
    }
    tokio::spawn(async move {
        match load_or_build(&models_dir, model.as_ref()).await {
            Ok(net) => {
                tracing::info!(examples = net.len(), "red-flag example net ready");
                slot.set(net);
            }
            Err(e) => tracing::warn!(error = %e, "red-flag example net unavailable; rules only"),
        }
    });
}

/// Little-endian: the vector size (u32), then every vector's f32s in example order.
fn write_cache(path: &Path, vectors: &[Vec<f32>]) -> anyhow::Result<()> {
    let dim = vectors.first().map_or(0, Vec::len);
    let mut bytes = Vec::with_capacity(4 + vectors.len() * dim * 4);
    bytes.extend_from_slice(&u32::try_from(dim).context("vector size")?.to_le_bytes());
    for x in vectors.iter().flatten() {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Written aside, then renamed: a reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// The cached vectors, when the file holds exactly `count` of one size.
fn read_cache(path: &Path, count: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    let (head, body) = bytes.split_at_checked(4)?;
    let dim = u32::from_le_bytes(head.try_into().ok()?) as usize;
    if dim == 0 || body.len() != count * dim * 4 {
        return None;
    }
    let floats: Vec<f32> = body.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Some(floats.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_reads_back_what_was_written_and_refuses_a_wrong_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cache").join("v.f32");
        let vectors = vec![vec![1.0, -2.5, 0.25], vec![0.0, 3.0, 1e-3]];
        write_cache(&path, &vectors).expect("write");
        assert_eq!(read_cache(&path, 2), Some(vectors));
        assert_eq!(read_cache(&path, 3), None, "another number of examples: stale");
        std::fs::write(&path, [1u8, 0]).expect("truncate");
        assert_eq!(read_cache(&path, 2), None, "a torn file is not read");
    }
}
