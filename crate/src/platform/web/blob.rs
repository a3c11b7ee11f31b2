//! `Blob`s (a dropped `File`, a fetched response) as byte sources, read slice by slice.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, Result};
use crate::io::{ByteSource, check_range};

/// Calls `target[method](...args)` and awaits the promise it returns.
pub(crate) async fn call_async(
    target: &JsValue,
    method: &str,
    args: &[JsValue],
) -> Result<JsValue, String> {
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
