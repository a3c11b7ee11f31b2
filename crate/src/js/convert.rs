//! The JavaScript edge: plain objects in and out (serde-wasm-bindgen, JSON-compatible), errors
//! as JS `Error`s with a machine-readable `kind`, and file lists (`File`s or `{name, data}`).

use js_sys::{Array, Reflect, Uint8Array};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;
use crate::platform::BlobSource;

/// A JS `Error` with `message` and `kind` (see [`Error::kind`]).
pub fn js_error(err: &Error) -> JsValue {
    error(err.kind(), &err.to_string())
}

/// A JS `Error` of `kind` saying `message`.
pub fn error(kind: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = Reflect::set(&e, &"kind".into(), &kind.into());
    e.into()
}

/// `value` as a plain JS object (maps become objects, 64-bit numbers become numbers).
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|err| {
            error(
                "internal",
                &format!("cannot pass a result to JavaScript: {err}"),
            )
        })
}

/// `value` (a plain object; `undefined` or `null` for the defaults) as `T`; `what` names it
/// in the error.
pub fn from_js<T: DeserializeOwned + Default>(value: JsValue, what: &str) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|err| {
        let problem = crate::train::explain_unknown_field(&err.to_string());
        error("input", &format!("{what}: {problem}"))
    })
}

/// Reads `key` of `object` as a string.
fn string(object: &JsValue, key: &str) -> Option<String> {
    Reflect::get(object, &key.into()).ok()?.as_string()
}

/// The files of a list: each a `File` (its own `name`) or `{name, data}` with `data` a `Blob`.
pub fn sources(files: &JsValue) -> Result<Vec<BlobSource>, JsValue> {
    if !Array::is_array(files) {
        return Err(error(
            "input",
            "expected an array of File objects or {name, data: Blob} objects",
        ));
    }
    let mut out = Vec::new();
    for item in Array::from(files).iter() {
        let name = string(&item, "name").ok_or_else(|| {
            error(
                "input",
                "every file needs a name (a File, or {name, data: Blob})",
            )
        })?;
        let data = Reflect::get(&item, &"data".into()).unwrap_or(JsValue::UNDEFINED);
        let blob = if data.is_undefined() { item } else { data };
        out.push(BlobSource::new(name, blob).map_err(|e| js_error(&e))?);
    }
    Ok(out)
}

/// `{name: Blob}` from named byte buffers.
pub fn blobs(files: Vec<(String, Vec<u8>)>) -> Result<JsValue, JsValue> {
    let object = js_sys::Object::new();
    // Typed as plain bytes: a browser then saves `Modelfile` under that name, where an
    // untyped blob it sniffs as text becomes `Modelfile.txt`.
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    for (name, bytes) in files {
        let parts = Array::of1(&Uint8Array::from(bytes.as_slice()));
        let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
        Reflect::set(&object, &name.into(), &blob)?;
    }
    Ok(object.into())
}

/// `{name: Uint8Array}` from named byte buffers (what OPFS writes take).
pub fn byte_arrays<'a>(files: impl Iterator<Item = (&'a String, &'a Vec<u8>)>) -> JsValue {
    let object = js_sys::Object::new();
    for (name, bytes) in files {
        let _ = Reflect::set(&object, &name.into(), &Uint8Array::from(bytes.as_slice()));
    }
    object.into()
}

/// Named byte buffers from `{name: Uint8Array | ArrayBuffer}`.
pub fn from_byte_arrays(object: &JsValue) -> Result<Vec<(String, Vec<u8>)>, JsValue> {
    let entries = js_sys::Object::entries(
        object
            .dyn_ref()
            .ok_or_else(|| error("input", "expected an object of file names to Uint8Arrays"))?,
    );
    let mut out = Vec::new();
    for entry in entries.iter() {
        let pair = Array::from(&entry);
        let name = pair.get(0).as_string().unwrap_or_default();
        out.push((name, Uint8Array::new(&pair.get(1)).to_vec()));
    }
    Ok(out)
}

/// Calls `callback` (when given) with `value` as a plain object; a callback that throws or a
/// value that does not convert is ignored (the operation goes on).
pub fn notify<T: Serialize>(callback: &Option<js_sys::Function>, value: &T) {
    if let (Some(f), Ok(value)) = (callback, to_js(value)) {
        let _ = f.call1(&JsValue::NULL, &value);
    }
}

/// Calls `callback` (when given) with streamed `text`.
pub fn send_text(callback: &Option<js_sys::Function>, text: &str) {
    if let Some(f) = callback {
        let _ = f.call1(&JsValue::NULL, &text.into());
    }
}

/// A file's name and text (datasets, questions).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NamedText {
    /// The file's name (for messages and format detection).
    pub name: String,
    /// Its text.
    pub text: String,
}
