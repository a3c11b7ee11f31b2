//! webtune's JavaScript API: one [`Webtune`] object per page or worker that opens a model from
//! `File`s or `Blob`s, loads a dataset and reports on it, trains (LoRA, DoRA, full or HFT) with
//! an event callback and stop / pause / resume, evaluates, generates with the adapter on or
//! off, and exports or imports the adapter. Options, reports and events are plain objects
//! (the same serde types the CLI uses: `TrainConfig`, `DataReport`, `Event`, …); failures are
//! JS `Error`s whose `kind` says what went wrong (see [`crate::Error::kind`]).
//!
//! Every method returns a promise. One operation runs at a time: a call made while another
//! is running (other than [`Webtune::stop`]) fails with kind `busy`.

mod convert;
mod session;
mod typescript;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_lock::Mutex;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::device::{ComputeDevice, Tier};
use crate::train::Checkpoint;
use convert::{error, js_error, to_js};
use session::State;

/// The webtune engine for JavaScript (see the module docs and the README's example).
#[wasm_bindgen]
pub struct Webtune {
    state: Shared,
    /// Set by `stop()`/`pause()`; the run checks it after every step.
    stop: Rc<Cell<bool>>,
    /// The latest checkpoint (written every `checkpoint_every` steps and when stopped).
    checkpoint: Rc<RefCell<Option<Checkpoint>>>,
}

/// The state, held by one operation at a time.
pub(crate) type Shared = Rc<Mutex<State>>;

fn busy() -> JsValue {
    error(
        "busy",
        "another webtune operation is still running on this object",
    )
}

/// A promise of `$body`, run with `$state` (a [`Shared`]) locked as `$guard`; it fails with
/// kind `busy` when another operation holds the state.
macro_rules! locked {
    ($state:expr, |$guard:ident| $body:expr) => {{
        let shared: $crate::platform::web::api::Shared = $state.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            #[allow(unused_mut)]
            let mut $guard = shared.try_lock().ok_or_else(busy)?;
            $body
        })
    }};
}

// After `locked!`, which it uses.
mod rag;

