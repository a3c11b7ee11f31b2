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
    let (rows, seq) = batch.shape()?;
    let vocab = model.vocab_size();
    // Flattened positions (row, t) with t < seq - 1 whose next label is trained.
    let mut positions = Vec::new();
    let mut targets = Vec::new();
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
            positions.push((r * seq + t) as i32);
            targets.push(label as i32);
        }
    }
    if positions.is_empty() {
        return Err(Error::Input {
            problem: "the batch has no trained token (every label is -100)".into(),
        });
    }
    if let Some(&bad) = batch.ids.iter().flatten().find(|&&id| id as usize >= vocab) {
        return Err(Error::Input {
            problem: format!("token id {bad} is outside the vocabulary of {vocab}"),
        });
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
    let mut total: Option<Tensor<1>> = None;
    for (p, t) in positions.chunks(per_slice).zip(targets.chunks(per_slice)) {
        let n = p.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(p.to_vec(), [n]), device);
        let target = Tensor::<3, Int>::from_data(TensorData::new(t.to_vec(), [1, n, 1]), device);
        let logits = model.logits(hidden.clone().select(1, index));
        let picked = crate::nn::log_softmax_f32(logits, 2)
            .gather(2, target)
            .sum();
        total = Some(match total {
            Some(sum) => sum + picked,
            None => picked,
        });
    }
    let count = positions.len() as f64;
    Ok(total
        .map(|sum| sum.div_scalar(count).neg())
        .unwrap_or_else(|| Tensor::zeros([1], device)))
}
