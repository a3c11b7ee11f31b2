//! Text generation with a KV cache: prefill the prompt once, then feed one token at a time,
//! choosing each next token on the host ([`sampling`]) and streaming it to the caller.

pub mod sampling;
mod text;

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

pub use crate::flow::Flow;
pub use sampling::Sampling;
pub use text::{Generated, StopReason, generate_text};

use crate::device::read_f32;
use crate::error::Result;
use crate::models::{CausalLm, check_ids};
use crate::platform::yield_now;

/// Tokens between two yields to the event loop.
const YIELD_EVERY: usize = 4;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateConfig {
    /// The most tokens to add.
    pub max_new_tokens: usize,
    /// How to choose each token.
    pub sampling: Sampling,
    /// Tokens that end generation (included in the output).
    pub stop_ids: Vec<u32>,
    /// Strings that end generation (cut from the text; see [`generate_text`]).
    pub stop_strings: Vec<String>,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 128,
            sampling: Sampling::default(),
            stop_ids: Vec::new(),
            stop_strings: Vec::new(),
        }
    }
}

/// Generates up to `config.max_new_tokens` tokens after `prompt`, calling `on_token` with each
/// one as soon as it is chosen. Returns the new tokens (a stop id, if reached, is the last).
/// Stops early when the model's context is full.
pub async fn generate(
    model: &impl CausalLm,
    device: &Device,
    prompt: &[u32],
    config: &GenerateConfig,
    mut on_token: impl FnMut(u32) -> Flow,
) -> Result<Vec<u32>> {
    check_ids(model, prompt, 1, "the prompt")?;
    let mut cache = model.new_cache();
    let mut rng = sampling::Rng::new(config.sampling.seed);
    let mut seen = prompt.to_vec();
    let mut new = Vec::new();
    let mut input = prompt.to_vec();
    let room = model.context_length().saturating_sub(prompt.len()) + 1;
    while new.len() < config.max_new_tokens.min(room) && !input.is_empty() {
        let len = input.len();
        let ids: Vec<i32> = input.iter().map(|&t| t as i32).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, len]), device);
        let hidden = model.hidden_cached(ids, &mut cache);
        let vocab = model.vocab_size();
        // Only the last position's logits are computed and come back to the host: [vocab]
        let last = model.logits(hidden.narrow(1, len - 1, 1)).reshape([vocab]);
        let mut last = read_f32(last, "next-token logits").await?;
        let token = sampling::sample(&mut last, &seen, &config.sampling, &mut rng);
        new.push(token);
        seen.push(token);
        if config.stop_ids.contains(&token) || on_token(token) == Flow::Stop {
            break;
        }
        // In a browser, let the worker hear a `stop()` now and then (the CPU tier's readback
        // never waits).
        if new.len() % YIELD_EVERY == 0 {
            yield_now().await;
        }
        input = vec![token];
    }
    Ok(new)
}
