//! The model fetcher against the real pinned packages: a second fetch is instant, and a
//! truncated or corrupted file is refused with its name and expected checksum.

mod common;

use std::path::Path;
use std::time::Instant;

use inference::models::workspace_models_dir;
use inference::{Error, Manifest};

/// Builds a models dir whose cache links to the real files, except `copied` (a real copy).
fn mirror(dst: &Path, copied: &str) {
    let src = workspace_models_dir().join("cache");
    for entry in Manifest::pinned().model {
        let (from, to) = (src.join(&entry.id), dst.join("cache").join(&entry.id));
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&from).unwrap().flatten() {
            let name = f.file_name();
            let target = to.join(&name);
            if name.to_string_lossy() == copied {
                std::fs::copy(f.path(), &target).unwrap();
            } else {
                std::fs::hard_link(f.path(), &target)
                    .or_else(|_| std::fs::copy(f.path(), &target).map(|_| ()))
                    .unwrap();
            }
        }
    }
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

#[test]
fn fetch_returns_quickly_when_files_are_already_verified() {
    let first = common::paths();
    let start = Instant::now();
    let again = inference::fetch(&Manifest::pinned(), &workspace_models_dir(), false).unwrap();
    let took = start.elapsed();
    assert_eq!(first, again);
    assert!(took.as_millis() < 500, "verified fetch took {took:?}");
    assert!(again.chat_gguf.to_string_lossy().ends_with("Q8_0.gguf"));
}

#[test]
fn truncated_chat_model_is_refused_naming_file_and_expected_checksum() {
    common::paths();
    let dir = scratch();
    let name = "SmolLM2-135M-Instruct.Q4_1.gguf";
    mirror(dir.path(), name);
    let file = dir.path().join("cache/SmolLM2-135M-Instruct").join(name);
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(1_000_000).unwrap();
    match inference::verify(&Manifest::pinned(), dir.path()) {
        Err(Error::BadModelFile { path, why }) => {
            assert!(path.ends_with(name), "{path}");
            assert!(why.contains("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"), "{why}");
        }
        other => panic!("expected BadModelFile, got {other:?}"),
    }
}

#[test]
fn corrupted_embedding_weights_are_refused() {
    common::paths();
    let dir = scratch();
    mirror(dir.path(), "model.safetensors");
    let file = dir.path().join("cache/all-MiniLM-L6-v2/model.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[5_000_000] ^= 0xFF;
    std::fs::write(&file, bytes).unwrap();
    let err = inference::verify(&Manifest::pinned(), dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("model.safetensors") && text.contains("53aa5117"), "{text}");
}

#[test]
fn missing_models_dir_is_reported_not_downloaded_by_verify() {
    let dir = scratch();
    let err = inference::verify(&Manifest::pinned(), dir.path()).unwrap_err();
    assert!(err.to_string().contains("models/fetch"), "{err}");
}
