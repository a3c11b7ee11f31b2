//! Target-specific code, in one place. Everything else in the library is written once for
//! every target; when code needs to know whether it runs in a browser, it asks here.
//!
//! Natively ([`native`]): `block_on`, and [`FileSource`], a file read range by range. In the
//! browser ([`web`]): the adapter's identity from `GPUAdapter.info`, and [`BlobSource`], a
//! `Blob` (a dropped `File`, a fetched response) read slice by slice, so that a model is never
//! copied whole into wasm memory. Both sources implement [`crate::io::ByteSource`].

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(not(target_arch = "wasm32"))]
pub use native::*;
#[cfg(target_arch = "wasm32")]
pub use web::*;

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

/// The wgpu backends a device made by hand (`device::capped`) may use on this target.
pub const WGPU_BACKENDS: burn::tensor::wgpu::wgpu::Backends = if cfg!(target_arch = "wasm32") {
    burn::tensor::wgpu::wgpu::Backends::BROWSER_WEBGPU
} else {
    burn::tensor::wgpu::wgpu::Backends::PRIMARY
};

/// Whether this build runs inside a browser (wasm32).
pub const IN_BROWSER: bool = cfg!(target_arch = "wasm32");

/// What the browser says about its WebGPU adapter (`GPUAdapter.info`), which wgpu's browser
/// backend does not pass on. `None` outside a browser or when WebGPU is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrowserAdapterInfo {
    /// `GPUAdapterInfo.vendor` ("google", "nvidia", …).
    pub vendor: String,
    /// `GPUAdapterInfo.architecture` ("swiftshader", "ampere", …).
    pub architecture: String,
    /// `GPUAdapterInfo.device`.
    pub device: String,
    /// `GPUAdapterInfo.description`: a human-readable name, often empty.
    pub description: String,
    /// `GPUAdapterInfo.isFallbackAdapter`: the browser says the adapter is a software one.
    pub is_fallback: bool,
}
