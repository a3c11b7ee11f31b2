//! Browser-only pieces: the module's constructors, the adapter's identity, `Blob`s as byte
//! sources ([`BlobSource`]), the clock, yielding to the event loop, and the size of wasm
//! memory.

mod blob;

pub use blob::BlobSource;

use super::BrowserAdapterInfo;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Runs the static constructors of this WebAssembly module once (cubecl and pliron register
/// ~4,900 kernel-compiler types through `inventory`).
///
/// Without an explicit call, the linker (wasm-ld) treats the module as a "command" and runs
/// every constructor at the start of *every* exported function — each call from JavaScript into
/// wasm, which in the engine means every kernel launch's callbacks: ~8 ms per launch in
/// headless Chromium, most of what a WebGPU decode cost. Referencing `__wasm_call_ctors` here
/// is what tells wasm-ld not to; so every way into the engine must call this first
/// ([`crate::ComputeDevice`]'s constructors do).
#[allow(unsafe_code)]
pub fn run_constructors() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `__wasm_call_ctors` is the linker's function that runs the module's
    // constructors; `Once` runs it exactly once, before anything reads what they register.
    ONCE.call_once(|| unsafe { __wasm_call_ctors() });
}

/// Asks the browser for its adapter's identity (a second `requestAdapter`, which creates no
/// device). Works in a window and in a worker.
pub async fn browser_adapter_info() -> Option<BrowserAdapterInfo> {
    let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok();
    let text = |target: &JsValue, key: &str| get(target, key).and_then(|v| v.as_string());
    let navigator = get(&js_sys::global().into(), "navigator")?;
    let gpu = get(&navigator, "gpu").filter(|gpu| !gpu.is_undefined())?;
    let request: Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise).await.ok()?;
    let info = get(&adapter, "info").filter(|info| !info.is_undefined())?;
    // Newer browsers say it on `info`, older ones on the adapter.
    let fallback = |target: &JsValue| get(target, "isFallbackAdapter").and_then(|v| v.as_bool());
    Some(BrowserAdapterInfo {
        is_fallback: fallback(&info)
            .or_else(|| fallback(&adapter))
            .unwrap_or(false),
        vendor: text(&info, "vendor").unwrap_or_default(),
        architecture: text(&info, "architecture").unwrap_or_default(),
        device: text(&info, "device").unwrap_or_default(),
        description: text(&info, "description").unwrap_or_default(),
    })
}

/// Seconds since an arbitrary fixed point, for measuring durations (`Date.now()` in the
/// browser, where `std::time::Instant` panics).
pub fn seconds_now() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// Runs `f` on `data` in chunks of `chunk` elements, one after another (a wasm worker has
/// one thread).
pub fn for_each_chunk<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(&mut [T]) + Send + Sync) {
    data.chunks_mut(chunk.max(1)).for_each(f);
}

/// Lets the browser's event loop run (a `setTimeout(0)` turn): between training steps, so that
/// messages (`stop`, `pause`) reach a worker and a page stays responsive even when the CPU
/// tier computes without ever awaiting the GPU.
pub async fn yield_now() {
    let global: JsValue = js_sys::global().into();
    let Some(set_timeout) = Reflect::get(&global, &"setTimeout".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
    else {
        return;
    };
    let promise = Promise::new(&mut |resolve, _| {
        let _ = set_timeout.call2(&global, &resolve, &JsValue::from(0));
    });
    let _ = JsFuture::from(promise).await;
}

/// The machine's memory: a browser does not tell (the CPU tier plans for wasm32's 4 GiB).
pub fn host_memory_bytes() -> Option<u64> {
    None
}

/// Bytes of this module's WebAssembly memory (it only grows, so this is its high-water mark).
pub fn wasm_memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .dyn_into::<js_sys::ArrayBuffer>()
                .map_or(0, |b| b.byte_length())
        })
        .map_or(0, u64::from)
}
