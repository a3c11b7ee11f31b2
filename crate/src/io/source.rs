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
