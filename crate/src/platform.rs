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
}

/// Asks the browser for its adapter's identity (a second `requestAdapter`, which creates no
/// device). Works in a window and in a worker.
#[cfg(target_arch = "wasm32")]
pub async fn browser_adapter_info() -> Option<BrowserAdapterInfo> {
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok();
    let text = |target: &JsValue, key: &str| get(target, key).and_then(|v| v.as_string());
    let navigator = get(&js_sys::global().into(), "navigator")?;
    let gpu = get(&navigator, "gpu").filter(|gpu| !gpu.is_undefined())?;
    let request: Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = get(&adapter, "info").filter(|info| !info.is_undefined())?;
    Some(BrowserAdapterInfo {
        vendor: text(&info, "vendor").unwrap_or_default(),
        architecture: text(&info, "architecture").unwrap_or_default(),
        device: text(&info, "device").unwrap_or_default(),
        description: text(&info, "description").unwrap_or_default(),
    })
}

/// Outside a browser there is nothing to ask: wgpu reports the native adapter fully.
#[cfg(not(target_arch = "wasm32"))]
pub async fn browser_adapter_info() -> Option<BrowserAdapterInfo> {
    None
}
