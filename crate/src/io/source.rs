//! Byte sources: where a loader's bytes come from.

use std::future::Future;

use crate::error::{Error, Result};

/// A named, random-access source of bytes.
///
/// `name` is what errors call the source (a file name or URL). Reads are async because in the
/// page they are (`Blob.arrayBuffer()`); native sources complete at once.
pub trait ByteSource {
    /// The name errors use for this source.
    fn name(&self) -> &str;
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads `len` bytes at `offset`. Fails when the range is not inside the source.
    fn read(&self, offset: u64, len: usize) -> impl Future<Output = Result<Vec<u8>>>;
}

/// Checks that `offset..offset+len` lies inside a source of `total` bytes.
pub(crate) fn check_range(name: &str, offset: u64, len: usize, total: u64) -> Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= total => Ok(()),
        _ => Err(Error::OutOfRange {
            file: name.to_string(),
            offset,
            len: len as u64,
            total,
        }),
    }
}

/// The byte window `(offset, len)` of rows `rows` within a row-major tensor of `total_rows`
/// rows taking `n_bytes` from `data_offset` in file `file`: an error when the rows are out of
/// range or the bytes do not divide into whole rows.
pub(crate) fn row_window(
    file: &str,
    tensor: &str,
    rows: &std::ops::Range<usize>,
    total_rows: usize,
    (data_offset, n_bytes): (u64, u64),
) -> Result<(u64, usize)> {
    let total = total_rows.max(1) as u64;
    if rows.start > rows.end || rows.end > total_rows.max(1) || n_bytes % total != 0 {
        return Err(Error::Input {
            problem: format!(
                "{file}: rows {rows:?} of tensor `{tensor}`, which has {total} rows of \
                 {n_bytes} bytes in all"
            ),
        });
    }
    let row_bytes = n_bytes / total;
    let len = (rows.end - rows.start) as u64 * row_bytes;
    let len = usize::try_from(len).map_err(|_| Error::OutOfMemory {
        file: file.to_string(),
        what: format!("rows {rows:?} of tensor `{tensor}` ({len} bytes)"),
    })?;
    Ok((data_offset + rows.start as u64 * row_bytes, len))
}

/// Bytes already in memory (a test fixture, a fetched response).
#[derive(Debug, Clone)]
pub struct MemorySource {
    name: String,
    bytes: std::sync::Arc<[u8]>,
}

impl MemorySource {
    /// Wraps `bytes`, calling them `name` in errors.
    pub fn new(name: impl Into<String>, bytes: impl Into<std::sync::Arc<[u8]>>) -> Self {
        Self {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

impl ByteSource for MemorySource {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    async fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        check_range(&self.name, offset, len, self.len())?;
        let start = offset as usize;
        Ok(self.bytes[start..start + len].to_vec())
    }
}
