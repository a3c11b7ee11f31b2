//! # webtune
//!
//! Private fine-tuning (LoRA and other parameter-efficient methods) and retrieval-augmented
//! generation for small language models, on the user's own GPU: natively through wgpu
//! (Vulkan, Metal, DX12) and inside a browser tab through WebGPU, with one code path.
//!
//! Layers, lowest first (nothing imports upward; see `ARCHITECTURE.md`):
//! - [`platform`]: the only place that knows which target it was compiled for.
//! - [`device`]: backend tiers (CPU, wgpu/WebGPU) behind one [`device::ComputeDevice`], the
//!   adapter report and async readback.
//! - [`io`]: model files read from bytes (GGUF, safetensors), the same on every platform.
//! - [`models`]: model families (Llama, Qwen2, GPT-2) built from GGUF files or Hugging Face
//!   folders.
//! - [`generate`]: text generation with a KV cache, sampling and stop strings.
//! - [`eval`]: per-token loss and perplexity.
//! - [`data`]: JSONL datasets in the usual formats, encoded with assistant-only labels.
//! - [`lora`]: LoRA adapters attached by module path; PEFT's files in and out.
//! - [`train`]: the causal-LM loss, AdamW, schedules, one optimizer step at a time.
//! - [`rag`]: retrieval-augmented generation: sentence embeddings (BERT-family encoders).
//! - [`rng`]: a seeded generator, the same on every platform.
//! - [`numerics`]: comparing numbers across tiers and against reference fixtures.
//! - [`nn`]: building blocks (activations, …) with exact gradients on every tier.
//! - [`tokenizer`]: text to ids, from `tokenizer.json` or GGUF metadata.
//! - [`selfcheck`]: a small forward + backward computation that proves a tier computes what
//!   the others compute.
//!
//! What it does not provide: a distributed trainer (users continue on PEFT/TRL), a server, or
//! any network access of its own.

pub mod advise;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod generate;
pub mod io;
pub mod lora;
pub mod models;
pub mod nn;
pub mod numerics;
pub mod platform;
pub mod rag;
pub mod rng;
pub mod selfcheck;
pub mod tokenizer;
pub mod train;

pub use device::{ComputeDevice, Tier};
pub use error::{Error, Result};

/// The burn version webtune is built on, re-exported so that callers use the same one.
pub use burn;
