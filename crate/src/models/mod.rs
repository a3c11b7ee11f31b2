//! Model families. One folder per family: its config (named after Hugging Face's
//! `config.json`), its modules and forward pass, and its name table (`names.rs`: Hugging Face
//! name ↔ module field ↔ GGUF name, read by loading, `LinearLayers`, export and the GGUF
//! reader). [`registry`] maps `config.json`'s `model_type` and GGUF's `general.architecture`
//! to a family; [`checkpoint`] loads a whole model (weights, config, tokenizer) from a GGUF
//! file or a Hugging Face folder.
//! Models know nothing of LoRA, training or generation; those use them through [`CausalLm`].

pub mod bert;
mod cache;
pub mod checkpoint;
pub mod export;
pub mod gpt2;
pub mod hf_config;
pub mod llama;
pub mod qwen2;
pub mod registry;
pub mod weights;

pub use cache::{KvCache, LayerCache};
pub use checkpoint::{Loaded, load_checkpoint, load_checkpoint_to};
pub use registry::{Architecture, Model, ModelConfig, Shape};
pub use weights::Placement;

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::nn::Linear;

/// A model's linear layers by their Hugging Face module paths
/// (`model.layers.0.self_attn.q_proj`), which is how adapters find what to attach to. The
/// vocabulary matrices (embeddings, LM heads) are not among them.
pub trait LinearLayers {
    /// Every linear layer with its path, in model order.
    fn linear_layers(&self) -> Vec<(String, &Linear)>;
    /// The same, mutable.
    fn linear_layers_mut(&mut self) -> Vec<(String, &mut Linear)>;
}

/// Which positions the new tokens are at and what each may attend to.
#[derive(Debug, Clone)]
pub struct Attend {
    /// Rows the positions are given for: 1 when every row shares them, else the batch.
    pub rows: usize,
    /// `rows × seq` position ids (RoPE angles, learned position rows).
    pub positions: Vec<usize>,
    /// `[rows, 1, seq, seen + seq]` additive mask (0 or a large negative).
    pub mask: Tensor<4>,
}

impl Attend {
    /// `seq` new positions after `seen` cached ones, each attending to everything before it.
    pub fn causal(seen: usize, seq: usize, device: &burn::tensor::Device) -> Self {
        Self {
            rows: 1,
            positions: (seen..seen + seq).collect(),
            mask: causal_mask(seen, seq, device).unsqueeze::<4>(),
        }
    }

    /// Rows that each hold several sequences packed one after another: `segments[r][t]` says
    /// which sequence position `t` of row `r` belongs to. Positions restart at 0 with each
    /// sequence, and a position attends only to earlier positions of its own sequence, so
    /// a packed row computes what its sequences compute one by one.
    pub fn packed(segments: &[Vec<u32>], device: &burn::tensor::Device) -> Self {
        let rows = segments.len();
        let seq = segments.first().map_or(0, Vec::len);
        let mut positions = Vec::with_capacity(rows * seq);
        let mut mask = Vec::with_capacity(rows * seq * seq);
        for row in segments {
            let mut start = 0;
            for (t, &segment) in row.iter().enumerate() {
                if t > 0 && row[t - 1] != segment {
                    start = t;
                }
                positions.push(t - start);
                mask.extend((0..seq).map(|k| if k < start || k > t { -1e30f32 } else { 0.0 }));
            }
        }
        Self {
            rows,
            positions,
            mask: Tensor::from_data(TensorData::new(mask, [rows, 1, seq, seq]), device),
        }
    }
}

/// A causal language model: token ids in, next-token logits out.
pub trait CausalLm {
    /// `[batch, seq]` token ids at the positions `attend` gives, attending as it says (to the
    /// cached positions too) → `[batch, seq, hidden]` final hidden states (after the last
    /// norm). Appends the new keys and values to `cache`.
    fn hidden_with(&self, ids: Tensor<2, Int>, attend: Attend, cache: &mut KvCache) -> Tensor<3>;

    /// `[batch, seq]` token ids at positions `cache.len()..`, attending to the cached
    /// positions → `[batch, seq, hidden]` final hidden states. Appends the new keys and
    /// values to `cache` (a cache made for another model is replaced).
    fn hidden_cached(&self, ids: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        let fresh = self.new_cache();
        if cache.layers.len() != fresh.layers.len() {
            *cache = fresh;
        }
        let attend = Attend::causal(cache.len(), ids.dims()[1], &ids.device());
        self.hidden_with(ids, attend, cache)
    }

    /// `[batch, seq]` rows of packed sequences (see [`Attend::packed`]) → hidden states, no
    /// attention across sequences.
    fn hidden_packed(&self, ids: Tensor<2, Int>, segments: &[Vec<u32>]) -> Tensor<3> {
        let attend = Attend::packed(segments, &ids.device());
        self.hidden_with(ids, attend, &mut self.new_cache())
    }

    /// The LM head: `[batch, seq, hidden]` → `[batch, seq, vocab]` logits. Callers that need
    /// only some positions' logits (generation: the last) narrow the hidden states first.
    fn logits(&self, hidden: Tensor<3>) -> Tensor<3>;

    /// `[batch, seq]` token ids → `[batch, seq, vocab]` logits, attending to the cache.
    fn forward_cached(&self, ids: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        let hidden = self.hidden_cached(ids, cache);
        self.logits(hidden)
    }

    /// An empty cache for this model.
    fn new_cache(&self) -> KvCache;

    /// `[batch, seq]` token ids → `[batch, seq, vocab]` logits, from position 0.
    fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.forward_cached(ids, &mut self.new_cache())
    }

    /// Vocabulary size (the logits' last dimension).
    fn vocab_size(&self) -> usize;

    /// The most positions the model can attend over (generation stops there).
    fn context_length(&self) -> usize;
}

/// Checks that `ids` (`what`, for the message) has `min` to `context_length` tokens, all in
/// the vocabulary.
pub fn check_ids(model: &impl CausalLm, ids: &[u32], min: usize, what: &str) -> Result<()> {
    let max = model.context_length();
    if ids.len() < min || ids.len() > max {
        return Err(Error::Input {
            problem: format!(
                "{what} has {} tokens; the model takes {min} to {max}",
                ids.len()
            ),
        });
    }
    match ids.iter().find(|&&id| id as usize >= model.vocab_size()) {
        Some(bad) => Err(Error::Input {
            problem: format!(
                "token id {bad} is outside the vocabulary of {}",
                model.vocab_size()
            ),
        }),
        None => Ok(()),
    }
}

/// `[seq, seen + seq]` additive causal mask for `seq` new positions after `seen` cached ones:
/// new position `i` sees keys `0..=seen + i`; the rest get a large negative.
pub(crate) fn causal_mask(seen: usize, seq: usize, device: &burn::tensor::Device) -> Tensor<2> {
    let total = seen + seq;
    let values = (0..seq * total)
        .map(|n| {
            if n % total > seen + n / total {
                -1e30
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [seq, total]), device)
}
