//! A LoRA adapter as llama.cpp's own adapter file (what its `convert_lora_to_gguf.py` writes
//! and `llama-cli --lora`, Ollama's `ADAPTER` and `llama_adapter_lora_init` read):
//! `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, and per adapted
//! layer `blk.N.<tensor>.weight.lora_a` (`[r, in]` as PyTorch orders it) and `.lora_b`
//! (`[out, r]`, its rows permuted as llama.cpp permutes the base weight's: Q/K of `llama`).
//!
//! llama.cpp scales a branch by `alpha / r`; an rsLoRA adapter (scale `alpha / √r`) is written
//! with `alpha·√r`, so that it computes the same.

use super::LoraConfig;
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::io::gguf::{GgmlType, GgufWriter, Value};
use crate::models::LinearLayers;
use crate::models::weights::GgufNames;
use crate::nn::transpose;

/// Writes the adapter attached to `model` as a GGUF adapter for llama.cpp's architecture
/// `arch`, naming tensors with `names` (the base model's Hugging Face → GGUF table).
/// Refuses DoRA (llama.cpp has no
/// magnitude vectors) and layers llama.cpp has no tensor for, before reading any weight.
pub async fn save(
    model: &impl LinearLayers,
    config: &LoraConfig,
    arch: &str,
    names: &GgufNames<'_>,
) -> Result<Vec<u8>> {
    let fail = |problem: String| Error::Export {
        what: "a GGUF adapter".into(),
        problem,
    };
    if config.use_dora {
        return Err(fail(
            "llama.cpp's adapters are plain LoRA; a DoRA adapter can be exported merged into \
             its base (`--merged`)"
                .into(),
        ));
    }
    let r = config.r as f64;
    // llama.cpp scales by alpha / r: rsLoRA's alpha / √r is alpha·√r / r.
    let alpha = match config.use_rslora {
        true => config.lora_alpha * r.sqrt(),
        false => config.lora_alpha,
    };
    let mut w = GgufWriter::new();
    w.meta("general.architecture", Value::String(arch.into()))
        .meta("general.type", Value::String("adapter".into()))
        .meta("adapter.type", Value::String("lora".into()))
        .meta("adapter.lora.alpha", Value::F32(alpha as f32));

    let mut plan = Vec::new();
    for (path, linear) in model.linear_layers() {
        let Some(branch) = &linear.low_rank else {
            continue;
        };
        let (gguf, layout) = names(&format!("{path}.weight"))
            .ok_or_else(|| fail(format!("llama.cpp has no tensor for layer `{path}`")))?;
        let [inp, out] = linear.shape();
        let rank = branch.a.dims()[1];
        w.tensor(&format!("{gguf}.lora_a"), &[rank, inp], GgmlType::F32)
            .map_err(fail)?;
        w.tensor(&format!("{gguf}.lora_b"), &[out, rank], GgmlType::F32)
            .map_err(fail)?;
        plan.push((
            path,
            layout,
            branch.a.val(),
            branch.b.val(),
            [inp, rank, out],
        ));
    }
    if plan.is_empty() {
        return Err(fail("the model has no adapter to export".into()));
    }
    w.finish_header();
    for (path, layout, a, b, [inp, rank, out]) in plan {
        // Stored [in, r] and [r, out]; PyTorch's (and GGUF's) are the transposes.
        let a = transpose(&read_f32(a, &path).await?, inp, rank);
        let b = transpose(&read_f32(b, &path).await?, rank, out);
        // B's rows are the weight's output rows: they move as the weight's rows move. A
        // transposed weight (GPT-2's Conv1D) keeps PyTorch's [out, in] in GGUF, as B does.
        let b = match layout {
            crate::models::weights::Layout::RopeInterleaved { .. } => {
                layout.to_gguf(b, &[out, rank]).0
            }
            _ => b,
        };
        w.data(&a).map_err(fail)?;
        w.data(&b).map_err(fail)?;
    }
    w.into_bytes().map_err(fail)
}
