//! The causal language-modelling loss on a batch, as transformers computes it: each position
//! predicts the next token; labels of -100 (prompt, padding) are not trained; the loss is the
//! mean over the trained tokens.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::CausalLm;

/// The label of a position that is not trained.
pub const IGNORE: i64 = -100;

/// Logits of at most this many bytes are formed at once (well inside one storage binding).
const LOGITS_BYTES: usize = 32 << 20;

/// Right-padded sequences and their labels (`labels[i][t]` is the token at `t`, or
/// [`IGNORE`]); position `t` is trained to predict `labels[i][t + 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Token ids, `[batch][seq]`, all rows the same length.
    pub ids: Vec<Vec<u32>>,
    /// Labels, the same shape.
    pub labels: Vec<Vec<i64>>,
    /// With packing, which sequence each position belongs to (the same shape; see
    /// [`crate::models::Attend::packed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<Vec<u32>>>,
}

impl Batch {
    /// `(batch, seq)`, checking that the rows are rectangular and labels match ids.
    pub fn shape(&self) -> Result<(usize, usize)> {
        let seq = self.ids.first().map_or(0, Vec::len);
        let rectangular = self.ids.iter().all(|r| r.len() == seq)
            && self.labels.len() == self.ids.len()
            && self.labels.iter().all(|r| r.len() == seq)
            && self
                .segments
                .as_ref()
                .is_none_or(|s| s.len() == self.ids.len() && s.iter().all(|r| r.len() == seq));
        if self.ids.is_empty() || seq < 2 || !rectangular {
            return Err(Error::Input {
                problem: format!(
                    "a batch needs equally long rows of at least 2 tokens with one label each \
                     ({} rows of ids, {} of labels)",
                    self.ids.len(),
                    self.labels.len()
                ),
            });
        }
        Ok((self.ids.len(), seq))
    }

    /// How many tokens the batch trains.
    pub fn trained_tokens(&self) -> usize {
        self.labels
            .iter()
            .flat_map(|row| row.iter().skip(1))
            .filter(|&&l| l != IGNORE)
            .count()
    }
}

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
