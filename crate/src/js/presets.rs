//! Starting points and their sizes: the table of every setting of a run (`trainFields`),
//! planner-sized presets (`presets`), how long a run is (`runLength`), and the better models
//! the page offers (`modelPresets`) with what one would take here before it is fetched
//! (`sizeUp`).

use wasm_bindgen::prelude::*;

use super::convert::{js_error, to_js};
use super::{Webtune, busy, settings};

#[wasm_bindgen]
impl Webtune {
    /// Every setting of a run, as a form shows it: `{path, label, help, kind, optional,
    /// stage, when, default}` in the order to show them (see `webtune::train::fields`).
    #[wasm_bindgen(js_name = trainFields, unchecked_return_type = "TrainField[]")]
    pub fn train_fields(&self) -> Result<JsValue, JsValue> {
        to_js(&crate::train::fields())
    }

    /// Quick, balanced and thorough runs on the open model and the loaded dataset, each sized
    /// by the memory planner for this device against `budget` bytes (default: as `plan`):
    /// `{name, purpose, config, length, plan}`.
    #[wasm_bindgen(unchecked_return_type = "Preset[]")]
    pub fn presets(&self, budget: Option<f64>) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        let presets = state
            .presets(budget.map(|b| b as u64))
            .map_err(|e| js_error(&e))?;
        to_js(&presets)
    }

    /// How long a run of `config` (a `TrainConfig`) is on the loaded dataset: `{steps,
    /// steps_per_epoch, train_rows, rows_per_step, ended_by, summary}`; the summary says when
    /// the epochs end the run before its `max_steps`.
    #[wasm_bindgen(js_name = runLength, unchecked_return_type = "RunLength")]
    pub fn run_length(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainConfig | undefined")] config: JsValue,
    ) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        let config = settings::train_config(config, &state)?;
        let length = state.run_length(&config).map_err(|e| js_error(&e))?;
        to_js(&length)
    }

    /// Better small models than the default on the Hugging Face hub: `{repo, note}`.
    #[wasm_bindgen(js_name = modelPresets, unchecked_return_type = "HubModel[]")]
    pub fn model_presets(&self) -> Result<JsValue, JsValue> {
        to_js(&crate::session::MODEL_PRESETS)
    }

    /// What the model whose `config.json` is `configJson` (named `name` in messages) would
    /// take on this device before its weights are fetched: `{name, architecture, parameters,
    /// weight_bytes, precision, opens, problem, training, summary}`, `training` being the
    /// memory plan of a LoRA run of rank 8 at batch 2 on rows of `seqLen` tokens.
    #[wasm_bindgen(js_name = sizeUp, unchecked_return_type = "ModelFit")]
    pub fn size_up(
        &self,
        name: String,
        #[wasm_bindgen(js_name = configJson)] config_json: String,
        quantize: Option<bool>,
        #[wasm_bindgen(js_name = seqLen)] seq_len: Option<usize>,
    ) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        let fit = state
            .size_up(
                &name,
                config_json.as_bytes(),
                quantize.unwrap_or(false),
                seq_len.unwrap_or(128),
            )
            .map_err(|e| js_error(&e))?;
        to_js(&fit)
    }
}
