//! What a GPU adapter says about itself: the facts that decide what webtune can run on it.

use burn::tensor::wgpu::{WgpuSetup, wgpu};
use serde::Serialize;
use std::fmt;

use crate::platform::BrowserAdapterInfo;

/// Adapter identity, limits and features, as the device was actually created with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdapterReport {
    /// The adapter's name ("llvmpipe (LLVM 15.0.6, 256 bits)", "SwiftShader Device", …).
    pub name: String,
    /// The graphics API under wgpu ("vulkan", "metal", "browserwebgpu", …).
    pub backend: String,
    /// Discrete, integrated, virtual or CPU.
    pub device_type: String,
    /// Driver name, where the platform tells it.
    pub driver: String,
    /// Driver version or extra information, where the platform tells it.
    pub driver_info: String,
    /// Whether the adapter is a software fallback (a CPU pretending to be a GPU).
    pub is_cpu: bool,
    /// The limits that bound model size and kernel shape.
    pub limits: AdapterLimits,
    /// Whether WGSL `f16` (`shader-f16`) can be used.
    pub shader_f16: bool,
    /// Whether subgroup (wave) operations are exposed.
    pub subgroups: bool,
    /// Smallest and largest subgroup size, when known (0 when the platform does not say).
    pub subgroup_size: (u32, u32),
}

/// The device limits that matter for ML workloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdapterLimits {
    /// Largest storage buffer one binding may see, in bytes: the largest tensor a kernel can
    /// read without splitting it.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer that can be created, in bytes.
    pub max_buffer_size: u64,
    /// Most invocations in one workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroup size limits in x, y, z.
    pub max_compute_workgroup_size: [u32; 3],
    /// Most workgroups along one dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Workgroup shared memory, in bytes.
    pub max_compute_workgroup_storage_size: u32,
    /// Most storage buffers one shader stage may bind.
    pub max_storage_buffers_per_shader_stage: u32,
}

impl AdapterReport {
    /// Reads the report from the setup the runtime registered (the device's limits, which are
    /// what kernels actually get, not the adapter's advertised maximum).
    pub fn from_setup(setup: &WgpuSetup) -> Self {
        let info = setup.adapter.get_info();
        let features = setup.device.features();
        let limits = setup.device.limits();
        Self {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend).to_lowercase(),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            is_cpu: info.device_type == wgpu::DeviceType::Cpu || software_renderer(&info.name),
            limits: AdapterLimits {
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
                max_compute_workgroup_size: [
                    limits.max_compute_workgroup_size_x,
                    limits.max_compute_workgroup_size_y,
                    limits.max_compute_workgroup_size_z,
                ],
                max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
                max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
                max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
            },
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            subgroup_size: (info.subgroup_min_size, info.subgroup_max_size),
        }
    }
}

impl AdapterReport {
    /// Fills the identity fields that wgpu's browser backend leaves empty from what the
    /// browser says (`GPUAdapter.info`).
    pub fn fill_from_browser(&mut self, info: &BrowserAdapterInfo) {
        if self.name.is_empty() {
            self.name = if info.description.is_empty() {
                [&info.vendor, &info.architecture, &info.device]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                info.description.clone()
            };
        }
        if self.driver.is_empty() {
            self.driver = info.vendor.clone();
        }
        if self.driver_info.is_empty() {
            self.driver_info = info.architecture.clone();
        }
        self.is_cpu |= info.is_fallback
            || software_renderer(&info.architecture)
            || software_renderer(&self.name);
    }
}

/// Whether an adapter's name or architecture is one of the software renderers that pose as
/// GPUs (Chrome's SwiftShader, Mesa's llvmpipe/lavapipe/softpipe, Windows' WARP), which wgpu's
/// browser backend does not mark as CPU devices.
fn software_renderer(name: &str) -> bool {
    let name = name.to_lowercase();
    [
        "swiftshader",
        "llvmpipe",
        "lavapipe",
        "softpipe",
        "microsoft basic render",
    ]
    .iter()
    .any(|known| name.contains(known))
}

/// Bytes as a short human-readable size ("128 MiB").
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

impl fmt::Display for AdapterReport {
    /// A plain-text table, the same one `webtune doctor` prints and the page shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.limits;
        let [x, y, z] = l.max_compute_workgroup_size;
        let rows = [
            ("adapter", self.name.clone()),
            ("backend", self.backend.clone()),
            ("device type", self.device_type.clone()),
            ("driver", format!("{} {}", self.driver, self.driver_info)),
            (
                "max storage binding",
                human_bytes(l.max_storage_buffer_binding_size),
            ),
            ("max buffer", human_bytes(l.max_buffer_size)),
            (
                "invocations/workgroup",
                l.max_compute_invocations_per_workgroup.to_string(),
            ),
            ("workgroup size", format!("{x} x {y} x {z}")),
            (
                "storage buffers/stage",
                l.max_storage_buffers_per_shader_stage.to_string(),
            ),
            (
                "workgroup memory",
                human_bytes(u64::from(l.max_compute_workgroup_storage_size)),
            ),
            ("shader-f16", yes_no(self.shader_f16).to_string()),
            (
                "subgroups",
                format!(
                    "{} (size {}..{})",
                    yes_no(self.subgroups),
                    self.subgroup_size.0,
                    self.subgroup_size.1
                ),
            ),
        ];
        for (key, value) in rows {
            writeln!(f, "{key:<22} {}", value.trim())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{human_bytes, software_renderer};

    #[test]
    fn software_renderers_are_known_by_name() {
        assert!(software_renderer("SwiftShader Device (Subzero)"));
        assert!(software_renderer("swiftshader"));
        assert!(software_renderer("llvmpipe (LLVM 15.0.6, 256 bits)"));
        assert!(!software_renderer("NVIDIA H200"));
        assert!(!software_renderer("Apple M2"));
    }

    #[test]
    fn human_bytes_picks_the_largest_whole_unit() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(128 << 20), "128 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(4 << 30), "4 GiB");
    }
}
