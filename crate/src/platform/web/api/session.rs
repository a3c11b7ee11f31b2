//! What one [`super::Webtune`] holds — the device, the open model (on the device's autodiff
//! twin, so that it can train; evaluation and generation use an inference copy), the dataset,
//! the latest run's config — and the operations on it, in plain Rust over the library.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::module::Module;
use js_sys::Function;
use serde::{Deserialize, Serialize};

use super::convert::{notify, send_text};
use crate::data::{DataOptions, DataReport, Prepared, prepare};
use crate::device::{AdapterReport, ComputeDevice};
use crate::error::{Error, Result};
use crate::eval::exact_match;
use crate::generate::{Flow, GenerateConfig, generate_text};
use crate::io::ByteSource;
use crate::lora;
use crate::models::checkpoint::{base_name, read_all};
use crate::models::{CausalLm, LinearLayers, Loaded, Placement, export, load_checkpoint_to};
use crate::platform::BlobSource;
use crate::tokenizer::Message;
use crate::train::{
    Checkpoint, Event, MemoryPlan, Method, PlanModel, TrainConfig, fine_tune, plan, prepare_model,
};

/// A file's name and text.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamedText {
    /// The file's name (for messages and format detection).
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The device, as `device()` reports it.
#[derive(Debug, Serialize)]
pub struct DeviceInfo {
    /// `"cpu"` or `"gpu"`.
    tier: String,
    /// The GPU adapter, its limits and features.
    adapter: Option<AdapterReport>,
    /// The largest tensor one kernel can bind (`null`: no limit, the CPU tier).
    max_tensor_bytes: Option<u64>,
}

/// What `openModel` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// The file (or folder's first file) it came from.
    name: String,
    /// Its family (`llama`, `qwen2`, `gpt2`).
    architecture: String,
    /// Parameters.
    parameters: usize,
    /// Bytes the weights take on the device.
    weight_bytes: usize,
    /// Whether its linear layers are kept in 4-bit blocks.
    quantized: bool,
    /// Linear layers (what LoRA can target), by Hugging Face path.
    linear_layers: Vec<String>,
    /// Vocabulary size.
    vocab_size: usize,
    /// Longest context.
    context_length: usize,
    /// Whether it has a tokenizer (needed to train on text and to generate).
    has_tokenizer: bool,
    /// The float type it computes in (`f16` on a GPU with `shader-f16`, unless asked
    /// otherwise).
    precision: crate::device::Precision,
}

/// What `evaluate` reports.
#[derive(Debug, Serialize)]
pub struct Evaluation {
    /// Mean loss per validation token.
    validation_loss: Option<f64>,
    /// `exp(validation_loss)`.
    perplexity: Option<f64>,
    /// Greedy answers' accuracy, when asked for.
    exact_match: Option<f64>,
    /// Answers whose first word is right, when asked for.
    first_word_accuracy: Option<f64>,
    /// The answers, when asked for.
    answers: Vec<crate::eval::Answer>,
}

/// `generate`'s options: a `GenerateConfig` plus what to generate with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GenerateOptions {
    /// Sampling, length and stop strings.
    #[serde(flatten)]
    pub config: GenerateConfig,
    /// Answer with the adapter (default) or with the base model.
    pub adapter: Option<bool>,
    /// Continue `prompt` as raw text instead of a user turn of the chat template.
    pub raw: bool,
}

/// `generate`'s result.
#[derive(Debug, Serialize)]
pub struct Generation {
    /// The new text.
    text: String,
    /// New tokens.
    tokens: usize,
    /// Why it ended.
    stop: crate::generate::StopReason,
}

/// The engine's state.
pub struct State {
    pub(super) device: ComputeDevice,
    pub(super) model: Option<(String, Loaded)>,
    data: Option<(Prepared, DataOptions)>,
    config: Option<TrainConfig>,
    /// The sentence encoder and the retrieval index (see `rag.rs`).
    pub(super) retrieval: super::rag::Retrieval,
}

fn no_data() -> Error {
    Error::Input {
        problem: "no dataset is loaded: call loadDataset first".into(),
    }
}

fn no_model() -> Error {
    Error::Input {
        problem: "no model is open: call openModel first".into(),
    }
}

impl State {
    /// Nothing open yet, on `device`.
    pub fn new(device: ComputeDevice) -> Self {
        Self {
            device,
            model: None,
            data: None,
            config: None,
            retrieval: Default::default(),
        }
    }

    /// The open model and its tokenizer; an error saying the model cannot `what` without one.
    pub(super) fn text_model(&self, what: &str) -> Result<(&Loaded, &crate::tokenizer::Tokenizer)> {
        let (_, loaded) = self.model.as_ref().ok_or_else(no_model)?;
        let tokenizer = loaded.tokenizer.as_ref().ok_or_else(|| Error::Input {
            problem: format!("the open model has no tokenizer, so it cannot {what}"),
        })?;
        Ok((loaded, tokenizer))
    }

