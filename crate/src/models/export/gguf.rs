//! A model as one GGUF file that llama.cpp (and Ollama, LM Studio, wllama) loads as it is: the
//! family's hyper-parameters under llama.cpp's keys, every tensor under llama.cpp's name and
//! layout (the family's name table, Q/K rows permuted for `llama`), matrices in the asked
//! type and vectors in F32 (as llama.cpp's converter does), and the caller's metadata (the
//! tokenizer, `general.name`) added.

use super::tensors;
use crate::error::{Error, Result};
use crate::io::gguf::{GgmlType, GgufWriter, Value};
use crate::models::llama::LlamaConfig;
use crate::models::{Model, ModelConfig};
use crate::nn::{RopeConfig, RopeScaling};

/// `general.file_type` for a model whose matrices are `ty` (llama.cpp's `llama_ftype`).
fn file_type(ty: GgmlType) -> u32 {
    match ty {
        GgmlType::F16 => 1,
        GgmlType::Q8_0 => 7,
        _ => 0,
    }
}

/// GGUF metadata entries, in the order written.
type Metadata = Vec<(String, Value)>;

/// llama.cpp's hyper-parameter keys for `config`, and the `rope_freqs` tensor when its RoPE
/// scaling is per frequency; an error for what llama.cpp's architecture cannot express.
fn hyper_parameters(
    config: &ModelConfig,
    fail: &dyn Fn(String) -> Error,
) -> Result<(Metadata, Option<Vec<f32>>)> {
    let arch = config.gguf_architecture();
    let key = |k: &str| format!("{arch}.{k}");
    let u32_of = |v: usize| Value::U32(v.try_into().unwrap_or(u32::MAX));
    let mut meta = Vec::new();
    let mut rope_freqs = None;
    match config {
        ModelConfig::Llama(c) | ModelConfig::Qwen2(c) => {
            let qwen = arch == "qwen2";
            let q_width = c.num_attention_heads * c.head_dim;
            if qwen && q_width != c.hidden_size {
                return Err(fail(format!(
                    "llama.cpp's qwen2 needs num_attention_heads × head_dim ({q_width}) = \
                     hidden_size ({})",
                    c.hidden_size
                )));
            }
            if qwen && (c.o_bias || c.mlp_bias) {
                return Err(fail(
                    "llama.cpp's qwen2 has no output-projection or MLP biases".into(),
                ));
            }
            meta.extend([
                (key("context_length"), u32_of(c.max_position_embeddings)),
                (key("embedding_length"), u32_of(c.hidden_size)),
                (key("block_count"), u32_of(c.num_hidden_layers)),
                (key("feed_forward_length"), u32_of(c.intermediate_size)),
                (key("attention.head_count"), u32_of(c.num_attention_heads)),
                (
                    key("attention.head_count_kv"),
                    u32_of(c.num_key_value_heads),
                ),
                (key("rope.freq_base"), Value::F32(c.rope.theta as f32)),
                (
                    key("attention.layer_norm_rms_epsilon"),
                    Value::F32(c.rms_norm_eps as f32),
                ),
                (key("vocab_size"), u32_of(c.vocab_size)),
            ]);
            if !qwen {
                meta.push((key("rope.dimension_count"), u32_of(c.head_dim)));
                if q_width != c.hidden_size {
                    meta.push((key("attention.key_length"), u32_of(c.head_dim)));
                    meta.push((key("attention.value_length"), u32_of(c.head_dim)));
                }
            }
            match &c.rope.scaling {
                RopeScaling::Default => {}
                RopeScaling::Linear { factor } => meta.extend([
                    (key("rope.scaling.type"), Value::String("linear".into())),
                    (key("rope.scaling.factor"), Value::F32(*factor as f32)),
                ]),
                _ if qwen => {
                    return Err(fail(
                        "llama.cpp's qwen2 takes no per-frequency RoPE scaling".into(),
                    ));
                }
                _ => rope_freqs = Some(rope_factors(c)),
            }
        }
        ModelConfig::Gpt2(c) => meta.extend([
            (key("context_length"), u32_of(c.n_positions)),
            (key("embedding_length"), u32_of(c.n_embd)),
            (key("block_count"), u32_of(c.n_layer)),
            (key("feed_forward_length"), u32_of(c.n_inner)),
            (key("attention.head_count"), u32_of(c.n_head)),
            (
                key("attention.layer_norm_epsilon"),
                Value::F32(c.layer_norm_epsilon as f32),
            ),
            (key("vocab_size"), u32_of(c.vocab_size)),
        ]),
    }
    if let ModelConfig::Gpt2(c) = config
        && !c.gelu_tanh
    {
        return Err(fail(
            "llama.cpp's gpt2 computes the tanh GELU (`gelu_new`), not the exact one".into(),
        ));
    }
    Ok((meta, rope_freqs))
}

