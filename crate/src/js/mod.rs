//! webtune's JavaScript API: one [`Webtune`] object per page or worker, a translation of JS
//! values to and from a [`Session`] (the application layer, which decides everything). It
//! opens a model from `File`s or `Blob`s, loads a dataset and reports on it, trains (LoRA,
//! DoRA, full or HFT) with an event callback and stop / pause / resume, evaluates, generates
//! with the adapter on or off, exports or imports the adapter, and does retrieval and the
//! advisor ([`rag`]). Options, reports and events are plain objects (the same serde types the
//! CLI prints: `TrainConfig`, `DataReport`, `Event`, `Evaluation`, …); failures are JS
//! `Error`s whose `kind` says what went wrong (see [`crate::Error::kind`]).
//!
//! Every method returns a promise. One operation runs at a time: a call made while another
//! is running (other than [`Webtune::stop`] and [`Webtune::pause`]) fails with kind `busy`.

mod convert;
mod settings;
mod typescript;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_lock::Mutex;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::data::PreviewStart;
use crate::flow::Flow;
use crate::io::ByteSource;
use crate::platform::BlobSource;
use crate::session::{EvalData, ExportKind, OpenOptions, Session, TierRequest};
use crate::train::Checkpoint;
use convert::{error, js_error, notify, send_text, to_js};

/// The webtune engine for JavaScript (see the module docs and the README's example).
#[wasm_bindgen]
pub struct Webtune {
    state: Shared,
    /// Set by `stop()`/`pause()`; the run checks it after every step.
    stop: Rc<Cell<Halt>>,
    /// The latest checkpoint (written every `checkpoint_every` steps and when stopped).
    checkpoint: Rc<RefCell<Option<Checkpoint>>>,
}

/// The session, held by one operation at a time.
pub(crate) type Shared = Rc<Mutex<Session>>;

/// What `stop()` and `pause()` asked of a running training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// Nothing: go on.
    None,
    /// Stop after this step, keeping the checkpoint so that `resume` continues.
    Pause,
    /// Stop after this step; the run is over (its checkpoint is dropped: `resume` has nothing
    /// to continue, and the trained result stays on the model for export).
    Stop,
}

/// The name a model or encoder is called by: its first file's name (a folder's name for the
/// folder's files).
fn first_name(files: &[BlobSource], folder: bool) -> String {
    let name = files.first().map(|f| f.name()).unwrap_or_default();
    match folder {
        true => name.split('/').next().unwrap_or_default().to_string(),
        false => name.to_string(),
    }
}

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
        let shared: $crate::js::Shared = $state.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            #[allow(unused_mut)]
            let mut $guard = shared.try_lock().ok_or_else(busy)?;
            $body
        })
    }};
}

// After `locked!`, which it uses.
mod adapters;
mod job;
mod pairs;
mod presets;
mod rag;

