//! The causal language-modelling loss on a batch, as transformers computes it: each position
//! predicts the next token; labels of -100 (prompt, padding) are not trained; the loss is the
//! mean over the trained tokens.

use crate::data::{Batch, IGNORE};
use crate::error::{Error, Result};
use crate::models::CausalLm;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Logits of at most this many bytes are formed at once (well inside one storage binding).
const LOGITS_BYTES: usize = 32 << 20;

/// The mean next-token cross-entropy over the batch's trained tokens, `[1]`, differentiable
/// when `model` lives on an autodiff device. Only trained positions' logits are formed, in
/// slices that stay within a storage binding.
pub fn causal_lm_loss(model: &impl CausalLm, batch: &Batch, device: &Device) -> Result<Tensor<1>> {
    let trained = trained_positions(model, batch)?;
    if trained.is_empty() {
        return Err(Error::Input {
            problem: "the batch has no trained token (every label is -100)".into(),
        });
    }
    let count = trained.len() as f64;
    let logps = token_logps(model, batch, &trained, device)?;
    Ok(logps.sum().div_scalar(count).neg())
}

/// A position `row * seq + t` whose next token `target` is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scored {
    /// The flattened position.
    pub position: usize,
    /// The token it predicts.
    pub target: u32,
}

/// The positions whose next label is trained (not -100), in row order; labels outside the
/// vocabulary are an error.
pub fn trained_positions(model: &impl CausalLm, batch: &Batch) -> Result<Vec<Scored>> {
    let (_, seq) = batch.shape()?;
    let vocab = model.vocab_size();
    let mut scored = Vec::new();
    for (r, labels) in batch.labels.iter().enumerate() {
        for t in 0..seq - 1 {
            let label = labels[t + 1];
            if label == IGNORE {
                continue;
            }
            if !(0..vocab as i64).contains(&label) {
                return Err(Error::Input {
                    problem: format!("label {label} is outside the vocabulary of {vocab}"),
                });
            }
            scored.push(Scored {
                position: r * seq + t,
                target: label as u32,
            });
        }
    }
    Ok(scored)
}

/// The log-probability the model gives each scored position's target, `[n]` in the order
/// given, differentiable on an autodiff device. The batch is run once; logits are formed only
/// at the scored positions, in slices that stay within a storage binding.
pub fn token_logps(
    model: &impl CausalLm,
    batch: &Batch,
    scored: &[Scored],
    device: &Device,
) -> Result<Tensor<1>> {
    let (rows, seq) = batch.shape()?;
    let vocab = model.vocab_size();
    if let Some(&bad) = batch.ids.iter().flatten().find(|&&id| id as usize >= vocab) {
        return Err(Error::Input {
            problem: format!("token id {bad} is outside the vocabulary of {vocab}"),
        });
    }
    if scored.is_empty() {
        return Ok(Tensor::zeros([0], device));
    }
    let ids: Vec<i32> = batch.ids.iter().flatten().map(|&id| id as i32).collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, seq]), device);
    let hidden = match &batch.segments {
        Some(segments) => model.hidden_packed(ids, segments),
        None => model.hidden_cached(ids, &mut model.new_cache()),
    };
    let width = hidden.dims()[2];
    let hidden = hidden.reshape([1, rows * seq, width]);
    let per_slice = (LOGITS_BYTES / (4 * vocab)).max(1);
    let mut parts = Vec::new();
    for slice in scored.chunks(per_slice) {
        let n = slice.len();
        let p: Vec<i32> = slice.iter().map(|s| s.position as i32).collect();
        let t: Vec<i32> = slice.iter().map(|s| s.target as i32).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(p, [n]), device);
        let target = Tensor::<3, Int>::from_data(TensorData::new(t, [1, n, 1]), device);
        let logits = model.logits(hidden.clone().select(1, index));
        let picked = crate::nn::log_softmax_f32(logits, 2).gather(2, target);
        parts.push(picked.reshape([n]));
    }
    Ok(match parts.len() {
        1 => parts.remove(0),
        _ => Tensor::cat(parts, 0),
    })
}