#[wasm_bindgen]
impl Webtune {
    /// Makes the engine on `tier` (`"gpu"`, the default: WebGPU; or `"cpu"`). Resolves to a
    /// `Webtune`; fails with kind `device` when WebGPU is missing.
    #[wasm_bindgen(unchecked_return_type = "Promise<Webtune>")]
    pub fn create(tier: Option<String>) -> Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let device = match tier.as_deref() {
                Some("cpu") => ComputeDevice::cpu(),
                None | Some("gpu") => ComputeDevice::new(Tier::Gpu)
                    .await
                    .map_err(|e| js_error(&e))?,
                Some(other) => {
                    return Err(error(
                        "input",
                        &format!("unknown tier {other:?}: use \"gpu\" or \"cpu\""),
                    ));
                }
            };
            Ok(Webtune {
                state: Rc::new(Mutex::new(State::new(device))),
                stop: Rc::new(Cell::new(false)),
                checkpoint: Rc::new(RefCell::new(None)),
            }
            .into())
        })
    }

    /// The device: `{tier, adapter, max_tensor_bytes}`.
    #[wasm_bindgen(unchecked_return_type = "DeviceInfo")]
    pub fn device(&self) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        to_js(&state.device_info())
    }

    /// Opens a model from files: one GGUF file, or a Hugging Face folder's files
    /// (`config.json`, `*.safetensors`, `tokenizer.json`, …), each a `File` or
    /// `{name, data: Blob}`. Tensors are read with `Blob.slice`, never whole files. With
    /// `quantize`, linear layers stay in 4-bit blocks (QLoRA-style). `precision` is `"f32"`
    /// or `"f16"`; without it, f16 where the GPU has `shader-f16` (half the memory; LoRA
    /// weights stay f32), else f32. Resolves to its `ModelInfo`.
    #[wasm_bindgen(
        js_name = openModel,
        unchecked_return_type = "Promise<ModelInfo>"
    )]
    pub fn open_model(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
        quantize: Option<bool>,
        #[wasm_bindgen(unchecked_param_type = "\"f32\" | \"f16\" | undefined")] precision: Option<
            String,
        >,
    ) -> Promise {
        locked!(self.state, |state| {
            let sources = convert::sources(&files)?;
            let precision = precision
                .map(|p| p.parse::<crate::device::Precision>())
                .transpose()
                .map_err(|problem| error("input", &problem))?;
            let info = state
                .open_model(sources, quantize.unwrap_or(false), precision)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&info)
        })
    }

    /// What is open: `ModelInfo`, or `null` before [`Webtune::open_model`].
    #[wasm_bindgen(js_name = modelInfo, unchecked_return_type = "ModelInfo | null")]
    pub fn model_info(&self) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        match state.model_info() {
            Some(info) => to_js(&info),
            None => Ok(JsValue::NULL),
        }
    }

    /// Reads a dataset (`text` of the file called `name`: JSONL in any supported format, or
    /// CSV), tokenizes it with the open model's template, splits off validation (or takes
    /// `validation` = `{name, text}`), and resolves to its `DataReport`.
    #[wasm_bindgen(
        js_name = loadDataset,
        unchecked_return_type = "Promise<DataReport>"
    )]
    pub fn load_dataset(
        &self,
        name: String,
        text: String,
        #[wasm_bindgen(unchecked_param_type = "DataOptions | undefined")] options: JsValue,
        #[wasm_bindgen(unchecked_param_type = "{name: string, text: string} | undefined")]
        validation: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let options = convert::from_js(options, "data options")?;
            let validation: Option<session::NamedText> =
                convert::from_js::<Option<session::NamedText>>(validation, "validation")?;
            let report = state
                .load_dataset(&name, &text, validation, &options)
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Predicts the memory of training with `config` (a `TrainConfig`) on the loaded dataset:
    /// weights, optimizer state, activations, logits, the total, whether it fits `budget`
    /// bytes (default: wasm's 4 GiB on the CPU tier; none known on WebGPU) and the device's
    /// largest binding, and when it does not, configurations that would. `train` refuses a
    /// run that does not fit with kind `too_large`.
    #[wasm_bindgen(unchecked_return_type = "MemoryPlan")]
    pub fn plan(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainConfig | undefined")] config: JsValue,
        budget: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        let config = convert::from_js(config, "training config")?;
        let plan = state
            .plan(&config, budget.map(|b| b as u64))
            .map_err(|e| js_error(&e))?;
        to_js(&plan)
    }

    /// Bytes of this module's WebAssembly memory: its high-water mark, since wasm memory only
    /// grows (on the CPU tier it holds the model and the run; on WebGPU the device holds them).
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> f64 {
        super::wasm_memory_bytes() as f64
    }

    /// Trains on the loaded dataset with `config` (a `TrainConfig`; missing fields take their
    /// defaults), calling `onEvent(event)` with every `Event` (`started`, `step`, `eval`,
    /// `checkpoint`, `finished`). Resolves to the list of events when the run ends (completed,
    /// early-stopped, or stopped by [`Webtune::stop`]).
    #[wasm_bindgen(unchecked_return_type = "Promise<TrainEvent[]>")]
    pub fn train(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainConfig | undefined")] config: JsValue,
        #[wasm_bindgen(js_name = onEvent, unchecked_param_type = "(event: TrainEvent) => void")]
        on_event: Option<Function>,
    ) -> Promise {
        let (stop, checkpoint) = (self.stop.clone(), self.checkpoint.clone());
        locked!(self.state, |state| {
            let config = convert::from_js(config, "training config")?;
            stop.set(false);
            let log = state
                .train(config, None, on_event, stop, checkpoint)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&log)
        })
    }

    /// Asks the running training to stop after its current step; it saves a checkpoint first
    /// (see [`Webtune::resume`]).
    pub fn stop(&self) {
        self.stop.set(true);
    }

    /// The same as [`Webtune::stop`]: the run can go on with [`Webtune::resume`].
    pub fn pause(&self) {
        self.stop.set(true);
    }

    /// Continues the run of the latest checkpoint (from a pause, or one restored with
    /// [`Webtune::restore_checkpoint`] after a reload) on the same trajectory.
    #[wasm_bindgen(unchecked_return_type = "Promise<TrainEvent[]>")]
    pub fn resume(
        &self,
        #[wasm_bindgen(js_name = onEvent, unchecked_param_type = "(event: TrainEvent) => void")]
        on_event: Option<Function>,
    ) -> Promise {
        let (stop, checkpoint) = (self.stop.clone(), self.checkpoint.clone());
        locked!(self.state, |state| {
            let saved = checkpoint
                .borrow()
                .clone()
                .ok_or_else(|| error("checkpoint", "there is no checkpoint to resume from"))?;
            let config = saved.state().map_err(|e| js_error(&e))?.config;
            stop.set(false);
            let log = state
                .train(config, Some(saved), on_event, stop, checkpoint)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&log)
        })
    }

    /// The latest checkpoint as `{file name: Uint8Array}` (to keep in OPFS), or `null`.
    #[wasm_bindgen(
        js_name = checkpointFiles,
        unchecked_return_type = "Record<string, Uint8Array> | null"
    )]
    pub fn checkpoint_files(&self) -> JsValue {
        match &*self.checkpoint.borrow() {
            Some(c) => convert::byte_arrays(c.files.iter()),
            None => JsValue::NULL,
        }
    }

    /// Takes a checkpoint saved by [`Webtune::checkpoint_files`] (after a reload, say) so that
    /// [`Webtune::resume`] continues it. Resolves to the step it holds.
    #[wasm_bindgen(
        js_name = restoreCheckpoint,
        unchecked_return_type = "number"
    )]
    pub fn restore_checkpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Record<string, Uint8Array>")] files: JsValue,
    ) -> Result<JsValue, JsValue> {
        let checkpoint = Checkpoint {
            files: convert::from_byte_arrays(&files)?.into_iter().collect(),
        };
        let step = checkpoint.state().map_err(|e| js_error(&e))?.step;
        *self.checkpoint.borrow_mut() = Some(checkpoint);
        Ok((step as f64).into())
    }

    /// Validation loss and perplexity of the model as it is (adapter on), and with
    /// `exactMatch`, greedy answers' exact-match accuracy on the validation conversations.
    #[wasm_bindgen(unchecked_return_type = "Promise<Evaluation>")]
    pub fn evaluate(&self, exact_match: Option<bool>) -> Promise {
        locked!(self.state, |state| {
            let report = state
                .evaluate(exact_match.unwrap_or(false))
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Answers `prompt` (through the chat template unless `options.raw`), calling
    /// `onText(text)` as text arrives; `options.adapter = false` answers with the base model.
    /// Resolves to `{text, tokens, stop}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Generation>")]
    pub fn generate(
        &self,
        prompt: String,
        #[wasm_bindgen(unchecked_param_type = "GenerateOptions | undefined")] options: JsValue,
        #[wasm_bindgen(js_name = onText, unchecked_param_type = "(text: string) => void")]
        on_text: Option<Function>,
    ) -> Promise {
        locked!(self.state, |state| {
            let options = convert::from_js(options, "generation options")?;
            let out = state
                .generate(&prompt, &options, on_text)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&out)
        })
    }

    /// The trained result as `{file name: Blob}`: a PEFT adapter (`adapter_config.json`,
    /// `adapter_model.safetensors`) after LoRA/DoRA, a Hugging Face checkpoint
    /// (`config.json`, `model.safetensors`) after full or HFT training.
    #[wasm_bindgen(
        js_name = exportAdapter,
        unchecked_return_type = "Promise<Record<string, Blob>>"
    )]
    pub fn export_adapter(&self) -> Promise {
        locked!(self.state, |state| {
            let files = state.export().await.map_err(|e| js_error(&e))?;
            convert::blobs(files)
        })
    }

    /// Attaches a PEFT adapter (`adapter_config.json` and `adapter_model.safetensors`, as
    /// `File`s or `{name, data}`) to the open model. Resolves to the adapted layers' count.
    #[wasm_bindgen(
        js_name = importAdapter,
        unchecked_return_type = "Promise<number>"
    )]
    pub fn import_adapter(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let sources = convert::sources(&files)?;
            let layers = state
                .import_adapter(sources)
                .await
                .map_err(|e| js_error(&e))?;
            Ok((layers as f64).into())
        })
    }
}
