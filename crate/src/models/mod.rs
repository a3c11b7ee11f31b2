//! Model families. One folder per family: its config (named after Hugging Face's
//! `config.json`), its modules and forward pass, and its weight-name table. Models know nothing
//! of LoRA, training or generation; those use them through [`CausalLm`].

pub mod llama;

use burn::tensor::{Int, Tensor};

/// One layer's cached keys and values, `[batch, kv_heads, seen, head_dim]` each (before GQA
/// repetition); `None` before the first forward.
pub type LayerCache = Option<(Tensor<4>, Tensor<4>)>;

/// Keys and values of the positions a model has already seen, per layer, so that generation
/// feeds only the new token.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    /// Per layer.
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// An empty cache for a model with `layers` layers.
    pub fn new(layers: usize) -> Self {
        Self {
            layers: vec![None; layers],
        }
    }

    /// How many positions the cache holds.
    pub fn len(&self) -> usize {
        match self.layers.first() {
            Some(Some((k, _))) => k.dims()[2],
            _ => 0,
        }
    }

    /// Whether the cache holds no position.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A causal language model: token ids in, next-token logits out.
pub trait CausalLm {
    /// `[batch, seq]` token ids at positions `cache.len()..`, attending to the cached
    /// positions → `[batch, seq, vocab]` logits. Appends the new keys and values to `cache`.
    fn forward_cached(&self, ids: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3>;

    /// An empty cache for this model.
    fn new_cache(&self) -> KvCache;

    /// `[batch, seq]` token ids → `[batch, seq, vocab]` logits, from position 0.
    fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.forward_cached(ids, &mut self.new_cache())
    }

    /// Vocabulary size (the logits' last dimension).
    fn vocab_size(&self) -> usize;
}
