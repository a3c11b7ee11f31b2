//! Building a [`Llama`] from any [`Weights`], by the Hugging Face names of [`super::names`],
//! one tensor at a time onto the device.

use super::LlamaConfig;
use super::model::{DecoderLayer, Llama};
use super::names::{GLOBAL, LINEAR, NORMS, layer_path};
use crate::error::Result;
use crate::models::weights::{Placement, Weights, linear, rms_norm, vocab_matrix};

/// Loads a Llama-family model whose shapes and biases `config` describes.
pub async fn load(config: &LlamaConfig, w: &impl Weights, placement: &Placement) -> Result<Llama> {
    let (c, device) = (config, &placement.device);
    let (h, eps) = (c.hidden_size, c.rms_norm_eps);
    let [(embed, _), (norm, _), (head, _)] = GLOBAL;
    let embed_tokens = vocab_matrix(w, embed, [c.vocab_size, h], placement).await?;
    let mut layers = Vec::with_capacity(c.num_hidden_layers);
    for n in 0..c.num_hidden_layers {
        let mut norms = Vec::with_capacity(NORMS.len());
        for (hf, _) in NORMS {
            let weight = layer_path(n, &format!("{hf}.weight"));
            norms.push(rms_norm(w, &weight, h, eps, device).await?);
        }
        let mut linears = Vec::with_capacity(LINEAR.len());
        for name in &LINEAR {
            let (shape, bias) = (name.shape)(c);
            linears.push(linear(w, &layer_path(n, name.hf), shape, bias, placement).await?);
        }
        let (Ok(linears), Ok(norms)) = (linears.try_into(), norms.try_into()) else {
            unreachable!("one module per table entry");
        };
        layers.push(DecoderLayer::from_parts(c, linears, norms));
    }
    // A tied checkpoint may still carry a copy of the head; the embedding is used either way.
    let lm_head = match c.tie_word_embeddings {
        true => None,
        false => Some(vocab_matrix(w, head, [c.vocab_size, h], placement).await?),
    };
    Ok(Llama {
        embed_tokens,
        layers,
        norm: rms_norm(w, norm, h, eps, device).await?,
        lm_head,
        rope: c.rope.clone(),
        max_position_embeddings: c.max_position_embeddings,
    })
}
