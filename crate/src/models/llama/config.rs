//! Llama hyper-parameters, named as in Hugging Face's `config.json`.

use serde::{Deserialize, Serialize};

use crate::io::gguf::{GgufError, GgufFile, Value};

/// What a Llama-family checkpoint needs to be built.
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
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base frequency.
    pub rope_theta: f64,
    /// Whether the LM head shares the token embedding.
    pub tie_word_embeddings: bool,
    /// Longest context the model was trained for.
    pub max_position_embeddings: usize,
}

impl LlamaConfig {
    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Checks the shape arithmetic the model relies on.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} is 0"));
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
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
        if !self.head_dim().is_multiple_of(2) {
            return Err(format!("head dimension {} is odd", self.head_dim()));
        }
        Ok(())
    }

    /// Reads the config from a GGUF file's `llama.*` metadata.
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
        let config = Self {
            vocab_size,
            hidden_size: int("embedding_length")?,
            intermediate_size: int("feed_forward_length")?,
            num_hidden_layers: int("block_count")?,
            num_attention_heads: heads,
            num_key_value_heads: int("attention.head_count_kv").unwrap_or(heads),
            rms_norm_eps: float("attention.layer_norm_rms_epsilon", 1e-5),
            rope_theta: float("rope.freq_base", 10_000.0),
            tie_word_embeddings: file.tensor("output.weight").is_none(),
            max_position_embeddings: int("context_length").unwrap_or(2048),
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
    use super::LlamaConfig;

    fn smollm2() -> LlamaConfig {
        LlamaConfig {
            vocab_size: 49152,
            hidden_size: 576,
            intermediate_size: 1536,
            num_hidden_layers: 30,
            num_attention_heads: 9,
            num_key_value_heads: 3,
            rms_norm_eps: 1e-5,
            rope_theta: 100_000.0,
            tie_word_embeddings: true,
            max_position_embeddings: 8192,
        }
    }

    #[test]
    fn impossible_shapes_are_named() {
        assert_eq!(smollm2().validate(), Ok(()));
        assert_eq!(smollm2().head_dim(), 64);
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
}
