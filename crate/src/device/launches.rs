//! Kernel launches on the GPU tier: how many a piece of work issues, and which.
//!
//! Every GPU kernel is a dispatch, and on a real GPU each costs a launch and a round trip of
//! its operands through memory; counting them is how speed work is measured where no GPU is
//! at hand. The CPU tier launches no kernels (its counts are zero).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cubecl_runtime::logging::{
    Duration, LaunchObservation, LaunchObserver, TimingMethod, TimingRequest,
};

/// Counts the kernels launched on the GPU tier while it lives (by any thread of the process;
/// one counter at a time: a second replaces the first until it is dropped).
#[derive(Debug)]
pub struct LaunchCounter {
    counts: Arc<Counts>,
    _watching: LaunchObservation,
}

#[derive(Debug, Default)]
struct Counts {
    launches: Mutex<HashMap<&'static str, u64>>,
    /// Whether each kernel is timed (and run one at a time), and the time per kernel.
    timed: bool,
    seconds: Mutex<HashMap<&'static str, f64>>,
}

impl LaunchObserver for Counts {
    fn launched(&self, kernel: &'static str) {
        if let Ok(mut counts) = self.launches.lock() {
            *counts.entry(kernel).or_default() += 1;
        }
    }

    fn timing(&self) -> TimingRequest {
        if self.timed {
            TimingRequest::Resolved
        } else {
            TimingRequest::None
        }
    }

    fn timed(&self, kernel: &'static str, duration: Duration, _method: TimingMethod) {
        if let Ok(mut seconds) = self.seconds.lock() {
            *seconds.entry(kernel).or_default() += duration.as_secs_f64();
        }
    }
}

/// How often one kernel was launched.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KernelCount {
    /// The kernel's name, shortened (module paths and generic arguments dropped).
    pub kernel: String,
    /// Launches counted.
    pub launches: u64,
    /// Seconds the kernel ran, summed over its launches (counters made by
    /// [`LaunchCounter::timed`] only; zero otherwise).
    pub seconds: f64,
}

impl LaunchCounter {
    /// Starts counting.
    pub fn start() -> Self {
        Self::watch(Counts::default())
    }

    /// Starts counting and timing every kernel. Each launch then waits for its kernel to
    /// finish (kernels run one at a time): right for each kernel's own cost, slower overall.
    /// Native only: the browser cannot wait for the GPU.
    pub fn timed() -> Self {
        Self::watch(Counts {
            timed: true,
            ..Counts::default()
        })
    }

    fn watch(counts: Counts) -> Self {
        let counts = Arc::new(counts);
        let watching = LaunchObservation::new(counts.clone());
        Self {
            counts,
            _watching: watching,
        }
    }

    /// Launches counted so far.
    pub fn total(&self) -> u64 {
        self.counts
            .launches
            .lock()
            .map(|c| c.values().sum())
            .unwrap_or_default()
    }

    /// Forgets what was counted so far (to count the next piece of work alone).
    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.launches.lock() {
            counts.clear();
        }
        if let Ok(mut seconds) = self.counts.seconds.lock() {
            seconds.clear();
        }
    }

    /// Launches per kernel, most launched first (ties by name); kernels whose shortened
    /// names are equal are counted together.
    pub fn by_kernel(&self) -> Vec<KernelCount> {
        let mut merged: HashMap<String, (u64, f64)> = HashMap::new();
        if let Ok(counts) = self.counts.launches.lock() {
            for (name, n) in counts.iter() {
                merged.entry(short_name(name)).or_default().0 += n;
            }
        }
        if let Ok(seconds) = self.counts.seconds.lock() {
            for (name, s) in seconds.iter() {
                merged.entry(short_name(name)).or_default().1 += s;
            }
        }
        let mut rows: Vec<KernelCount> = merged
            .into_iter()
            .map(|(kernel, (launches, seconds))| KernelCount {
                kernel,
                launches,
                seconds,
            })
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
