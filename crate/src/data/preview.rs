//! The dataset as the model sees it: each row's tokens decoded back to text (the chat
//! template rendered, special tokens shown) in spans that are trained or not, with its line,
//! split and whether it was cut, a page at a time — from a row, or from a line of the file
//! that the data report names.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Encoded, IGNORE, Prepared};
use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// Which split a row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Trained on.
    Train,
    /// Held out.
    Validation,
}

/// A run of text that is trained, or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The tokens' text.
    pub text: String,
    /// Whether the loss is taken on these tokens.
    pub trained: bool,
}

/// One row as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewRow {
    /// Its line in the file (its window's number for documents).
    pub line: usize,
    /// Its split.
    pub split: Split,
    /// Whether it was cut to `max_len`.
    pub truncated: bool,
    /// Its tokens.
    pub tokens: usize,
    /// Of which trained.
    pub trained_tokens: usize,
    /// Its text in trained and untrained spans, in order.
    pub spans: Vec<Span>,
}

/// Where a page of the preview starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewStart {
    /// At this row (0-based, in the preview's order).
    Row(usize),
    /// At the first row of this line of the file, or of the next line that has one (the last
    /// row when none has): a line the data report names (a repeat, a leak, a cut row).
    Line(usize),
}

/// A page of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    /// Rows in the dataset (training and validation, each once).
    pub total: usize,
    /// The first row's position in the preview's order.
    pub offset: usize,
    /// The rows from `offset`, in line order (validation after training for a separate file).
    pub rows: Vec<PreviewRow>,
}

/// `row` as spans of decoded text.
fn spans(tokenizer: &Tokenizer, row: &Encoded) -> Result<Vec<Span>> {
    let mut out: Vec<Span> = Vec::new();
    let mut start = 0;
    let trained = |t: usize| t > 0 && row.labels[t] != IGNORE;
    for t in 1..=row.ids.len() {
        if t == row.ids.len() || trained(t) != trained(start) {
            out.push(Span {
                text: tokenizer.decode(&row.ids[start..t], false)?,
                trained: trained(start),
            });
            start = t;
        }
    }
    Ok(out)
}

/// `limit` rows of `data` from `start` (training rows repeated by rebalancing shown once).
pub fn preview(
    data: &Prepared,
    tokenizer: &Tokenizer,
    start: PreviewStart,
    limit: usize,
) -> Result<Preview> {
    let mut seen = HashSet::new();
    let mut all: Vec<(Split, &Encoded)> = data
        .train
        .iter()
        .map(|e| (Split::Train, e))
        .chain(data.validation.iter().map(|e| (Split::Validation, e)))
        .filter(|(split, e)| seen.insert((*split, e.line)))
        .collect();
    all.sort_by_key(|(split, e)| (e.line, *split == Split::Validation));
    let offset = match start {
        PreviewStart::Row(row) => row,
        // A line past the last row (a dropped repeat at the end) shows the last row.
        PreviewStart::Line(line) => all
            .partition_point(|(_, e)| e.line < line)
            .min(all.len().saturating_sub(1)),
    };
    let rows = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(split, e)| {
            Ok(PreviewRow {
                line: e.line,
                split: *split,
                truncated: e.truncated,
                tokens: e.ids.len(),
                trained_tokens: e.trained_tokens(),
                spans: spans(tokenizer, e)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Preview {
        total: all.len(),
        offset,
        rows,
    })
}
