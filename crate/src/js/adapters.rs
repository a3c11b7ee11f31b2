//! Several adapters on one open model in the JavaScript API: keep a PEFT adapter by name
//! (`loadAdapter`), list and forget them; `generate` takes `{adapter_name, adapter_scale}` to
//! answer with one, without loading the base again; and a kept adapter's files (a finished
//! run's, from the page's storage) in one ZIP (`zipFiles`).

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::convert::{self, js_error, to_js};
use super::{Webtune, adapter_files, busy};
use crate::io::ByteSource;
use crate::models::checkpoint::base_name;

#[wasm_bindgen]
impl Webtune {
    /// Keeps a PEFT adapter (`adapter_config.json` and `adapter_model.safetensors`, as
    /// `File`s or `{name, data}`) as `name` beside the open model, which is left as it is.
    /// Resolves to `{name, r, layers, bytes}` (`bytes`: the device memory it takes).
    #[wasm_bindgen(
        js_name = loadAdapter,
        unchecked_return_type = "Promise<AdapterSummary>"
    )]
    pub fn load_adapter(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let sources = convert::sources(&files)?;
            let (config, weights) = adapter_files(&sources).await.map_err(|e| js_error(&e))?;
            let kept = state
                .load_adapter(&name, &config, weights)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&kept)
        })
    }

    /// The adapters kept, in the order loaded.
    #[wasm_bindgen(unchecked_return_type = "AdapterSummary[]")]
    pub fn adapters(&self) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        to_js(&state.adapters())
    }

    /// `files` (`File`s or `{name, data}`: a finished run's kept adapter) in one ZIP named
    /// `name`, as `{name: Blob}` — what `exportAdapter(false, true)` gives for the model's own
    /// adapter, for one download. Each file keeps its base name.
    #[wasm_bindgen(
        js_name = zipFiles,
        unchecked_return_type = "Promise<Record<string, Blob>>"
    )]
    pub fn zip_files(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
    ) -> Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let mut entries = Vec::new();
            for source in convert::sources(&files)? {
                // Past wasm32's address space it could not be held, let alone zipped.
                let len = usize::try_from(source.len()).map_err(|_| {
                    convert::error("too_large", &format!("{}: too large to zip", source.name()))
                })?;
                let bytes = source.read(0, len).await.map_err(|e| js_error(&e))?;
                entries.push((base_name(&source).to_string(), bytes));
            }
            let zip = crate::io::zip::stored(&entries).map_err(|e| js_error(&e))?;
            convert::blobs(vec![(name, zip)])
        })
    }

    /// Forgets the adapter kept as `name`.
    #[wasm_bindgen(js_name = removeAdapter)]
    pub fn remove_adapter(&self, name: String) -> Result<(), JsValue> {
        let mut state = self.state.try_lock().ok_or_else(busy)?;
        state.remove_adapter(&name).map_err(|e| js_error(&e))
    }
}
