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
