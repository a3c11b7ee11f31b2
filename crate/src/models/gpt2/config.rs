//! GPT-2 hyper-parameters, named as in Hugging Face's `config.json`, and llama.cpp's names for
//! its tensors.

use super::names::{BLOCKS, GLOBAL, LINEAR, NORMS};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::io::gguf::{GgufError, GgufFile, Value};
use crate::models::hf_config::HfConfig;
use crate::models::weights::Layout;

/// What a GPT-2 checkpoint needs to be built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the residual stream (`n_embd`).
    pub n_embd: usize,
    /// Number of blocks (`n_layer`).
    pub n_layer: usize,
    /// Attention heads (`n_head`).
    pub n_head: usize,
    /// Learned positions, the longest context (`n_positions`).
    pub n_positions: usize,
    /// Width of the feed-forward layer (`n_inner`, 4·`n_embd` by default).
    pub n_inner: usize,
    /// LayerNorm epsilon.
    pub layer_norm_epsilon: f64,
    /// Whether the feed-forward layer uses GELU's tanh approximation (`gelu_new`) rather than
    /// exact GELU.
    pub gelu_tanh: bool,
}

impl Gpt2Config {
    /// Reads a GPT-2 `config.json`.
    pub fn from_hf(c: &HfConfig) -> Result<Self> {
        let gelu_tanh = match c.str("activation_function").unwrap_or("gelu_new") {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => true,
            "gelu" => false,
            other => {
                return Err(c.error(format!(
                    "`activation_function` {other:?} is not supported (gelu_new or gelu)"
                )));
            }
        };
        for key in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
            if c.bool_or(key, false)? {
                return Err(c.error(format!("`{key}` is not supported")));
            }
        }
        if !c.bool_or("scale_attn_weights", true)? {
            return Err(c.error("`scale_attn_weights: false` is not supported"));
        }
        let n_embd = c.usize_or(&["n_embd", "hidden_size"], None)?;
        let config = Self {
            vocab_size: c.usize("vocab_size")?,
            n_embd,
            n_layer: c.usize_or(&["n_layer", "num_hidden_layers"], None)?,
            n_head: c.usize_or(&["n_head", "num_attention_heads"], None)?,
            n_positions: c.usize_or(&["n_positions", "max_position_embeddings"], None)?,
            n_inner: c.usize_or(&["n_inner"], Some(n_embd.saturating_mul(4)))?,
            layer_norm_epsilon: c.f64_or("layer_norm_epsilon", 1e-5)?,
            gelu_tanh,
        };
        config
            .validate()
            .map_err(|problem| c.error(format!("describes an impossible model: {problem}")))?;
        Ok(config)
    }

    /// Reads the config from a GGUF file's `gpt2.*` metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, GgufError> {
        let int = |name: &str| -> Result<usize, GgufError> {
            let key = format!("gpt2.{name}");
            file.get(&key)
                .and_then(Value::as_u64)
                .map(|v| v as usize)
                .ok_or(GgufError::Key {
                    key,
                    problem: "is missing or not an integer".into(),
                })
        };
        let vocab_size = match (int("vocab_size"), file.get("tokenizer.ggml.tokens")) {
            (Ok(v), _) => v,
            (Err(_), Some(Value::Array(tokens))) => tokens.len(),
            (Err(err), _) => return Err(err),
        };
        let n_embd = int("embedding_length")?;
        let config = Self {
            vocab_size,
            n_embd,
            n_layer: int("block_count")?,
            n_head: int("attention.head_count")?,
            n_positions: int("context_length")?,
            n_inner: int("feed_forward_length").unwrap_or(n_embd.saturating_mul(4)),
            layer_norm_epsilon: file
                .get("gpt2.attention.layer_norm_epsilon")
                .and_then(Value::as_f64)
                .unwrap_or(1e-5),
            gelu_tanh: true,
        };
        config.validate().map_err(|problem| GgufError::Config {
            arch: "gpt2".into(),
            problem,
        })?;
        Ok(config)
    }

    /// Checks the shape arithmetic the model relies on.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_positions", self.n_positions),
            ("n_inner", self.n_inner),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} is 0"));
        }
        if !(self.layer_norm_epsilon.is_finite() && self.layer_norm_epsilon > 0.0) {
            return Err(format!(
                "layer_norm_epsilon {} is not above 0",
                self.layer_norm_epsilon
            ));
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(format!(
                "n_embd {} is not a multiple of n_head {}",
                self.n_embd, self.n_head
            ));
        }
        Ok(())
    }
}

/// The GGUF name and layout of Hugging Face tensor `hf` (without the `transformer.` prefix),
/// from [`super::names`]. llama.cpp stores the `Conv1D` weights as `[out, in]`, transposed
/// from Hugging Face.
pub fn gguf_name(hf: &str) -> Option<(String, Layout)> {
    if let Some((_, gguf)) = GLOBAL.iter().find(|(name, _)| *name == hf) {
        return Some((gguf.to_string(), Layout::Same));
    }
    let rest = hf.strip_prefix(BLOCKS)?;
    let (n, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let (gguf, linear) = match LINEAR.iter().find(|l| l.hf == module) {
        Some(l) => (l.gguf, true),
        None => (NORMS.iter().find(|(name, _)| *name == module)?.1, false),
    };
    let layout = match (linear, kind) {
        (true, "weight") => Layout::Transposed,
        _ => Layout::Same,
    };
    Some((format!("blk.{n}.{gguf}.{kind}"), layout))
}
