//! The Llama family (Llama 2/3, SmolLM/SmolLM2, TinyLlama): RMSNorm, rotary embeddings,
//! grouped-query attention, SwiGLU, tied or separate LM head.

mod config;
mod gguf;
mod model;

pub use config::LlamaConfig;
pub use gguf::load_gguf;
pub use model::Llama;