#[wasm_bindgen]
impl Webtune {
    /// Makes the engine on `tier`: `"auto"` (the default: WebGPU unless the browser has none
    /// or its adapter is a software renderer such as SwiftShader, then this tab's CPU, with
    /// `device().tier_note` saying why), `"gpu"` (WebGPU, even a software one) or `"cpu"`.
    /// Resolves to a `Webtune`; fails with kind `device` when `"gpu"` finds no WebGPU.
    #[wasm_bindgen(unchecked_return_type = "Promise<Webtune>")]
    pub fn create(tier: Option<String>) -> Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let request: TierRequest = tier
                .as_deref()
                .unwrap_or("auto")
                .parse()
                .map_err(|e| js_error(&e))?;
            let session = Session::on(request).await.map_err(|e| js_error(&e))?;
            Ok(Webtune {
                state: Rc::new(Mutex::new(session)),
                stop: Rc::new(Cell::new(Halt::None)),
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
            let options = OpenOptions {
                quantize: quantize.unwrap_or(false),
                precision,
                ..Default::default()
            };
            let name = first_name(&sources, false);
            let info = state
                .open_model(&name, sources, &options)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&info)
        })
    }

    /// Runs the self-check on the engine's device: a small network's forward and backward
    /// pass there and on the CPU, which must agree. Resolves to `SelfCheck`; fails with kind
    /// `mismatch` when the device computes something else.
    #[wasm_bindgen(js_name = selfCheck, unchecked_return_type = "Promise<SelfCheck>")]
    pub fn self_check(&self) -> Promise {
        locked!(self.state, |state| {
            let report = state.self_check().await.map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Times a LoRA training step and generated tokens on the open model (random tokens; the
    /// model and its adapters are unchanged) and counts the GPU kernels each launches
    /// (`config`: a `BenchConfig`, every field optional). Resolves to `BenchReport`;
    /// [`Webtune::stop`] ends it after the step or token in hand (an error of kind `stopped`).
    #[wasm_bindgen(unchecked_return_type = "Promise<BenchReport>")]
    pub fn bench(
        &self,
        #[wasm_bindgen(unchecked_param_type = "BenchConfig | undefined")] config: JsValue,
    ) -> Promise {
        let config: Result<crate::bench::BenchConfig, JsValue> =
            settings::settings_from_js(config, "bench config");
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            halt.set(Halt::None);
            let report = state
                .bench(&config?, || go_on(&halt))
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Compiles the GPU kernels a run of `config` (a `TrainConfig`, as for `train`) and an
    /// answer need on the open model, ahead of them — the page runs it while a person chooses
    /// the run's settings. Resolves to `WarmUp`: `ran` false, with the reason, where it would
    /// not pay (the CPU tier, a software renderer). It holds the engine only to take the
    /// model, so other calls run meanwhile; [`Webtune::stop`] ends it after its training step
    /// (an error of kind `stopped`).
    #[wasm_bindgen(js_name = warmUp, unchecked_return_type = "Promise<WarmUp>")]
    pub fn warm_up(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainConfig | undefined")] config: JsValue,
    ) -> Promise {
        let shared = self.state.clone();
        let halt = self.stop.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let task = {
                let state = shared.try_lock().ok_or_else(busy)?;
                let config = settings::train_config(config, &state)?;
                state.warm_up_task(&config).map_err(|e| js_error(&e))?
            };
            let done = match task {
                Ok(task) => {
                    halt.set(Halt::None);
                    task.run(|| go_on(&halt)).await.map_err(|e| js_error(&e))?
                }
                Err(skipped) => skipped,
            };
            to_js(&done)
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
            let options = settings::settings_from_js(options, "data options")?;
            let validation: Option<convert::NamedText> =
                convert::from_js::<Option<convert::NamedText>>(validation, "validation")?;
            let validation = validation
                .as_ref()
                .map(|v| (v.name.as_str(), v.text.as_str()));
            let report = state
                .load_dataset(&name, &text, validation, &options)
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Rows `offset..offset + limit` of the loaded dataset as the model sees them (the chat
    /// template rendered, special tokens shown) in trained and untrained spans, with each
    /// row's line, split and whether it was cut. Resolves to `{total, offset, rows}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Preview>")]
    pub fn preview(&self, offset: usize, limit: usize) -> Promise {
        self.preview_from(PreviewStart::Row(offset), limit)
    }

    /// `limit` rows of the preview from the first row of `line` in the file (a line the data
    /// report names: a repeat, a leak, a cut row), or of the next line that has one; the
    /// page's `offset` says where that is.
    #[wasm_bindgen(js_name = previewLine, unchecked_return_type = "Promise<Preview>")]
    pub fn preview_line(&self, line: usize, limit: usize) -> Promise {
        self.preview_from(PreviewStart::Line(line), limit)
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
        let config = settings::settings_from_js(config, "training config")?;
        let plan = state
            .plan(&config, budget.map(|b| b as u64))
            .map_err(|e| js_error(&e))?;
        to_js(&plan)
    }

    /// The `webtune train` command that repeats a run of `config` (a `TrainConfig`) on the
    /// open model and the loaded dataset, on this tier, and the JSON config file it reads:
    /// `{config_file, config, command}`. The same settings give the same first losses.
    #[wasm_bindgen(js_name = runCommand, unchecked_return_type = "RunCommand")]
    pub fn run_command(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainConfig | undefined")] config: JsValue,
    ) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        let config = settings::train_config(config, &state)?;
        let command = state.run_command(config).map_err(|e| js_error(&e))?;
        to_js(&command)
    }

    /// Bytes of this module's WebAssembly memory: its high-water mark, since wasm memory only
    /// grows (on the CPU tier it holds the model and the run; on WebGPU the device holds them).
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> f64 {
        crate::platform::wasm_memory_bytes() as f64
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
            let config = settings::train_config(config, &state)?;
            run(&mut state, config, None, on_event, stop, checkpoint).await
        })
    }

    /// Finds good settings on the loaded dataset: successive halving over `search`'s
    /// learning rates × LoRA ranks (a `SearchConfig`: `lr`, `rank`, `budget_steps`,
    /// `keep_one_in`) around `config`, calling `onEvent` with every `SearchEvent`. Resolves to
    /// the `SearchReport`; the model then holds the chosen setting's adapter, trained as long
    /// as the budget allows. [`Webtune::stop`] ends it after the current step.
    #[wasm_bindgen(js_name = searchSettings, unchecked_return_type = "Promise<SearchReport>")]
    pub fn search_settings(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainConfig | undefined")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SearchConfig | undefined")] search: JsValue,
        #[wasm_bindgen(js_name = onEvent, unchecked_param_type = "(event: SearchEvent) => void")]
        on_event: Option<Function>,
    ) -> Promise {
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            let config = settings::train_config(config, &state)?;
            let search: crate::train::search::SearchConfig =
                settings::settings_from_js(search, "search settings")?;
            halt.set(Halt::None);
            let report = state
                .search_settings(config, &search, None, |event| tell(&on_event, &halt, event))
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Ends the running training after its current step: the run is over, what it trained
    /// stays on the model (to evaluate, generate with and export), and there is nothing to
    /// resume. A settings search, pair writing or an answer being generated ends the same way.
    pub fn stop(&self) {
        self.stop.set(Halt::Stop);
    }

    /// Pauses the running training after its current step, saving a checkpoint that
    /// [`Webtune::resume`] continues on the same trajectory.
    pub fn pause(&self) {
        self.stop.set(Halt::Pause);
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
            run(&mut state, config, Some(saved), on_event, stop, checkpoint).await
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

    /// Validation loss and perplexity of the model as it is (adapter on), or with
    /// `adapter = false` of the base alone; with `exactMatch`, greedy answers' exact-match
    /// accuracy on the validation conversations (and the answers themselves), calling
    /// `onProgress({answered, questions})` as they come. [`Webtune::stop`] ends the answers
    /// where they are (`stopped: true`, the accuracies over those answered).
    #[wasm_bindgen(unchecked_return_type = "Promise<Evaluation>")]
    pub fn evaluate(
        &self,
        exact_match: Option<bool>,
        adapter: Option<bool>,
        #[wasm_bindgen(
            js_name = onProgress,
            unchecked_param_type = "(progress: {answered: number, questions: number}) => void"
        )]
        on_progress: Option<Function>,
    ) -> Promise {
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            halt.set(Halt::None);
            let mut shown = None;
            let report = state
                .evaluate(
                    EvalData::Validation,
                    exact_match.unwrap_or(false),
                    adapter.unwrap_or(true),
                    |answered, questions| {
                        if shown != Some(answered) {
                            shown = Some(answered);
                            let progress = serde_json::json!({
                                "answered": answered, "questions": questions });
                            notify(&on_progress, &progress);
                        }
                        go_on(&halt)
                    },
                )
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Answers `prompt` (through the chat template unless `options.raw`; after
    /// `options.history`'s turns when given), calling `onText(text)` as text arrives;
    /// `options.adapter = false` answers with the base model. [`Webtune::stop`] ends the
    /// answer where it is. Resolves to `{text, tokens, stop, dropped_turns, …}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Generation>")]
    pub fn generate(
        &self,
        prompt: String,
        #[wasm_bindgen(unchecked_param_type = "GenerateOptions | undefined")] options: JsValue,
        #[wasm_bindgen(js_name = onText, unchecked_param_type = "(text: string) => void")]
        on_text: Option<Function>,
    ) -> Promise {
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            let options = convert::from_js(options, "generation options")?;
            halt.set(Halt::None);
            let out = state
                .generate(&prompt, &options, |text| {
                    send_text(&on_text, text);
                    go_on(&halt)
                })
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&out)
        })
    }

    /// The trained result as `{file name: Blob}`: a PEFT adapter (`adapter_config.json`,
    /// `adapter_model.safetensors`) after LoRA/DoRA, a Hugging Face checkpoint
    /// (`config.json`, `model.safetensors`, the tokenizer files the model came with) after
    /// full or HFT training — or, with `merged`, the base with the adapter folded in. With
    /// `archive`, the same files in one ZIP (`{"webtune-adapter.zip": Blob}`, or
    /// `webtune-merged.zip`), for one download.
    #[wasm_bindgen(
        js_name = exportAdapter,
        unchecked_return_type = "Promise<Record<string, Blob>>"
    )]
    pub fn export_adapter(&self, merged: Option<bool>, archive: Option<bool>) -> Promise {
        locked!(self.state, |state| {
            let kind = match merged {
                Some(true) => ExportKind::Merged,
                _ => ExportKind::Result,
            };
            export(&state, kind, archive).await
        })
    }

    /// The fine-tune as GGUF for llama.cpp, Ollama, LM Studio and wllama, as
    /// `{file name: Blob}` with an Ollama `Modelfile`: the adapter as `adapter.gguf`, or with
    /// `merged` the base with the adapter folded in as `model-<quant>.gguf` (`quant`: `"f16"`,
    /// the default, `"q8_0"` or `"f32"`). The same bytes as `webtune export --gguf`. What
    /// llama.cpp cannot take (a DoRA adapter, a shape Q8_0 cannot divide) fails with kind
    /// `export`. With `archive`, the files in one ZIP (`webtune-adapter-gguf.zip` or
    /// `webtune-model-gguf.zip`).
    #[wasm_bindgen(
        js_name = exportGguf,
        unchecked_return_type = "Promise<Record<string, Blob>>"
    )]
    pub fn export_gguf(
        &self,
        merged: Option<bool>,
        quant: Option<String>,
        archive: Option<bool>,
    ) -> Promise {
        locked!(self.state, |state| {
            let kind = match merged {
                Some(true) => ExportKind::gguf_merged(quant.as_deref().unwrap_or("f16"))
                    .map_err(|e| js_error(&e))?,
                _ => ExportKind::GgufAdapter,
            };
            export(&state, kind, archive).await
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
            let layers = import_adapter(&mut state, sources)
                .await
                .map_err(|e| js_error(&e))?;
            Ok((layers as f64).into())
        })
    }
}

