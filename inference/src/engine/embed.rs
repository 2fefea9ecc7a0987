//! Sentence embeddings with a BERT model (all-MiniLM-L6-v2 by default): batch padded to its
//! longest text (the shipped tokenizer.json pads to 128), attention mask, mean-pooling over the
//! real tokens, L2-normalised. It runs on the chat model's device when that is a GPU.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::chat::{candle_device, model_err};
use crate::{Error, ModelDevice, Result};

/// Longest input in tokens (all-MiniLM-L6-v2 was trained on 256).
const MAX_TOKENS: usize = 256;

pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Embedder {
    /// Loads the model from `dir` onto `device` (`cpu` and `candle-cpu` are both the CPU).
    pub fn load(dir: &Path, device: ModelDevice) -> Result<Self> {
        let file_err = |name: &str, why: String| Error::BadModelFile {
            path: dir.join(name).display().to_string(),
            why,
        };
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| file_err("config.json", e.to_string()))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| file_err("config.json", e.to_string()))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| file_err("tokenizer.json", e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| file_err("tokenizer.json", e.to_string()))?;
        let device = candle_device(device)?.unwrap_or(Device::Cpu);
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is memory-mapped read-only; it was verified by checksum and is not
        // modified while the engine runs (fetch writes new files and renames them into place).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DTYPE, &device) }
            .map_err(|e| file_err("model.safetensors", e.to_string()))?;
        let model = BertModel::load(vb, &config).map_err(|e| file_err("model.safetensors", e.to_string()))?;
        Ok(Self { model, tokenizer, device })
    }

    /// One L2-normalised vector per text, in order.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(model_err)?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> Result<Tensor> {
            let data: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(f(e).as_slice(), &self.device))
                .collect::<candle_core::Result<_>>()
                .map_err(model_err)?;
            Tensor::stack(&data, 0).map_err(model_err)
        };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let type_ids = rows(&|e| e.get_type_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let pooled = (|| {
            let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
            let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?;
            let counts = mask_f.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        })()
        .map_err(model_err)?;
        Ok(pooled)
    }
}
