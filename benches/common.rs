//! What the benches share: paths, which tiers to run, device names, and the process's memory
//! and CPU use (Linux `/proc`; elsewhere they read NaN).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Instant;

use webtune::{ComputeDevice, Tier};

pub const MIB: f64 = 1024.0 * 1024.0;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The words after `--` that are not flags: `cpu`, `gpu`, `q4`, …
pub fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect()
}

/// The tiers the command line asks for (`cpu`, `gpu`), both when it names neither.
pub fn tiers() -> Vec<Tier> {
    let args = args();
    let named = |key: &str| args.iter().any(|a| a == key);
    [(Tier::Cpu, "cpu"), (Tier::Gpu, "gpu")]
        .into_iter()
        .filter(|(_, key)| !(named("cpu") || named("gpu")) || named(key))
        .map(|(tier, _)| tier)
        .collect()
}

/// The adapter's name, or the CPU with the threads it may use.
pub fn device_name(device: &ComputeDevice) -> String {
    match device.adapter() {
        Some(a) => format!("{} ({})", a.name, a.backend),
        None => format!(
            "CPU ({} threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
    }
}

/// The process's peak resident memory (Linux `VmHWM`), MiB.
pub fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds this process has used, all threads, user and system (`/proc/self/stat`, in
/// ticks of 1/100 s, the Linux default).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    match fields.as_slice() {
        [user, system] => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// Wall and CPU time since it was made: how many cores a measured span kept busy.
pub struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    pub fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    /// Wall-clock seconds so far.
    pub fn seconds(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }

    /// CPU seconds per wall second so far: 1.0 is one core kept busy.
    pub fn cores(&self) -> f64 {
        (cpu_seconds() - self.cpu) / self.seconds().max(1e-9)
    }
}
