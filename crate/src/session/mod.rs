//! The application layer. A [`Session`] owns what a person works with — the device, the open
//! model, the dataset, the last run's configuration, the sentence encoder and the retrieval
//! index — and holds every policy once ([`policy`]): the precision a model opens in, where
//! its weights go, the memory plan checked before any training, what a finished run exports.
//!
//! The command line and the JavaScript API are translations over it: arguments or JS values
//! in, its reports out. Progress leaves through closures; files come in as
//! [`ByteSource`]s and leave as named bytes, so a session knows neither clap nor `js_sys`,
//! neither paths nor OPFS.

mod adapters;
mod advice;
mod bench;
mod chat;
mod command;
mod export;
mod info;
mod job;
mod pairs;
pub mod policy;
mod presets;
mod retrieval;
mod run;
mod search;
mod sizing;

pub use adapters::{AdapterChoice, AdapterSummary};
pub use advice::AdviseFiles;
pub use bench::{WarmUp, WarmUpTask};
pub use command::{CONFIG_FILE, RunCommand};
pub use export::ExportKind;
pub use info::{DeviceInfo, Evaluation, Generation, ModelInfo, TextScores, TokenLoss};
pub use policy::{Choice, OpenOptions, Purpose, TierNote, TierReason, TierRequest, TierTiming};
pub use presets::{Preset, RunLength};
pub use retrieval::{Added, AskOptions, EncoderInfo};
pub use run::{EvalData, GenerateOptions, TrainRun};
pub use search::{SearchEvent, SearchReport};
pub use sizing::{HubModel, MODEL_PRESETS, ModelFit};

use crate::data::{DataOptions, Prepared};
use crate::device::{ComputeDevice, Precision};
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::models::checkpoint::{base_name, read_all};
use crate::models::{Loaded, load_checkpoint_to};
use crate::selfcheck::{self, SelfCheckReport};
use crate::tokenizer::Tokenizer;
use crate::train::TrainConfig;

/// Files of a Hugging Face folder that make a written checkpoint complete: kept (they are
/// small) when a model is opened, written beside a merged or fully trained checkpoint.
pub const TOKENIZER_FILES: [&str; 5] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "generation_config.json",
];

/// A model as a session holds it.
pub struct OpenModel {
    /// What it was opened as (a file or folder name).
    pub name: String,
    /// The model on the device's autodiff twin, its tokenizer and stop ids.
    pub loaded: Loaded,
    /// [`TOKENIZER_FILES`] that came with it, by name.
    pub companions: Vec<(String, Vec<u8>)>,
}

/// What one person works with, and every operation on it (see the module docs).
pub struct Session {
    device: ComputeDevice,
    model: Option<OpenModel>,
    data: Option<(Prepared, DataOptions)>,
    config: Option<TrainConfig>,
    adapters: Vec<adapters::Slot>,
    retrieval: retrieval::Retrieval,
    /// Why the engine chose its tier, when it chose (see [`policy::choose_device`]).
    tier_note: Option<policy::TierNote>,
    /// The timed products the engine chose the tier by, when it compared them.
    tier_timing: Option<policy::TierTiming>,
}

fn no_model() -> Error {
    Error::Input {
        problem: "no model is open: open one first".into(),
    }
}

fn no_data() -> Error {
    Error::Input {
        problem: "no dataset is loaded: load one first".into(),
    }
}

impl Session {
    /// Nothing open yet, on `device`.
    pub fn new(device: ComputeDevice) -> Self {
        Self {
            device,
            model: None,
            data: None,
            config: None,
            adapters: Vec::new(),
            retrieval: Default::default(),
            tier_note: None,
            tier_timing: None,
        }
    }

    /// A session on the device `request` calls for (see [`policy::choose_device`]).
    pub async fn on(request: TierRequest) -> Result<Self> {
        let choice = policy::choose_device(request).await?;
        Ok(Self {
            tier_note: choice.note,
            tier_timing: choice.timing,
            ..Self::new(choice.device)
        })
    }

    /// The device, in the open model's precision.
    pub fn device(&self) -> &ComputeDevice {
        &self.device
    }

    /// The device as reports show it.
    pub fn device_info(&self) -> DeviceInfo {
        let mut summary = format!("{:<22} {}\n", "tier", self.device.tier());
        if let Some(adapter) = self.device.adapter() {
            summary.push_str(&adapter.to_string());
        }
        DeviceInfo {
            tier: self.device.tier().to_string(),
            adapter: self.device.adapter().cloned(),
            max_tensor_bytes: policy::binding_limit(&self.device),
            summary,
            tier_note: self.tier_note.clone(),
            tier_timing: self.tier_timing,
        }
    }

    /// Runs the self-check (a small forward and backward pass) on the session's device in
    /// f32 and on the CPU tier, and fails when they disagree (see [`selfcheck`]).
    pub async fn self_check(&self) -> Result<SelfCheckReport> {
        let device = self.device.with_precision(Precision::F32).await?;
        selfcheck::gpu_vs_cpu(&device).await
    }

    /// Opens the model in `files` (one GGUF file, or a Hugging Face folder's files) as
    /// `name`, in the precision and placement `options` call for (see [`policy`]). The
    /// session's device becomes that precision's; a loaded dataset is dropped (it was
    /// tokenized for the previous model).
    pub async fn open_model<S: ByteSource>(
        &mut self,
        name: &str,
        files: Vec<S>,
        options: &OpenOptions,
    ) -> Result<ModelInfo> {
        let device = policy::device_for(&self.device, options).await?;
        let mut companions = Vec::new();
        for file in &files {
            let base = base_name(file);
            if TOKENIZER_FILES.contains(&base) {
                companions.push((base.to_string(), read_all(file).await?));
            }
        }
        let placement = policy::placement(&device, options.quantize);
        let loaded = load_checkpoint_to(name, files, &placement).await?;
        self.device = device;
        self.model = Some(OpenModel {
            name: name.to_string(),
            loaded,
            companions,
        });
        self.data = None;
        self.config = None;
        self.adapters.clear();
        self.model_info().ok_or_else(no_model)
    }

    /// What is open, or `None`.
    pub fn model_info(&self) -> Option<ModelInfo> {
        let open = self.model.as_ref()?;
        Some(ModelInfo::of(open, self.device.precision()))
    }

    /// The open model.
    pub fn model(&self) -> Result<&OpenModel> {
        self.model.as_ref().ok_or_else(no_model)
    }

    /// The open model and its tokenizer; an error saying the model cannot `what` without one.
    pub fn text_model(&self, what: &str) -> Result<(&Loaded, &Tokenizer)> {
        let open = self.model()?;
        let tokenizer = open
            .loaded
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Checkpoint {
                file: open.name.clone(),
                problem: format!(
                    "has no tokenizer (tokenizer.json or GGUF tokenizer metadata), so it cannot \
                     {what}"
                ),
            })?;
        Ok((&open.loaded, tokenizer))
    }

    /// The configuration of the last run (or of an imported adapter), if any.
    pub fn last_config(&self) -> Option<&TrainConfig> {
        self.config.as_ref()
    }

    /// The options the loaded dataset was read with (a run trains on it as read).
    pub fn data_options(&self) -> Option<&DataOptions> {
        self.data.as_ref().map(|(_, options)| options)
    }

    /// The loaded dataset.
    pub fn dataset(&self) -> Result<&Prepared> {
        self.data.as_ref().map(|(d, _)| d).ok_or_else(no_data)
    }
}
