//! # webtune
//!
//! Private fine-tuning (LoRA and other parameter-efficient methods) and retrieval-augmented
//! generation for small language models, on the user's own GPU: natively through wgpu
//! (Vulkan, Metal, DX12) and inside a browser tab through WebGPU, with one code path.
//!
//! Layers, lowest first (a module imports only from layers below it; `tests/layers.rs` checks
//! it, and `ARCHITECTURE.md` draws it):
//! - [`flow`], [`numerics`], [`rng`]: progress control, comparing numbers, a portable
//!   generator.
//! - [`error`]: the one error type.
//! - [`io`]: model files read from bytes (GGUF, safetensors), the same on every platform.
//! - [`platform`]: the only place that knows which target it was compiled for.
//! - [`device`]: backend tiers (CPU, wgpu/WebGPU) behind one [`device::ComputeDevice`],
//!   precision, the adapter report and async readback.
//! - [`nn`], [`tokenizer`]: building blocks with exact gradients on every tier; text to ids.
//! - [`selfcheck`], [`models`], [`data`]: a tier's self-check; model families; datasets.
//! - [`generate`], [`lora`]: text generation; LoRA adapters attached by module path.
//! - [`eval`], [`rag`]: per-token loss and exact match; retrieval-augmented generation.
//! - [`train`]: loss, AdamW, schedules, methods, checkpoints, the memory plan; [`qa`]: training
//!   pairs written from documents by a model.
//! - [`advise`]: fine-tune or retrieve, measured on the user's data.
//! - [`session`]: the application layer under the CLI and the JavaScript API, which holds
//!   every policy.
//! - `js` (wasm32 only): the JavaScript API, a translation over [`session`].
//!
//! What it does not provide: a distributed trainer (users continue on PEFT/TRL), a server, or
//! any network access of its own.

pub mod advise;
pub mod bench;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod flow;
pub mod generate;
pub mod io;
#[cfg(target_arch = "wasm32")]
pub mod js;
pub mod lora;
pub mod models;
pub mod nn;
pub mod numerics;
pub mod platform;
pub mod qa;
pub mod rag;
pub mod rng;
pub mod selfcheck;
pub mod session;
pub mod tokenizer;
pub mod train;

pub use device::{ComputeDevice, Tier};
pub use error::{Error, Result};

/// The burn version webtune is built on, re-exported so that callers use the same one.
pub use burn;
