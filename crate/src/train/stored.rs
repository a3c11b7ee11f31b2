//! How parameters are named in saved files: by what they are, not by how a device stores them.
//! A vocabulary matrix split into row blocks to fit a device's storage binding
//! ([`crate::nn::VocabMatrix`]: `….embed_tokens.chunks.N`) is saved whole, as
//! `….embed_tokens.weight`, and cut again into whatever blocks the loading model has — so a
//! checkpoint written on one device resumes on another with another binding limit.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::Tensor;

use super::params;
use crate::nn::whole_matrix;

/// Joins row blocks into their whole matrices (flattened, in block order); other entries
/// pass unchanged.
pub(super) fn join_blocks(entries: Vec<(String, Vec<f32>)>) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    let mut blocks: BTreeMap<String, Vec<(usize, Vec<f32>)>> = BTreeMap::new();
    for (path, values) in entries {
        match whole_matrix(&path) {
            Some((whole, block)) => blocks.entry(whole).or_default().push((block, values)),
            None => out.push((path, values)),
        }
    }
    for (whole, mut parts) in blocks {
        parts.sort_by_key(|(block, _)| *block);
        out.push((whole, parts.into_iter().flat_map(|(_, v)| v).collect()));
    }
    out
}

/// Where each of a model's parameters lies in the saved files: its stored name, and for a
/// row block its offset and length within the whole matrix.
pub(super) struct Layout {
    parts: BTreeMap<String, (String, usize, usize)>,
    order: Vec<String>,
}

impl Layout {
    /// The layout of `model`'s parameters.
    pub(super) fn of(model: &impl Module) -> Self {
        let mut parts = BTreeMap::new();
        let mut offsets: BTreeMap<String, usize> = BTreeMap::new();
        let mut blocks: Vec<(usize, String, String, usize)> = Vec::new();
        let mut order = Vec::new();
        for (path, value, _) in params::all(model) {
            order.push(path.clone());
            let len = value.dims()[0];
            match whole_matrix(&path) {
                Some((whole, block)) => blocks.push((block, path, whole, len)),
                None => {
                    parts.insert(path.clone(), (path, 0, len));
                }
            }
        }
        blocks.sort();
        for (_, path, whole, len) in blocks {
            let offset = offsets.entry(whole.clone()).or_default();
            parts.insert(path, (whole, *offset, len));
            *offset += len;
        }
        Self { parts, order }
    }

    /// Every parameter path, in the model's order.
    pub(super) fn paths(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// The name `path` is saved under.
    pub(super) fn stored(&self, path: &str) -> String {
        self.parts
            .get(path)
            .map_or_else(|| path.to_string(), |(name, _, _)| name.clone())
    }

    /// `path`'s values (flattened) among saved `values`, whose names end in `suffix`: the
    /// entry of its own name (files written before whole names, or an unsplit model), else
    /// its part of the whole matrix.
    pub(super) fn take(
        &self,
        values: &BTreeMap<String, Tensor<1>>,
        path: &str,
        suffix: &str,
    ) -> Option<Tensor<1>> {
        if let Some(value) = values.get(&format!("{path}{suffix}")) {
            return Some(value.clone());
        }
        let (whole, offset, len) = self.parts.get(path)?;
        let value = values.get(&format!("{whole}{suffix}"))?;
        (value.dims()[0] >= offset + len).then(|| value.clone().narrow(0, *offset, *len))
    }
}
