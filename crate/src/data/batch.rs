//! A batch as the trainer consumes it: right-padded token ids and their labels.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The label of a position that is not trained.
pub const IGNORE: i64 = -100;

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

/// How a batch's rows are padded: with token `id`, to the batch's longest row rounded up to a
/// multiple of `multiple` tokens, but not past `at_most` (unless the longest row is longer).
///
/// Rounding bounds the shapes a run meets: on a GPU each new width compiles kernels and sizes
/// buffers again. The padded positions are masked and unlabelled, so the loss is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// The padding token.
    pub id: u32,
    /// Widths are rounded up to a multiple of this (1: each batch is as wide as its longest
    /// row).
    pub multiple: usize,
    /// The widest a rounded batch gets (the run's longest sequence).
    pub at_most: usize,
}

impl Padding {
    /// Each batch as wide as its longest row.
    pub fn to_longest(id: u32) -> Self {
        Self {
            id,
            multiple: 1,
            at_most: usize::MAX,
        }
    }

    /// The width of a batch whose longest row has `longest` tokens.
    pub fn width(&self, longest: usize) -> usize {
        longest
            .next_multiple_of(self.multiple.max(1))
            .min(self.at_most.max(longest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Encoded, batches};

    fn rows(lengths: &[usize]) -> Vec<Encoded> {
        lengths
            .iter()
            .map(|&n| Encoded {
                ids: vec![7; n],
                labels: vec![7; n],
                truncated: false,
                line: 1,
            })
            .collect()
    }

    #[test]
    fn widths_round_up_to_the_multiple_within_the_longest_sequence() {
        let pad = Padding {
            id: 0,
            multiple: 64,
            at_most: 300,
        };
        let widths: Vec<usize> = [1, 63, 64, 65, 256, 257, 300, 301]
            .iter()
            .map(|&n| pad.width(n))
            .collect();
        assert_eq!(widths, [64, 64, 64, 128, 256, 300, 300, 301]);
        assert_eq!(Padding::to_longest(0).width(37), 37);
    }

    #[test]
    fn padded_batches_keep_every_token_and_label() {
        let lengths: Vec<usize> = (0..40).map(|i| 3 + (i * 37) % 200).collect();
        let examples = rows(&lengths);
        let order: Vec<usize> = (0..examples.len()).collect();
        let pad = Padding {
            id: 9,
            multiple: 64,
            at_most: 256,
        };
        let exact = batches(&examples, &order, 4, Padding::to_longest(9), None);
        let rounded = batches(&examples, &order, 4, pad, None);
        let width = |b: &Batch| b.shape().unwrap().1;
        let distinct = |b: &[Batch]| {
            b.iter()
                .map(width)
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(distinct(&rounded), [128, 192, 256].into());
        assert_eq!(distinct(&exact).len(), 10);
        for (a, b) in exact.iter().zip(&rounded) {
            assert_eq!(a.trained_tokens(), b.trained_tokens());
            for (row, (ids, labels)) in b.ids.iter().zip(&b.labels).enumerate() {
                let n = a.ids[row].len();
                assert_eq!(ids[..n], a.ids[row][..]);
                assert_eq!(labels[..n], a.labels[row][..]);
                assert!(ids[n..].iter().all(|&t| t == 9));
                assert!(labels[n..].iter().all(|&l| l == IGNORE));
            }
        }
    }
}