    /// The device.
    pub fn device_info(&self) -> DeviceInfo {
        DeviceInfo {
            tier: self.device.tier().to_string(),
            adapter: self.device.adapter().cloned(),
            max_tensor_bytes: self.binding_limit(),
        }
    }

    /// Opens a model (see `Webtune.openModel`) in `precision` (`None`: f16 where the GPU has
    /// `shader-f16`, else f32). The engine's device becomes that precision's.
    pub async fn open_model(
        &mut self,
        files: Vec<BlobSource>,
        quantize: bool,
        precision: Option<crate::device::Precision>,
    ) -> Result<ModelInfo> {
        let precision = precision.unwrap_or_else(|| self.device.best_precision());
        let device = self.device.with_precision(precision).await?;
        let name = files
            .first()
            .map(|f| f.name().to_string())
            .unwrap_or_default();
        let mut placement = match quantize {
            true => Placement::training(&device).quantized(),
            false => Placement::training(&device),
        };
        if device.tier() == crate::Tier::Cpu {
            // On the CPU tier the weights live in wasm32's 4 GiB; leave room to train.
            placement = placement.with_max_weight_bytes(3 << 30);
        }
        let loaded = load_checkpoint_to(&name, files, &placement).await?;
        self.device = device;
        self.model = Some((name, loaded));
        self.data = None;
        self.model_info().ok_or_else(no_model)
    }

    /// What is open.
    pub fn model_info(&self) -> Option<ModelInfo> {
        let (name, loaded) = self.model.as_ref()?;
        let plan = PlanModel::of(loaded);
        Some(ModelInfo {
            name: name.clone(),
            architecture: loaded.architecture().to_string(),
            parameters: plan.parameters,
            weight_bytes: plan.weight_bytes,
            quantized: plan.linear.iter().any(|(_, _, q)| *q),
            linear_layers: plan.linear.into_iter().map(|(p, _, _)| p).collect(),
            vocab_size: loaded.model.vocab_size(),
            context_length: loaded.model.context_length(),
            has_tokenizer: loaded.tokenizer.is_some(),
            precision: self.device.precision(),
        })
    }

    /// Reads and tokenizes a dataset (see `Webtune.loadDataset`).
    pub fn load_dataset(
        &mut self,
        name: &str,
        text: &str,
        validation: Option<NamedText>,
        options: &DataOptions,
    ) -> Result<DataReport> {
        let (_, tokenizer) = self.text_model("read text")?;
        let validation = validation
            .as_ref()
            .map(|v| (v.name.as_str(), v.text.as_str()));
        let prepared = prepare(name, text, validation, tokenizer, options)?;
        let report = prepared.report.clone();
        self.data = Some((prepared, options.clone()));
        Ok(report)
    }

    /// The memory plan of training with `config` on the loaded dataset (or on rows of
    /// `config.data.encode.max_len` tokens before one is loaded), against `budget` bytes
    /// (default: wasm32's 4 GiB on the CPU tier; none known on WebGPU) and the device's
    /// largest binding.
    pub fn plan(&self, config: &TrainConfig, budget: Option<u64>) -> Result<MemoryPlan> {
        let (_, loaded) = self.model.as_ref().ok_or_else(no_model)?;
        let seq_len = match &self.data {
            Some((_, options)) if config.data.packing => options.encode.max_len,
            Some((data, _)) => data.report.max_tokens.max(1),
            None => config.data.encode.max_len,
        };
        let budget = budget.or(match self.device.tier() {
            crate::Tier::Cpu => Some(4 << 30),
            crate::Tier::Gpu => None,
        });
        Ok(plan(
            &PlanModel::of(loaded),
            config,
            seq_len,
            budget,
            self.binding_limit(),
        ))
    }

    /// The largest tensor one kernel can bind (`None` on the CPU tier: no limit).
    fn binding_limit(&self) -> Option<u64> {
        Some(self.device.max_tensor_bytes()).filter(|&b| b < 1 << 53)
    }

