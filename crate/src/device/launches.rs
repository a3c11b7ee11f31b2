//! Kernel launches on the GPU tier: how many a piece of work issues, and which.
//!
//! Every GPU kernel is a dispatch, and on a real GPU each costs a launch and a round trip of
//! its operands through memory; counting them is how speed work is measured where no GPU is
//! at hand. The CPU tier launches no kernels (its counts are zero).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cubecl_runtime::logging::{LaunchObservation, LaunchObserver};

/// Counts the kernels launched on the GPU tier while it lives (by any thread of the process;
/// one counter at a time: a second replaces the first until it is dropped).
#[derive(Debug)]
pub struct LaunchCounter {
    counts: Arc<Counts>,
    _watching: LaunchObservation,
}

#[derive(Debug, Default)]
struct Counts(Mutex<HashMap<&'static str, u64>>);

impl LaunchObserver for Counts {
    fn launched(&self, kernel: &'static str) {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(kernel).or_default() += 1;
        }
    }
}

/// How often one kernel was launched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KernelCount {
    /// The kernel's name, shortened (module paths and generic arguments dropped).
    pub kernel: String,
    /// Launches counted.
    pub launches: u64,
}

impl LaunchCounter {
    /// Starts counting.
    pub fn start() -> Self {
        let counts = Arc::new(Counts::default());
        let watching = LaunchObservation::new(counts.clone());
        Self {
            counts,
            _watching: watching,
        }
    }

    /// Launches counted so far.
    pub fn total(&self) -> u64 {
        self.counts
            .0
            .lock()
            .map(|c| c.values().sum())
            .unwrap_or_default()
    }

    /// Forgets what was counted so far (to count the next piece of work alone).
    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.0.lock() {
            counts.clear();
        }
    }

    /// Launches per kernel, most launched first (ties by name); kernels whose shortened
    /// names are equal are counted together.
    pub fn by_kernel(&self) -> Vec<KernelCount> {
        let mut merged: HashMap<String, u64> = HashMap::new();
        if let Ok(counts) = self.counts.0.lock() {
            for (name, n) in counts.iter() {
                *merged.entry(short_name(name)).or_default() += n;
            }
        }
        let mut rows: Vec<KernelCount> = merged
            .into_iter()
            .map(|(kernel, launches)| KernelCount { kernel, launches })
            .collect();
        rows.sort_by(|a, b| b.launches.cmp(&a.launches).then(a.kernel.cmp(&b.kernel)));
        rows
    }
}

/// `a::b::Kernel<c::D, E>` → `Kernel`: the type's own name, without its path or generics.
fn short_name(name: &str) -> String {
    let base = name.split('<').next().unwrap_or(name);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(
            short_name("burn_cubecl::kernel::binary::BinaryKernel<f32, burn::Add>"),
            "BinaryKernel"
        );
        assert_eq!(short_name("matmul_entry"), "matmul_entry");
    }
}
