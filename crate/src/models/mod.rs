//! Model families. One folder per family: its config (named after Hugging Face's
//! `config.json`), its modules and forward pass, and its weight-name table. Models know nothing
//! of LoRA, training or generation; those use them through [`CausalLm`].

pub mod llama;

use burn::tensor::{Int, Tensor};

/// A causal language model: token ids in, next-token logits out.
pub trait CausalLm {
    /// `[batch, seq]` token ids → `[batch, seq, vocab]` logits.
    fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3>;
    /// Vocabulary size (the logits' last dimension).
    fn vocab_size(&self) -> usize;
}
