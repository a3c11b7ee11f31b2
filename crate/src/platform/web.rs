//! Browser-only pieces: the adapter's identity, and `Blob`s as byte sources.

use super::BrowserAdapterInfo;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};
use crate::io::{ByteSource, check_range};

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
    Some(BrowserAdapterInfo {
        vendor: text(&info, "vendor").unwrap_or_default(),
        architecture: text(&info, "architecture").unwrap_or_default(),
        device: text(&info, "device").unwrap_or_default(),
        description: text(&info, "description").unwrap_or_default(),
    })
}

/// Calls `target[method](...args)` and awaits the promise it returns.
async fn call_async(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let describe = |err: JsValue| {
        err.as_string()
            .or_else(|| Reflect::get(&err, &"message".into()).ok()?.as_string())
            .unwrap_or_else(|| format!("{err:?}"))
    };
    let function: Function = Reflect::get(target, &method.into())
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| format!("{method} is not a function"))?;
    let array: js_sys::Array = args.iter().collect();
    let promise: Promise = function
        .apply(target, &array)
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| format!("{method} did not return a promise"))?;
    JsFuture::from(promise).await.map_err(describe)
}

/// A `Blob` (a `File` the person chose, a fetched response's body), read slice by slice with
/// `Blob.slice().arrayBuffer()`: only the requested bytes enter wasm memory.
#[derive(Debug, Clone)]
pub struct BlobSource {
    name: String,
    blob: JsValue,
    len: u64,
}

impl BlobSource {
    /// Wraps `blob` (any object with `size` and `slice`), calling it `name` in errors.
    pub fn new(name: impl Into<String>, blob: JsValue) -> Result<Self> {
        let name = name.into();
        let len = Reflect::get(&blob, &"size".into())
            .ok()
            .and_then(|v| v.as_f64())
            .ok_or_else(|| Error::Checkpoint {
                file: name.clone(),
                problem: "is not a Blob or File (it has no size)".into(),
            })?;
        Ok(Self {
            name,
            blob,
            len: len as u64,
        })
    }

    /// Fetches `url` (same-origin or any URL the page may read) and keeps its body as a
    /// `Blob`, which the browser holds outside wasm memory.
    pub async fn fetch(url: &str) -> Result<Self> {
        let fail = |problem: String| Error::Checkpoint {
            file: url.to_string(),
            problem,
        };
        let global: JsValue = js_sys::global().into();
        let response = call_async(&global, "fetch", &[url.into()])
            .await
            .map_err(|err| fail(format!("could not be fetched: {err}")))?;
        let ok = Reflect::get(&response, &"ok".into())
            .ok()
            .and_then(|v| v.as_bool());
        if ok != Some(true) {
            let status = Reflect::get(&response, &"status".into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            return Err(fail(format!("the server answered {status}")));
        }
        let blob = call_async(&response, "blob", &[])
            .await
            .map_err(|err| fail(format!("could not be read: {err}")))?;
        let name = url.rsplit('/').next().unwrap_or(url);
        Self::new(name, blob)
    }
}

impl ByteSource for BlobSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> u64 {
        self.len
    }

    async fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        check_range(&self.name, offset, len, self.len)?;
        let end = offset + len as u64;
        let slice = Reflect::get(&self.blob, &"slice".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .and_then(|f| {
                f.call2(&self.blob, &(offset as f64).into(), &(end as f64).into())
                    .ok()
            })
            .ok_or_else(|| Error::Checkpoint {
                file: self.name.clone(),
                problem: "cannot be sliced".into(),
            })?;
        let buffer = call_async(&slice, "arrayBuffer", &[])
            .await
            .map_err(|err| Error::Checkpoint {
                file: self.name.clone(),
                problem: format!("bytes {offset}..{end} could not be read: {err}"),
            })?;
        Ok(Uint8Array::new(&buffer).to_vec())
    }
}

/// Seconds since an arbitrary fixed point, for measuring durations (`Date.now()` in the
/// browser, where `std::time::Instant` panics).
pub fn seconds_now() -> f64 {
    js_sys::Date::now() / 1000.0
}
