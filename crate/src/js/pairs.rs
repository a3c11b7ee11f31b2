//! Training pairs from the indexed documents in the JavaScript API: the open model writes
//! question/answer pairs about each passage (checked against it), and pairs — as written, or
//! as a person edited them — become chat JSONL to train on or download.

use js_sys::{Function, Promise};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::convert::{from_js, js_error, to_js};
use super::{Halt, Webtune, busy, settings, tell};
use crate::qa::{QaConfig, QaPair, to_jsonl};

/// `pairsJsonl`'s options.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct JsonlOptions {
    system: Option<String>,
    keep_passage: bool,
}

#[wasm_bindgen]
impl Webtune {
    /// Writes question/answer pairs about the indexed documents with the open model (its
    /// adapter off), `config` a `QaConfig`. `onEvent` hears each passage and each kept pair;
    /// [`Webtune::stop`] ends it after the current passage, keeping what was made. Resolves
    /// to the `QaReport` (kept pairs, dropped ones with reasons).
    #[wasm_bindgen(js_name = generatePairs, unchecked_return_type = "Promise<QaReport>")]
    pub fn generate_pairs(
        &self,
        #[wasm_bindgen(unchecked_param_type = "QaConfig | undefined")] config: JsValue,
        #[wasm_bindgen(js_name = onEvent, unchecked_param_type = "(event: QaEvent) => void")]
        on_event: Option<Function>,
    ) -> Promise {
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            let config: QaConfig = settings::settings_from_js(config, "pair settings")?;
            halt.set(Halt::None);
            let report = state
                .generate_pairs(None, &config, |event| tell(&on_event, &halt, event))
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// `pairs` (as `generatePairs` made them, questions and answers possibly edited) as chat
    /// JSONL to load with `loadDataset` or download; `options` = `{system, keepPassage}`
    /// (the passage as source `[1]`, as RAG asks).
    #[wasm_bindgen(js_name = pairsJsonl)]
    pub fn pairs_jsonl(
        &self,
        #[wasm_bindgen(unchecked_param_type = "QaPair[]")] pairs: JsValue,
        #[wasm_bindgen(
            unchecked_param_type = "{ system?: string; keepPassage?: boolean } | undefined"
        )]
        options: JsValue,
    ) -> Result<String, JsValue> {
        let pairs: Vec<QaPair> = from_js(pairs, "pairs")?;
        let options: JsonlOptions = from_js(options, "pair options")?;
        Ok(to_jsonl(
            &pairs,
            options.system.as_deref(),
            options.keep_passage,
        ))
    }
}
