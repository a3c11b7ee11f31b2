//! Target-specific facts, in one place. Everything else in the library is written once for
//! every target; when code needs to know whether it runs in a browser, it asks here.

use burn::tensor::wgpu::WgpuBackend;

/// The graphics API the GPU tier asks wgpu for on this target.
///
/// In the browser there is only WebGPU. Natively wgpu picks the platform's API (Vulkan on
/// Linux — lavapipe on a machine without a GPU — Metal on macOS, DX12 on Windows); kernels are
/// compiled from WGSL on every target so that native runs exercise the shaders the page runs.
pub const GRAPHICS_API: WgpuBackend = if cfg!(target_arch = "wasm32") {
    WgpuBackend::WebGpu
} else {
    WgpuBackend::Auto
};

/// Whether this build runs inside a browser (wasm32).
pub const IN_BROWSER: bool = cfg!(target_arch = "wasm32");

/// Runs a future to completion on the current thread (native only; the page never blocks).
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    pollster::block_on(future)
}
