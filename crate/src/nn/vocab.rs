//! Vocabulary-sized matrices (token embeddings, LM heads), split by rows so that no piece is
//! larger than the device lets one kernel binding see.
//!
//! WebGPU and Vulkan cap the bytes one storage binding may address (128 MiB on lavapipe and in
//! WebGPU's default limits). Qwen2.5-0.5B's embedding is 519 MiB in f32, so a model's largest
//! tensors must be split: lookups gather from every piece under a mask, projections compute
//! each piece's logits and concatenate them.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// A `[rows, cols]` matrix (row `i` is token `i`), stored as row blocks.
#[derive(Module, Debug)]
pub struct VocabMatrix {
    /// Row blocks, `[rows_per_chunk, cols]` each (the last may be shorter).
    pub chunks: Vec<Param<Tensor<2>>>,
    /// Rows in every block but the last.
    pub rows_per_chunk: usize,
}

impl VocabMatrix {
    /// Splits row-major `values` (`[rows, cols]`) into blocks of at most `max_bytes` bytes of
    /// f32 each (at least one row per block) and moves them to `device`.
    pub fn new(
        values: Vec<f32>,
        [rows, cols]: [usize; 2],
        max_bytes: u64,
        device: &Device,
    ) -> Self {
        let rows_per_chunk = Self::rows_per_chunk([rows, cols], max_bytes);
        let chunks = values
            .chunks(rows_per_chunk * cols.max(1))
            .map(|block| {
                let n = block.len() / cols.max(1);
                Tensor::from_data(TensorData::new(block.to_vec(), [n, cols]), device)
            })
            .collect();
        Self::from_chunks(chunks, rows_per_chunk)
    }

    /// Rows per block for a `[rows, cols]` matrix whose blocks take at most `max_bytes` bytes
    /// of f32 each (at least one row).
    pub fn rows_per_chunk([rows, cols]: [usize; 2], max_bytes: u64) -> usize {
        let row_bytes = (cols.max(1) * 4) as u64;
        (max_bytes / row_bytes).clamp(1, rows.max(1) as u64) as usize
    }

    /// The matrix made of `chunks` (row blocks of `rows_per_chunk` rows, the last may be
    /// shorter), already on their device.
    pub fn from_chunks(chunks: Vec<Tensor<2>>, rows_per_chunk: usize) -> Self {
        Self {
            chunks: chunks.into_iter().map(Param::from_tensor).collect(),
            rows_per_chunk,
        }
    }

    /// Number of rows (the vocabulary size).
    pub fn rows(&self) -> usize {
        self.chunks.iter().map(|c| c.dims()[0]).sum()
    }

    /// Number of columns (the hidden size).
    pub fn cols(&self) -> usize {
        self.chunks.first().map_or(0, |c| c.dims()[1])
    }

    /// Looks up `[batch, seq]` ids → `[batch, seq, cols]` rows.
    pub fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let ids = ids.reshape([batch * seq]);
        let cols = self.cols();
        let rows = match self.chunks.as_slice() {
            [one] => one.val().select(0, ids),
            chunks => {
                let mut sum: Option<Tensor<2>> = None;
                for (c, chunk) in chunks.iter().enumerate() {
                    let start = (c * self.rows_per_chunk) as i64;
                    let len = chunk.dims()[0] as i64;
                    let local = ids.clone().sub_scalar(start);
                    let inside = local
                        .clone()
                        .greater_equal_elem(0)
                        .bool_and(local.clone().lower_elem(len))
                        .float()
                        .unsqueeze_dim::<2>(1);
                    let picked = chunk.val().select(0, local.clamp(0, len - 1)) * inside;
                    sum = Some(match sum {
                        Some(s) => s + picked,
                        None => picked,
                    });
                }
                sum.unwrap_or_else(|| Tensor::zeros([batch * seq, cols], &ids.device()))
            }
        };
        rows.reshape([batch, seq, cols])
    }

    /// `[batch, seq, cols]` → `[batch, seq, rows]`: `x · Mᵀ`, block by block.
    pub fn project(&self, x: Tensor<3>) -> Tensor<3> {
        let logits: Vec<Tensor<3>> = self
            .chunks
            .iter()
            .map(|chunk| super::linear(x.clone(), chunk.val().transpose(), None))
            .collect();
        Tensor::cat(logits, 2)
    }
}

/// The matrix a parameter path names when it is one row block of a [`VocabMatrix`]
/// (`….embed_tokens.chunks.3` → `("….embed_tokens.weight", 3)`), or `None`. Saved files use
/// the whole matrix's name, so that what a checkpoint holds does not depend on how a device
/// split the matrix.
pub fn whole_matrix(path: &str) -> Option<(String, usize)> {
    let (prefix, block) = path.rsplit_once(".chunks.")?;
    let block = block.parse().ok()?;
    Some((format!("{prefix}.weight"), block))
}

#[cfg(test)]
mod tests {
    use super::whole_matrix;

    #[test]
    fn row_blocks_name_their_whole_matrix() {
        assert_eq!(
            whole_matrix("model.embed_tokens.chunks.12"),
            Some(("model.embed_tokens.weight".into(), 12))
        );
        assert_eq!(whole_matrix("lm_head.chunks.0").map(|w| w.1), Some(0));
        assert_eq!(whole_matrix("layers.0.mlp.up_proj.weight"), None);
        assert_eq!(whole_matrix("x.chunks.a"), None);
    }
}
