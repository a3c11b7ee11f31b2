//! A Hugging Face checkpoint: `config.json` and `model.safetensors` with transformers' names
//! and layouts, so that a merged fine-tune loads in transformers (and here).

use serde_json::{Value, json};

use super::tensors;
use crate::error::{Error, Result};
use crate::io::safetensors::write_f32;
use crate::models::{Model, ModelConfig};

/// `model.safetensors` for `model` (adapters merged first), read back from the device one
/// tensor at a time.
pub async fn safetensors(model: &Model) -> Result<Vec<u8>> {
    let mut written = Vec::new();
    for t in tensors(model)? {
        written.push(t.read().await?);
    }
    write_f32("model.safetensors", &written)
}

/// A whole Hugging Face checkpoint for `model`: `config.json` (from `config`) and
/// `model.safetensors`, by file name.
pub async fn checkpoint_files(
    model: &Model,
    config: &ModelConfig,
) -> Result<Vec<(String, Vec<u8>)>> {
    let config_json =
        serde_json::to_vec_pretty(&config_json(config)).map_err(|err| Error::Input {
            problem: format!("cannot write config.json: {err}"),
        })?;
    Ok(vec![
        ("config.json".into(), config_json),
        ("model.safetensors".into(), safetensors(model).await?),
    ])
}

/// A `config.json` that transformers reads as `config` (transformers v5's `rope_parameters`).
pub fn config_json(config: &ModelConfig) -> Value {
    match config {
        ModelConfig::Llama(c) | ModelConfig::Qwen2(c) => {
            let qwen = matches!(config, ModelConfig::Qwen2(_));
            let mut rope = serde_json::to_value(&c.rope.scaling).unwrap_or(json!({}));
            if let Value::Object(map) = &mut rope {
                map.insert("rope_theta".into(), json!(c.rope.theta));
            }
            json!({
                "architectures": [if qwen { "Qwen2ForCausalLM" } else { "LlamaForCausalLM" }],
                "model_type": if qwen { "qwen2" } else { "llama" },
                "vocab_size": c.vocab_size,
                "hidden_size": c.hidden_size,
                "intermediate_size": c.intermediate_size,
                "num_hidden_layers": c.num_hidden_layers,
                "num_attention_heads": c.num_attention_heads,
                "num_key_value_heads": c.num_key_value_heads,
                "head_dim": c.head_dim,
                "hidden_act": "silu",
                "rms_norm_eps": c.rms_norm_eps,
                "rope_parameters": rope,
                "rope_theta": c.rope.theta,
                "tie_word_embeddings": c.tie_word_embeddings,
                "max_position_embeddings": c.max_position_embeddings,
                "attention_bias": !qwen && c.qkv_bias,
                "mlp_bias": c.mlp_bias,
                "torch_dtype": "float32",
            })
        }
        ModelConfig::Gpt2(c) => json!({
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "vocab_size": c.vocab_size,
            "n_embd": c.n_embd,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_positions": c.n_positions,
            "n_inner": c.n_inner,
            "layer_norm_epsilon": c.layer_norm_epsilon,
            "activation_function": if c.gelu_tanh { "gelu_new" } else { "gelu" },
            "tie_word_embeddings": true,
            "torch_dtype": "float32",
        }),
    }
}