    /// Trains, or continues `resume` (see `Webtune.train` and `Webtune.resume`).
    pub async fn train(
        &mut self,
        mut config: TrainConfig,
        resume: Option<Checkpoint>,
        on_event: Option<Function>,
        stop: Rc<Cell<bool>>,
        latest: Rc<RefCell<Option<Checkpoint>>>,
    ) -> Result<Vec<Event>> {
        let (data, options) = self.data.as_ref().ok_or_else(no_data)?;
        // Refuse what cannot fit before anything is allocated (a budget given to `plan` is
        // the caller's to check).
        self.plan(&config, None)?.check()?;
        let (_, loaded) = self.model.as_mut().ok_or_else(no_model)?;
        let device = self.device.autodiff();
        // The dataset was read with these options; the run packs to the same length.
        config.data = DataOptions {
            packing: config.data.packing,
            ..options.clone()
        };
        prepare_model(&mut loaded.model, &config, &device)?;
        let log = fine_tune(
            &mut loaded.model,
            data,
            &config,
            &device,
            resume.as_ref(),
            |event| {
                notify(&on_event, event);
                if stop.get() {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            },
            |checkpoint| {
                *latest.borrow_mut() = Some(checkpoint);
                Ok(())
            },
        )
        .await?;
        self.config = Some(config);
        Ok(log)
    }

    /// Validation loss and, when asked, exact match (see `Webtune.evaluate`).
    pub async fn evaluate(&self, with_exact_match: bool) -> Result<Evaluation> {
        let (_, loaded) = self.model.as_ref().ok_or_else(no_model)?;
        let (data, _) = self.data.as_ref().ok_or_else(no_data)?;
        let batch = self.config.as_ref().map_or(4, |c| c.batch_size);
        let loss = crate::train::validation_loss(
            &loaded.model,
            &data.validation,
            batch,
            data.pad_id,
            &self.device.autodiff(),
        )
        .await?;
        let mut evaluation = Evaluation {
            validation_loss: loss,
            perplexity: loss.map(f64::exp),
            exact_match: None,
            first_word_accuracy: None,
            answers: Vec::new(),
        };
        if with_exact_match {
            let tokenizer = loaded.tokenizer.as_ref().ok_or_else(no_model)?;
            let inference = loaded.model.valid();
            let result = exact_match(
                &inference,
                tokenizer,
                self.device.device(),
                &data.validation_examples,
                &loaded.stop_ids,
                32,
            )
            .await?;
            evaluation.exact_match = Some(result.accuracy());
            evaluation.first_word_accuracy = Some(result.first_word_accuracy());
            evaluation.answers = result.answers;
        }
        Ok(evaluation)
    }

    /// Generates (see `Webtune.generate`).
    pub async fn generate(
        &self,
        prompt: &str,
        options: &GenerateOptions,
        on_text: Option<Function>,
    ) -> Result<Generation> {
        let (loaded, tokenizer) = self.text_model("generate text")?;
        let ids = match options.raw {
            true => tokenizer.encode(prompt)?,
            false => tokenizer.encode_chat(&[Message::new("user", prompt)])?,
        };
        let mut model = loaded.model.valid();
        if options.adapter == Some(false) {
            lora::detach(&mut model);
        }
        let mut config = options.config.clone();
        config.stop_ids.extend(&loaded.stop_ids);
        let out = generate_text(
            &model,
            tokenizer,
            self.device.device(),
            &ids,
            &config,
            |text| {
                send_text(&on_text, text);
                Flow::Continue
            },
        )
        .await?;
        Ok(Generation {
            text: out.text,
            tokens: out.ids.len(),
            stop: out.stop,
        })
    }

    /// The trained result's files (see `Webtune.exportAdapter`).
    pub async fn export(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let (name, loaded) = self.model.as_ref().ok_or_else(no_model)?;
        let config = self.config.clone().unwrap_or_default();
        if config.method == Method::Lora {
            let (adapter_config, weights) =
                lora::peft::save(&loaded.model, &config.lora, name).await?;
            return Ok(vec![
                ("adapter_config.json".into(), adapter_config),
                ("adapter_model.safetensors".into(), weights),
            ]);
        }
        export::checkpoint_files(&loaded.model.valid(), &loaded.config).await
    }

    /// Attaches a PEFT adapter from its two files (see `Webtune.importAdapter`).
    pub async fn import_adapter(&mut self, files: Vec<BlobSource>) -> Result<usize> {
        let (_, loaded) = self.model.as_mut().ok_or_else(no_model)?;
        let find = |name: &str| {
            files
                .iter()
                .find(|f| base_name(*f) == name)
                .ok_or_else(|| Error::Input {
                    problem: format!("the adapter's files must include {name}"),
                })
        };
        let config_bytes = read_all(find("adapter_config.json")?).await?;
        let weights = find("adapter_model.safetensors")?;
        let device = self.device.autodiff();
        loaded.model = loaded.model.clone().no_grad();
        let info = lora::peft::load(&mut loaded.model, &config_bytes, weights, &device).await?;
        let layers = loaded
            .model
            .linear_layers()
            .iter()
            .filter(|(_, l)| l.low_rank.is_some())
            .count();
        self.config = Some(TrainConfig {
            lora: info.config,
            ..TrainConfig::default()
        });
        Ok(layers)
    }
}
