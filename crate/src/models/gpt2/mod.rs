//! GPT-2: learned positions, pre-norm LayerNorm blocks, fused `c_attn` Q/K/V projection, GELU
//! (tanh approximation) feed-forward, LM head tied to the token embedding.

mod config;
mod model;
pub mod names;

pub use config::{Gpt2Config, gguf_name};
pub use model::{Gpt2, load};
