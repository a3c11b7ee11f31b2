//! Native-only pieces: blocking on futures, files as byte sources, and threads.

use super::BrowserAdapterInfo;
use crate::error::{Error, Result};
use crate::io::{ByteSource, check_range};

/// Runs a future to completion on the current thread (native only; the page never blocks).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

/// Natively the platform's loader runs the constructors before `main`: nothing to do.
pub fn run_constructors() {}

/// Outside a browser there is nothing to ask: wgpu reports the native adapter fully.
pub async fn browser_adapter_info() -> Option<BrowserAdapterInfo> {
    None
}

/// A file on disk, read range by range (never whole).
#[derive(Debug)]
pub struct FileSource {
    name: String,
    len: u64,
    file: std::sync::Mutex<std::fs::File>,
}

impl FileSource {
    /// Opens `path` for reading.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |source| Error::Io {
            file: name.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Self {
            name: name.clone(),
            len,
            file: std::sync::Mutex::new(file),
        })
    }
}

impl ByteSource for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> u64 {
        self.len
    }

    async fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        check_range(&self.name, offset, len, self.len)?;
        let io = |source| Error::Io {
            file: self.name.clone(),
            source,
        };
        // A poisoned lock only means another read panicked; the file handle is still fine.
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut buf = vec![0; len];
        file.read_exact(&mut buf).map_err(io)?;
        Ok(buf)
    }
}

/// Seconds since an arbitrary fixed point, for measuring durations (`Instant` natively).
pub fn seconds_now() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Runs `f` on `data` in chunks of `chunk` elements, on every core (rayon's pool, which the
/// CPU tier's matmuls also use).
pub fn for_each_chunk<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(&mut [T]) + Send + Sync) {
    use rayon::prelude::*;
    data.par_chunks_mut(chunk.max(1)).for_each(f);
}

/// Lets other work run between long steps: nothing to do natively (threads are preemptive).
pub async fn yield_now() {}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo` on Linux; `None` where it
/// cannot be read).
pub fn host_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}
