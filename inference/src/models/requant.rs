//! Re-quantizes a GGUF file to Q8_0 once at fetch time: candle 0.11 has AVX2 kernels for Q8_0
//! but runs Q4_1 with scalar code (~2.5x slower decode, ~6x slower prefill). Metadata (the
//! tokenizer included) is copied unchanged; float tensors (norms) stay as they are.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::Device;
use indicatif::ProgressBar;

use super::{bad, io_bad};
use crate::Result;

/// Writes `target` (via a `.partial` file, renamed when complete).
pub fn to_q8_0(source: &Path, target: &Path, progress: bool) -> Result<()> {
    let shown = source.display().to_string();
    let model_err = |e: candle_core::Error| bad(&shown, format!("re-quantizing: {e}"));
    let mut reader = BufReader::new(File::open(source).map_err(|e| io_bad(source, e))?);
    let content = gguf_file::Content::read(&mut reader).map_err(model_err)?;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let bar = if progress { ProgressBar::new(names.len() as u64) } else { ProgressBar::hidden() };
    bar.set_message("re-quantizing to Q8_0");
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(&mut reader, name, &Device::Cpu).map_err(model_err)?;
        tensors.push((name.as_str(), requantize(tensor).map_err(model_err)?));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut metadata: Vec<(&str, &gguf_file::Value)> =
        content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    metadata.sort_by(|a, b| a.0.cmp(b.0));
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let partial = target.with_extension("partial");
    let mut out = BufWriter::new(File::create(&partial).map_err(|e| io_bad(&partial, e))?);
    gguf_file::write(&mut out, &metadata, &tensor_refs).map_err(model_err)?;
    let file = out.into_inner().map_err(|e| io_bad(&partial, e.into_error()))?;
    file.sync_all().map_err(|e| io_bad(&partial, e))?;
    std::fs::rename(&partial, target).map_err(|e| io_bad(target, e))
}

/// Quantized tensors whose rows split into 32-element blocks become Q8_0; the rest stay.
fn requantize(tensor: QTensor) -> candle_core::Result<QTensor> {
    let keep = matches!(tensor.dtype(), GgmlDType::F32 | GgmlDType::F16 | GgmlDType::Q8_0)
        || tensor.shape().dims().last().is_none_or(|d| d % 32 != 0);
    if keep {
        return Ok(tensor);
    }
    let floats = tensor.dequantize(&Device::Cpu)?;
    QTensor::quantize(&floats, GgmlDType::Q8_0)
}
