//! llama.cpp's names for Llama-family tensors (shared by the `llama` and `qwen2` GGUF
//! architectures), and reading the GGUF-only parts of the config.
//!
//! | GGUF | Hugging Face |
//! | --- | --- |
//! | `token_embd` | `model.embed_tokens` |
//! | `blk.N.attn_norm` | `model.layers.N.input_layernorm` |
//! | `blk.N.attn_q` / `attn_k` / `attn_v` / `attn_output` | `…self_attn.q_proj` / `k_proj` / `v_proj` / `o_proj` |
//! | `blk.N.ffn_norm` | `model.layers.N.post_attention_layernorm` |
//! | `blk.N.ffn_gate` / `ffn_up` / `ffn_down` | `…mlp.gate_proj` / `up_proj` / `down_proj` |
//! | `output_norm` | `model.norm` |
//! | `output` | `lm_head` |
//!
//! llama.cpp's converter interleaves the rows of Q and K (weights and biases) for the `llama`
//! architecture only; `qwen2` files keep Hugging Face's layout.

use super::LlamaConfig;
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::io::gguf::{GgufError, GgufFile};
use crate::models::weights::Layout;
use crate::nn::RopeScaling;

/// The GGUF name and layout of Hugging Face tensor `hf`. `interleaved` says whether Q/K rows
/// were permuted (architecture `llama`).
pub fn gguf_name(hf: &str, config: &LlamaConfig, interleaved: bool) -> Option<(String, Layout)> {
    let same = |name: &str| Some((name.to_string(), Layout::Same));
    match hf {
        "model.embed_tokens.weight" => return same("token_embd.weight"),
        "model.norm.weight" => return same("output_norm.weight"),
        "lm_head.weight" => return same("output.weight"),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (n, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let (gguf, heads) = match module {
        "input_layernorm" => ("attn_norm", None),
        "self_attn.q_proj" => ("attn_q", Some(config.num_attention_heads)),
        "self_attn.k_proj" => ("attn_k", Some(config.num_key_value_heads)),
        "self_attn.v_proj" => ("attn_v", None),
        "self_attn.o_proj" => ("attn_output", None),
        "post_attention_layernorm" => ("ffn_norm", None),
        "mlp.gate_proj" => ("ffn_gate", None),
        "mlp.up_proj" => ("ffn_up", None),
        "mlp.down_proj" => ("ffn_down", None),
        _ => return None,
    };
    let layout = match heads {
        Some(heads) if interleaved => Layout::RopeInterleaved { heads },
        _ => Layout::Same,
    };
    Some((format!("blk.{n}.{gguf}.{kind}"), layout))
}

/// Llama 3.1-style GGUF files store their RoPE scaling as per-frequency divisors in
/// `rope_freqs.weight`; reads them into `config` when present.
pub async fn read_rope_factors(
    file: &GgufFile,
    source: &impl ByteSource,
    config: &mut LlamaConfig,
) -> Result<()> {
    let Some(info) = file.tensor("rope_freqs.weight") else {
        return Ok(());
    };
    let half = config.head_dim / 2;
    if info.shape() != [half] {
        return Err(Error::Gguf {
            file: source.name().to_string(),
            source: GgufError::Shape {
                tensor: info.name.clone(),
                problem: format!(
                    "{:?}, but the head dimension implies [{half}]",
                    info.shape()
                ),
            },
        });
    }
    let factors = file.read_f32(source, info).await?;
    config.rope.scaling = RopeScaling::Factors {
        factors: factors.into_iter().map(f64::from).collect(),
    };
    config.rope.validate().map_err(|problem| Error::Gguf {
        file: source.name().to_string(),
        source: GgufError::Config {
            arch: "llama".into(),
            problem,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::RopeConfig;

    #[test]
    fn names_follow_llama_cpp() {
        let config = LlamaConfig {
            vocab_size: 8,
            hidden_size: 8,
            intermediate_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            head_dim: 2,
            rms_norm_eps: 1e-5,
            rope: RopeConfig::plain(1e4),
            tie_word_embeddings: true,
            max_position_embeddings: 16,
            qkv_bias: true,
            o_bias: false,
            mlp_bias: false,
        };
        let name = |hf, interleaved| gguf_name(hf, &config, interleaved);
        assert_eq!(
            name("model.layers.1.self_attn.k_proj.bias", true),
            Some((
                "blk.1.attn_k.bias".into(),
                Layout::RopeInterleaved { heads: 2 }
            ))
        );
        assert_eq!(
            name("model.layers.0.self_attn.q_proj.weight", false),
            Some(("blk.0.attn_q.weight".into(), Layout::Same))
        );
        assert_eq!(
            name("model.layers.0.mlp.down_proj.weight", true),
            Some(("blk.0.ffn_down.weight".into(), Layout::Same))
        );
        assert_eq!(name("model.layers.0.rotary_emb.inv_freq", true), None);
    }
}