impl Webtune {
    /// A page of the preview from `start` (`preview`, `previewLine`).
    fn preview_from(&self, start: PreviewStart, limit: usize) -> Promise {
        locked!(self.state, |state| {
            let page = state.preview(start, limit).map_err(|e| js_error(&e))?;
            to_js(&page)
        })
    }
}

/// The export of `kind` as `{file name: Blob}`: its files, or with `archive` one ZIP of them.
async fn export(
    session: &Session,
    kind: ExportKind,
    archive: Option<bool>,
) -> Result<JsValue, JsValue> {
    let files = match archive {
        Some(true) => vec![
            session
                .export_archive(kind)
                .await
                .map_err(|e| js_error(&e))?,
        ],
        _ => session.export(kind).await.map_err(|e| js_error(&e))?,
    };
    convert::blobs(files)
}

/// Passes `event` to `on_event`, and ends the work when `stop()` or `pause()` asked.
fn tell(on_event: &Option<Function>, halt: &Cell<Halt>, event: &impl serde::Serialize) -> Flow {
    notify(on_event, event);
    go_on(halt)
}

/// Whether the work goes on: not when `stop()` or `pause()` asked.
fn go_on(halt: &Cell<Halt>) -> Flow {
    match halt.get() {
        Halt::None => Flow::Continue,
        Halt::Pause | Halt::Stop => Flow::Stop,
    }
}

