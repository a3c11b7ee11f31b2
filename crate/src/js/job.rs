//! Handing the fine-tune to bigger hardware from the page: `exportJob` writes the folder that
//! `webtune export-job` writes (TRL + PEFT under accelerate), as one ZIP download or as its
//! files (for a folder the person picks).

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::convert::{self, js_error};
use super::{Webtune, busy};

#[wasm_bindgen]
impl Webtune {
    /// The training job for `config` (a `TrainConfig`, as `train` takes it) on the loaded
    /// dataset, as `{"webtune-job.zip": Blob}`: the data as webtune renders it, in its order,
    /// the initial adapter, `job.json`, `train.py`, accelerate configs and a README; the same
    /// files as `webtune export-job`. `baseModel` names the base the job loads (a Hugging Face
    /// id such as `HuggingFaceTB/SmolLM2-135M-Instruct`; default: the opened file's name).
    /// With `archive` `false`, the files themselves, named by their path in the folder
    /// (`data/train.jsonl`, `initial_adapter/adapter_config.json`, …). Full and HFT runs and
    /// packing fail with kind `export`.
    #[wasm_bindgen(
        js_name = exportJob,
        unchecked_return_type = "Promise<Record<string, Blob>>"
    )]
    pub fn export_job(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainConfig | undefined")] config: JsValue,
        #[wasm_bindgen(js_name = baseModel)] base_model: Option<String>,
        archive: Option<bool>,
    ) -> Promise {
        locked!(self.state, |state| {
            let config = super::settings::train_config(config, &state)?;
            let files = state
                .export_job(config, base_model.as_deref())
                .await
                .map_err(|e| js_error(&e))?;
            if archive == Some(false) {
                return convert::blobs(files);
            }
            let zip = crate::io::zip::stored(&files).map_err(|e| js_error(&e))?;
            convert::blobs(vec![("webtune-job.zip".into(), zip)])
        })
    }
}
