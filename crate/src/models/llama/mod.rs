//! The Llama family (Llama 2/3, SmolLM/SmolLM2, TinyLlama): RMSNorm, rotary embeddings,
//! grouped-query attention, SwiGLU, tied or separate LM head, optional projection biases
//! (which Qwen2 builds on).

mod config;
pub mod gguf;
mod load;
mod model;
pub mod names;

pub use config::LlamaConfig;
pub use load::load;
pub use model::{Attention, DecoderLayer, Llama, Mlp};