/// Trains (or resumes from `saved`) on the session, passing events to `on_event` and keeping
/// each checkpoint in `latest`; `halt` is what `stop()`/`pause()` asked for.
async fn run(
    session: &mut Session,
    config: crate::train::TrainConfig,
    saved: Option<Checkpoint>,
    on_event: Option<Function>,
    halt: Rc<Cell<Halt>>,
    latest: Rc<RefCell<Option<Checkpoint>>>,
) -> Result<JsValue, JsValue> {
    halt.set(Halt::None);
    let run = session
        .train(
            config,
            None,
            saved.as_ref(),
            |event| tell(&on_event, &halt, event),
            |checkpoint| {
                *latest.borrow_mut() = Some(checkpoint);
                Ok(())
            },
        )
        .await
        .map_err(|e| js_error(&e))?;
    if halt.get() == Halt::Stop {
        *latest.borrow_mut() = None;
    }
    to_js(&run.events)
}

/// Attaches the PEFT adapter among `files` to the session's model.
/// A PEFT adapter's `adapter_config.json` (read) and `adapter_model.safetensors` among `files`.
async fn adapter_files(files: &[BlobSource]) -> crate::Result<(Vec<u8>, &BlobSource)> {
    use crate::models::checkpoint::{base_name, read_all};
    let find = |name: &str| {
        files
            .iter()
            .find(|f| base_name(*f) == name)
            .ok_or_else(|| crate::Error::Input {
                problem: format!("the adapter's files must include {name}"),
            })
    };
    let config = read_all(find("adapter_config.json")?).await?;
    Ok((config, find("adapter_model.safetensors")?))
}

async fn import_adapter(session: &mut Session, files: Vec<BlobSource>) -> crate::Result<usize> {
    let (config, weights) = adapter_files(&files).await?;
    session.import_adapter(&config, weights).await
}