/// Llama 3.1-style scaling as llama.cpp stores it: each frequency's divisor
/// (`rope_freqs.weight`), the plain frequencies over the scaled ones.
fn rope_factors(c: &LlamaConfig) -> Vec<f32> {
    let plain = RopeConfig::plain(c.rope.theta).inv_freq(c.head_dim);
    let scaled = c.rope.inv_freq(c.head_dim);
    plain
        .iter()
        .zip(&scaled)
        .map(|(p, s)| (p / s) as f32)
        .collect()
}

/// `model` (its adapters merged first by the caller) as a GGUF file with matrices in `ty`
/// (F32, F16 or Q8_0) and `metadata()` added after the model's own (the tokenizer, a name).
/// The architecture and every tensor's shape are checked first, then `metadata()` is asked
/// for, and only then is the first tensor read back: what refuses, refuses early.
pub async fn gguf_model(
    model: &Model,
    config: &ModelConfig,
    ty: GgmlType,
    metadata: impl FnOnce() -> Result<Metadata>,
) -> Result<Vec<u8>> {
    let what = format!("a {ty} GGUF model");
    let fail = |problem: String| Error::Export {
        what: what.clone(),
        problem,
    };
    let (hyper, rope_freqs) = hyper_parameters(config, &fail)?;
    let mut w = GgufWriter::new();
    w.meta(
        "general.architecture",
        Value::String(config.gguf_architecture().into()),
    );
    w.meta("general.type", Value::String("model".into()));
    w.meta("general.file_type", Value::U32(file_type(ty)));
    if ty == GgmlType::Q8_0 {
        w.meta("general.quantization_version", Value::U32(2));
    }
    for (key, value) in hyper {
        w.meta(key, value);
    }
    let named = tensors(model)?;
    let mut plan = Vec::new();
    for t in &named {
        let (gguf, layout) = config
            .gguf_name(&t.name)
            .ok_or_else(|| fail(format!("llama.cpp has no name for tensor `{}`", t.name)))?;
        let gguf_shape = match layout {
            crate::models::weights::Layout::Transposed => t.shape.iter().rev().copied().collect(),
            _ => t.shape.clone(),
        };
        let tensor_ty = if gguf_shape.len() == 1 {
            GgmlType::F32
        } else {
            ty
        };
        w.tensor(&gguf, &gguf_shape, tensor_ty).map_err(|problem| {
            fail(format!(
                "{problem}; {ty} needs every matrix row to be a multiple of 32 values \
                 (F16 and F32 have no such limit)"
            ))
        })?;
        plan.push(layout);
    }
    if let Some(factors) = &rope_freqs {
        w.tensor("rope_freqs.weight", &[factors.len()], GgmlType::F32)
            .map_err(fail)?;
    }
    for (key, value) in metadata()? {
        w.meta(key, value);
    }
    w.finish_header();
    for (t, layout) in named.into_iter().zip(plan) {
        let (_, shape, values) = t.read().await?;
        let (values, _) = layout.to_gguf(values, &shape);
        w.data(&values).map_err(fail)?;
    }
    if let Some(factors) = &rope_freqs {
        w.data(factors).map_err(fail)?;
    }
    w.into_bytes().map_err(fail)
}
