//! Qwen2 / Qwen2.5: the Llama decoder with biases on the Q, K and V projections (none on the
//! output projection), usually tied embeddings and `rope_theta` 1e6. Its modules are
//! [`crate::models::llama`]'s; what differs is read here.

use crate::error::Result;
use crate::models::hf_config::HfConfig;
use crate::models::llama::LlamaConfig;
use crate::models::weights::Layout;

/// Reads a Qwen2 `config.json` (`model_type` `qwen2`).
pub fn config_from_hf(c: &HfConfig) -> Result<LlamaConfig> {
    LlamaConfig::from_hf(c, true)
}

/// llama.cpp's names for Qwen2 tensors: the Llama table, with Q/K rows in Hugging Face's order
/// (its converter permutes them only for the `llama` architecture).
pub fn gguf_name(hf: &str, config: &LlamaConfig) -> Option<(String, Layout)> {
    crate::models::llama::gguf::gguf_name(hf, config, false)
}
