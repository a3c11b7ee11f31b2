//! llama.cpp's names for Llama-family tensors (shared by the `llama` and `qwen2` GGUF
//! architectures; the table is [`super::names`]), and reading the GGUF-only parts of the
//! config.
//!
//! llama.cpp's converter interleaves the rows of Q and K (weights and biases) for the `llama`
//! architecture only; `qwen2` files keep Hugging Face's layout.

use super::LlamaConfig;
use super::names::{GLOBAL, LAYERS, LINEAR, NORMS, Rows};
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::io::gguf::{GgufError, GgufFile};
use crate::models::weights::Layout;
use crate::nn::RopeScaling;

/// The GGUF name and layout of Hugging Face tensor `hf` (from [`super::names`]).
/// `interleaved` says whether Q/K rows were permuted (architecture `llama`).
pub fn gguf_name(hf: &str, config: &LlamaConfig, interleaved: bool) -> Option<(String, Layout)> {
    if let Some((_, gguf)) = GLOBAL.iter().find(|(name, _)| *name == hf) {
        return Some((gguf.to_string(), Layout::Same));
    }
    let rest = hf.strip_prefix(LAYERS)?;
    let (n, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let (gguf, rows) = match LINEAR.iter().find(|l| l.hf == module) {
        Some(linear) => (linear.gguf, linear.rows),
        None => (
            NORMS.iter().find(|(name, _)| *name == module)?.1,
            Rows::Same,
        ),
    };
    let layout = match rows {
        Rows::RopeQueries if interleaved => Layout::RopeInterleaved {
            heads: config.num_attention_heads,
        },
        Rows::RopeKeys if interleaved => Layout::RopeInterleaved {
            heads: config.num_key_value_heads,
        },
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
