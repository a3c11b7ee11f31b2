//! Several adapters on one open model in the JavaScript API: keep a PEFT adapter by name
//! (`loadAdapter`), list and forget them; `generate` takes `{adapter_name, adapter_scale}` to
//! answer with one, without loading the base again.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::convert::{self, js_error, to_js};
use super::{Webtune, adapter_files, busy};

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

    /// Forgets the adapter kept as `name`.
    #[wasm_bindgen(js_name = removeAdapter)]
    pub fn remove_adapter(&self, name: String) -> Result<(), JsValue> {
        let mut state = self.state.try_lock().ok_or_else(busy)?;
        state.remove_adapter(&name).map_err(|e| js_error(&e))
    }
}
