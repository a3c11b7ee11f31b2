//! Llama hyper-parameters, named as in Hugging Face's `config.json`.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::io::gguf::{GgufError, GgufFile, Value};
use crate::models::hf_config::HfConfig;
use crate::nn::{RopeConfig, RopeScaling};

/// What a Llama-family checkpoint (Llama, SmolLM, TinyLlama, Qwen2) needs to be built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU feed-forward layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than the query heads).
    pub num_key_value_heads: usize,
    /// Per-head width (usually `hidden_size / num_attention_heads`).
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// Rotary embedding: base frequency and scaling.
    pub rope: RopeConfig,
    /// Whether the LM head shares the token embedding.
    pub tie_word_embeddings: bool,
    /// Longest context the model was trained for.
    pub max_position_embeddings: usize,
    /// Whether the Q, K and V projections have biases (Qwen2; Llama's `attention_bias`).
    pub qkv_bias: bool,
    /// Whether the output projection has a bias (Llama's `attention_bias`).
    pub o_bias: bool,
    /// Whether the MLP projections have biases (Llama's `mlp_bias`).
    pub mlp_bias: bool,
}

impl LlamaConfig {
    /// Checks the shape arithmetic the model relies on.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} is 0"));
        }
        if self.head_dim == 0 {
            return Err("head_dim is 0".into());
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0) {
            return Err(format!("rms_norm_eps {} is not above 0", self.rms_norm_eps));
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(format!("head dimension {} is odd", self.head_dim));
        }
        self.rope.validate()
    }

    /// Reads a Llama (`model_type` `llama`) or Qwen2 (`qwen2`: Q/K/V biases) `config.json`.
    pub fn from_hf(c: &HfConfig, qwen2: bool) -> Result<Self> {
        if let Some(act) = c.str("hidden_act").filter(|a| *a != "silu") {
            return Err(c.error(format!("`hidden_act` {act:?} is not supported (only silu)")));
        }
        if c.bool_or("use_sliding_window", false)? {
            return Err(c.error("`use_sliding_window` is not supported"));
        }
        let hidden_size = c.usize("hidden_size")?;
        let heads = c.usize("num_attention_heads")?;
        let attention_bias = c.bool_or("attention_bias", false)?;
        let config = Self {
            vocab_size: c.usize("vocab_size")?,
            hidden_size,
            intermediate_size: c.usize("intermediate_size")?,
            num_hidden_layers: c.usize("num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: c.usize_or(&["num_key_value_heads"], Some(heads))?,
            head_dim: c.usize_or(&["head_dim"], Some(hidden_size / heads.max(1)))?,
            rms_norm_eps: c.f64_or("rms_norm_eps", 1e-6)?,
            rope: c.rope()?,
            tie_word_embeddings: c.bool_or("tie_word_embeddings", false)?,
            max_position_embeddings: c.usize_or(&["max_position_embeddings"], Some(2048))?,
            qkv_bias: qwen2 || attention_bias,
            o_bias: attention_bias,
            mlp_bias: c.bool_or("mlp_bias", false)?,
        };
        config
            .validate()
            .map_err(|problem| c.error(format!("describes an impossible model: {problem}")))?;
        Ok(config)
    }

    /// Reads the config from a GGUF file's `{architecture}.*` metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, GgufError> {
        let arch = file
            .get("general.architecture")
            .and_then(Value::as_str)
            .unwrap_or("llama");
        let key = |name: &str| format!("{arch}.{name}");
        let int = |name: &str| -> Result<usize, GgufError> {
            let k = key(name);
            file.get(&k)
                .and_then(Value::as_u64)
                .map(|v| v as usize)
                .ok_or(GgufError::Key {
                    key: k,
                    problem: "is missing or not an integer".into(),
                })
        };
        let float = |name: &str, default: f64| {
            file.get(&key(name))
                .and_then(Value::as_f64)
                .unwrap_or(default)
        };
        let heads = int("attention.head_count")?;
        let vocab_size = match file.get(&key("vocab_size")).and_then(Value::as_u64) {
            Some(v) => v as usize,
            None => match file.get("tokenizer.ggml.tokens") {
                Some(Value::Array(tokens)) => tokens.len(),
                _ => {
                    return Err(GgufError::Key {
                        key: key("vocab_size"),
                        problem: "is missing and there is no tokenizer.ggml.tokens".into(),
                    });
                }
            },
        };
        let hidden_size = int("embedding_length")?;
        let scaling = match file.get(&key("rope.scaling.type")).and_then(Value::as_str) {
            None | Some("none") => RopeScaling::Default,
            Some("linear") => RopeScaling::Linear {
                factor: float("rope.scaling.factor", 1.0),
            },
            Some(other) => {
                return Err(GgufError::Config {
                    arch: arch.to_string(),
                    problem: format!("rope scaling {other:?} is not supported"),
                });
            }
        };
        let has = |name: &str| file.tensor(name).is_some();
        let config = Self {
            vocab_size,
            hidden_size,
            intermediate_size: int("feed_forward_length")?,
            num_hidden_layers: int("block_count")?,
            num_attention_heads: heads,
            num_key_value_heads: int("attention.head_count_kv").unwrap_or(heads),
            head_dim: int("attention.key_length").unwrap_or(hidden_size / heads.max(1)),
            rms_norm_eps: float("attention.layer_norm_rms_epsilon", 1e-5),
            rope: RopeConfig {
                theta: float("rope.freq_base", 10_000.0),
                scaling,
            },
            tie_word_embeddings: !has("output.weight"),
            max_position_embeddings: int("context_length").unwrap_or(2048),
            qkv_bias: has("blk.0.attn_q.bias"),
            o_bias: has("blk.0.attn_output.bias"),
            mlp_bias: has("blk.0.ffn_up.bias"),
        };
        config.validate().map_err(|problem| GgufError::Config {
            arch: arch.to_string(),
            problem,
        })?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smollm2() -> LlamaConfig {
        LlamaConfig {
            vocab_size: 49152,
            hidden_size: 576,
            intermediate_size: 1536,
            num_hidden_layers: 30,
            num_attention_heads: 9,
            num_key_value_heads: 3,
            head_dim: 64,
            rms_norm_eps: 1e-5,
            rope: RopeConfig::plain(100_000.0),
            tie_word_embeddings: true,
            max_position_embeddings: 8192,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
        }
    }

    #[test]
    fn impossible_shapes_are_named() {
        assert_eq!(smollm2().validate(), Ok(()));
        let zero_heads = LlamaConfig {
            num_attention_heads: 0,
            ..smollm2()
        };
        assert_eq!(
            zero_heads.validate(),
            Err("num_attention_heads is 0".into())
        );
        let bad_gqa = LlamaConfig {
            num_key_value_heads: 2,
            ..smollm2()
        };
        assert!(bad_gqa.validate().unwrap_err().contains("not a multiple"));
    }

    #[test]
    fn hf_configs_are_read_and_checked() {
        let json = r#"{"model_type": "llama", "vocab_size": 49152, "hidden_size": 576,
            "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
            "num_key_value_heads": 3, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
            "tie_word_embeddings": true, "max_position_embeddings": 8192,
            "hidden_act": "silu"}"#;
        let c = HfConfig::parse("config.json", json.as_bytes()).unwrap();
        assert_eq!(LlamaConfig::from_hf(&c, false).unwrap(), smollm2());
        let qwen = LlamaConfig::from_hf(&c, true).unwrap();
        assert!(qwen.qkv_bias && !qwen.o_bias);

        let zero = json.replace("\"num_attention_heads\": 9", "\"num_attention_heads\": 0");
        let c = HfConfig::parse("config.json", zero.as_bytes()).unwrap();
        assert_eq!(
            LlamaConfig::from_hf(&c, false).unwrap_err().to_string(),
            "config.json: describes an impossible model: num_attention_heads is 0"
        );
        let gelu = json.replace("silu", "gelu");
        let c = HfConfig::parse("config.json", gelu.as_bytes()).unwrap();
        assert!(
            LlamaConfig::from_hf(&c, false)
                .unwrap_err()
                .to_string()
                .contains("gelu")
        );
    }
}
