//! Reading model files from bytes, the same way on every platform.
//!
//! A [`ByteSource`] is a named, random-access run of bytes: a buffer in memory
//! ([`MemorySource`]), a file natively or a `Blob` in the page (`platform::FileSource`,
//! `platform::BlobSource`). Parsers ask it for the ranges they need, so a model is never
//! copied whole into memory: headers are read first and validated against the source's real
//! length, then each tensor is read and converted on its own.
//!
//! Formats: [`gguf`] (llama.cpp's single-file format, with its quantized block types) and
//! [`safetensors`] (Hugging Face's). [`sniff`] tells them apart and recognises PyTorch pickles,
//! which are refused. [`zip`] writes: several files as one download.

pub mod gguf;
pub mod safetensors;
mod sniff;
mod source;
pub mod zip;

pub use sniff::{Format, sniff};
pub use source::{ByteSource, MemorySource};
pub(crate) use source::{check_range, row_window};

/// `values` of tensor `tensor` in `file`, refused when any is NaN or infinite: nothing
/// non-finite enters a model, an adapter or a run from a file.
pub(crate) fn finite(file: &str, tensor: &str, values: Vec<f32>) -> crate::Result<Vec<f32>> {
    let Some((first, count)) = non_finite(&values) else {
        return Ok(values);
    };
    Err(crate::Error::NonFinite {
        file: file.to_string(),
        tensor: tensor.to_string(),
        count,
        first,
    })
}

/// The index of the first NaN or infinity in `values` and how many there are, if any.
pub(crate) fn non_finite(values: &[f32]) -> Option<(usize, usize)> {
    let first = values.iter().position(|v| !v.is_finite())?;
    Some((
        first,
        values[first..].iter().filter(|v| !v.is_finite()).count(),
    ))
}
