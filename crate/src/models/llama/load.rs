//! Building a [`Llama`] from any [`Weights`], by Hugging Face tensor names, one tensor at a
//! time onto the device.

use super::LlamaConfig;
use super::model::{Attention, DecoderLayer, Llama, Mlp};
use crate::error::Result;
use crate::models::weights::{Placement, Weights, linear, rms_norm, vocab_matrix};

/// Loads a Llama-family model whose shapes and biases `config` describes.
pub async fn load(config: &LlamaConfig, w: &impl Weights, placement: &Placement) -> Result<Llama> {
    let (c, device) = (config, &placement.device);
    let (h, f, d) = (c.hidden_size, c.intermediate_size, c.head_dim);
    let (heads, kv, eps) = (c.num_attention_heads, c.num_key_value_heads, c.rms_norm_eps);
    let embed_tokens =
        vocab_matrix(w, "model.embed_tokens.weight", [c.vocab_size, h], placement).await?;
    let mut layers = Vec::with_capacity(c.num_hidden_layers);
    for n in 0..c.num_hidden_layers {
        let p = |s: &str| format!("model.layers.{n}.{s}");
        layers.push(DecoderLayer {
            input_layernorm: rms_norm(w, &p("input_layernorm.weight"), h, eps, device).await?,
            self_attn: Attention {
                q_proj: linear(
                    w,
                    &p("self_attn.q_proj"),
                    [heads * d, h],
                    c.qkv_bias,
                    placement,
                )
                .await?,
                k_proj: linear(
                    w,
                    &p("self_attn.k_proj"),
                    [kv * d, h],
                    c.qkv_bias,
                    placement,
                )
                .await?,
                v_proj: linear(
                    w,
                    &p("self_attn.v_proj"),
                    [kv * d, h],
                    c.qkv_bias,
                    placement,
                )
                .await?,
                o_proj: linear(
                    w,
                    &p("self_attn.o_proj"),
                    [h, heads * d],
                    c.o_bias,
                    placement,
                )
                .await?,
                heads,
                kv_heads: kv,
                head_dim: d,
            },
            post_attention_layernorm: rms_norm(
                w,
                &p("post_attention_layernorm.weight"),
                h,
                eps,
                device,
            )
            .await?,
            mlp: Mlp {
                gate_proj: linear(w, &p("mlp.gate_proj"), [f, h], c.mlp_bias, placement).await?,
                up_proj: linear(w, &p("mlp.up_proj"), [f, h], c.mlp_bias, placement).await?,
                down_proj: linear(w, &p("mlp.down_proj"), [h, f], c.mlp_bias, placement).await?,
            },
        });
    }
    // A tied checkpoint may still carry a copy of the head; the embedding is used either way.
    let lm_head = match c.tie_word_embeddings {
        true => None,
        false => Some(vocab_matrix(w, "lm_head.weight", [c.vocab_size, h], placement).await?),
    };
    Ok(Llama {
        embed_tokens,
        layers,
        norm: rms_norm(w, "model.norm.weight", h, eps, device).await?,
        lm_head,
        rope: c.rope.clone(),
        max_position_embeddings: c.max_position_embeddings,
    })
}
