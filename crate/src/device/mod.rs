//! Backend tiers behind one device type.
//!
//! webtune runs the same tensor code on three tiers:
//! - [`Tier::Cpu`]: burn's pure-Rust `flex` backend — the fast, exact tier for numerics, and
//!   the fallback everywhere (it also runs inside wasm).
//! - [`Tier::Gpu`]: burn's wgpu backend — WebGPU in the browser, Vulkan/Metal/DX12 natively
//!   (lavapipe on a machine without a GPU).
//!
//! Library code takes a [`ComputeDevice`] (or its burn [`Device`]) as a parameter and never
//! creates one itself. Every readback is async ([`read_f32`]): a blocking read panics in wasm.

mod adapter;
mod capped;
mod launches;
mod precision;
mod probe;
mod readback;

pub use adapter::{AdapterLimits, AdapterReport, human_bytes};
pub use launches::{KernelCount, LaunchCounter};
pub use precision::{Precision, f32_tensor, to_dtype, to_f32};
pub use probe::product_seconds;
pub use readback::read_f32;

use burn::tensor::Device;
use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::platform;

/// Which backend a [`ComputeDevice`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// burn's `flex` CPU backend.
    Cpu,
    /// burn's wgpu backend: WebGPU in the browser, the native GPU API elsewhere.
    Gpu,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Cpu => "CPU (flex)",
            Tier::Gpu if platform::IN_BROWSER => "GPU (WebGPU)",
            Tier::Gpu => "GPU (wgpu)",
        })
    }
}

/// A device to compute on, with what is known about the hardware behind it.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    tier: Tier,
    device: Device,
    adapter: Option<AdapterReport>,
    /// The float type tensors are created in.
    precision: Precision,
    /// The handles the GPU tier's runtime was registered with (to register its f16 twin).
    setup: Option<burn::tensor::wgpu::WgpuSetup>,
}

/// The GPU runtime can be registered once per process (a second registration fails), so the
/// first successful initialisation is kept and handed out again.
static GPU: async_lock::OnceCell<ComputeDevice> = async_lock::OnceCell::new();

/// Whether the process's GPU device is a software adapter ([`AdapterReport::is_cpu`]).
static SOFTWARE_GPU: AtomicBool = AtomicBool::new(false);

/// Whether the GPU tier runs on a software adapter (SwiftShader, lavapipe): kernels that
/// suit a CPU-side renderer are chosen by it (`nn::matmul`). `false` before a GPU device is
/// made. One per process, as the GPU runtime is.
pub fn software_gpu() -> bool {
    SOFTWARE_GPU.load(Ordering::Relaxed)
}

fn gpu_error(reason: String) -> Error {
    Error::DeviceInit {
        tier: Tier::Gpu.to_string(),
        reason,
    }
}

/// The runtime's failure in words a person can act on: a missing adapter is said plainly
/// (wgpu's own text is a debug dump of its request, and in a browser names native APIs).
fn init_error(err: burn::tensor::wgpu::WgpuInitError) -> Error {
    use burn::tensor::wgpu::WgpuInitError::AdapterUnavailable;
    gpu_error(match err {
        AdapterUnavailable { .. } if platform::IN_BROWSER => "the browser offers no WebGPU \
            adapter: WebGPU is missing, switched off, or blocked for this GPU"
            .into(),
        AdapterUnavailable { message, .. } => format!(
            "no GPU adapter was found through Vulkan, Metal or DX12 ({message}); on Linux \
             without a GPU, install Mesa's lavapipe (mesa-vulkan-drivers)"
        ),
        other => other.to_string(),
    })
}

impl ComputeDevice {
    /// The CPU tier. Always available.
    pub fn cpu() -> Self {
        platform::run_constructors();
        Self {
            tier: Tier::Cpu,
            device: Device::flex(),
            adapter: None,
            precision: Precision::F32,
            setup: None,
        }
    }

    /// The GPU tier: acquires the platform's adapter the first time, then returns the same
    /// device. Fails with [`Error::DeviceInit`] when there is no usable adapter (in a browser:
    /// no WebGPU, or WebGPU switched off).
    pub async fn gpu() -> Result<Self> {
        platform::run_constructors();
        GPU.get_or_try_init(|| async {
            let (device, setup) = Device::wgpu_options()
                .graphics_api(platform::GRAPHICS_API)
                .init_with_setup_async()
                .await
                .map_err(init_error)?;
            Ok(Self::from_setup(device, &setup).await)
        })
        .await
        .cloned()
    }

    /// The GPU tier on a device that binds at most `max_binding` bytes per storage buffer
    /// (see `capped.rs`; WebGPU's default is 128 MiB), when it is the process's first GPU
    /// device; otherwise the device made first (one wgpu runtime per process), whose report
    /// says what it binds.
    pub async fn gpu_with_binding_limit(max_binding: u64) -> Result<Self> {
        platform::run_constructors();
        GPU.get_or_try_init(|| async {
            let setup = capped::setup(max_binding).await.map_err(gpu_error)?;
            let device = Device::wgpu_options()
                .setup(setup.clone())
                .init()
                .map_err(init_error)?;
            Ok(Self::from_setup(device, &setup).await)
        })
        .await
        .cloned()
    }

    /// The GPU tier's value for `device`, with the report of the setup it runs on.
    async fn from_setup(device: Device, setup: &burn::tensor::wgpu::WgpuSetup) -> Self {
        let mut adapter = AdapterReport::from_setup(setup);
        if let Some(info) = platform::browser_adapter_info().await {
            adapter.fill_from_browser(&info);
        }
        SOFTWARE_GPU.store(adapter.is_cpu, Ordering::Relaxed);
        Self {
            tier: Tier::Gpu,
            device,
            adapter: Some(adapter),
            precision: Precision::F32,
            setup: Some(setup.clone()),
        }
    }

    /// The tier asked for: [`Self::cpu`] or [`Self::gpu`].
    pub async fn new(tier: Tier) -> Result<Self> {
        match tier {
            Tier::Cpu => Ok(Self::cpu()),
            Tier::Gpu => Self::gpu().await,
        }
    }

    /// Which tier this is.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The burn device to create tensors and modules on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The same device with autodiff recording, for training.
    pub fn autodiff(&self) -> Device {
        self.device.clone().autodiff()
    }

    /// The most bytes one tensor may occupy on this device: the adapter's largest storage
    /// binding (and buffer); unbounded on the CPU tier.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.adapter.as_ref().map_or(u64::MAX, |a| {
            a.limits
                .max_storage_buffer_binding_size
                .min(a.limits.max_buffer_size)
        })
    }

    /// The float type this device's tensors are created in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// What the GPU adapter reports about itself; `None` on the CPU tier.
    pub fn adapter(&self) -> Option<&AdapterReport> {
        self.adapter.as_ref()
    }
}
