//! Data, training, evaluation, generation and export on a session's open model.

use burn::module::Module;
use serde::Deserialize;

use super::chat::conversation;
use super::info::{Evaluation, Generation, TextScores, TokenLoss};
use super::{Session, no_data, no_model, policy};
use crate::data::{
    DataOptions, DataReport, Document, Padding, Preview, PreviewStart, prepare, prepare_documents,
    prepare_eval, preview,
};
use crate::error::{Error, Result};
use crate::eval::{exact_match, score};
use crate::flow::Flow;
use crate::generate::{GenerateConfig, generate_text};
use crate::io::ByteSource;
use crate::lora;
use crate::models::{CausalLm, LinearLayers};
use crate::platform::seconds_now;
use crate::tokenizer::Message;
use crate::train::{
    Checkpoint, Event, MemoryPlan, PlanModel, Rows, RunState, TrainConfig, fine_tune, plan,
    prepare_model, validation_loss,
};

/// Sequences per evaluation batch (padding only; the loss is per token whatever it is).
const EVAL_BATCH: usize = 8;
/// New tokens an exact-match answer may have.
const ANSWER_TOKENS: usize = 32;

/// A finished (or stopped) training run.
#[derive(Debug, Clone)]
pub struct TrainRun {
    /// What was trained (method, layers, trainable parameters), as the trainer says it.
    pub description: String,
    /// Every event, in order.
    pub events: Vec<Event>,
}

/// Linear layers of `model` that carry an adapter branch.
pub(super) fn adapted_layers(model: &impl LinearLayers) -> usize {
    model
        .linear_layers()
        .iter()
        .filter(|(_, l)| l.low_rank.is_some())
        .count()
}

/// What to evaluate on.
#[derive(Debug, Clone, Copy)]
pub enum EvalData<'a> {
    /// The loaded dataset's validation split.
    Validation,
    /// Every example of a dataset file (`name`, `text`), encoded up to `max_len` tokens.
    File {
        /// Its name (format detection, messages).
        name: &'a str,
        /// Its text.
        text: &'a str,
        /// Longest sequence in tokens.
        max_len: usize,
    },
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
    /// Answer with the adapter kept under this name (see `Session::load_adapter`) instead of
    /// the model's own.
    pub adapter_name: Option<String>,
    /// The adapter's scale (1: as trained).
    pub adapter_scale: Option<f64>,
    /// Continue `prompt` as raw text instead of a user turn of the chat template.
    pub raw: bool,
    /// The conversation so far (`system`, `user` and `assistant` turns); `prompt` is the next
    /// user turn. The oldest exchanges are left out when it all does not fit the context.
    pub history: Vec<Message>,
}

impl Session {
    /// Reads and tokenizes a dataset with the open model's template, splitting off
    /// validation (or taking `validation` = `(name, text)`).
    pub fn load_dataset(
        &mut self,
        name: &str,
        text: &str,
        validation: Option<(&str, &str)>,
        options: &DataOptions,
    ) -> Result<DataReport> {
        let (_, tokenizer) = self.text_model("read text")?;
        let prepared = prepare(name, text, validation, tokenizer, options)?;
        let report = prepared.report.clone();
        self.data = Some((prepared, options.clone()));
        Ok(report)
    }

    /// Reads `documents` (plain text, Markdown, HTML; `name` says what they are in messages) as
    /// the dataset for domain adaptation: windows of `options.encode.max_len` tokens, every
    /// token trained, whole documents held out for validation (see
    /// [`crate::data::prepare_documents`]).
    pub fn load_documents(
        &mut self,
        name: &str,
        documents: &[Document],
        options: &DataOptions,
    ) -> Result<DataReport> {
        let (_, tokenizer) = self.text_model("read text")?;
        let prepared = prepare_documents(name, documents, tokenizer, options)?;
        let report = prepared.report.clone();
        self.data = Some((prepared, options.clone()));
        Ok(report)
    }

    /// `limit` rows of the loaded dataset from `start` (a row, or a line of the file) as the
    /// model sees them: the chat template rendered, trained spans marked, cut rows flagged.
    pub fn preview(&self, start: PreviewStart, limit: usize) -> Result<Preview> {
        let (_, tokenizer) = self.text_model("show the data")?;
        preview(self.dataset()?, tokenizer, start, limit)
    }

    /// The memory plan of training with `config` on the loaded dataset (or on rows of
    /// `config.data.encode.max_len` tokens before one is loaded), against `budget` bytes
    /// (default: [`policy::memory_budget`]) and the device's largest binding.
    pub fn plan(&self, config: &TrainConfig, budget: Option<u64>) -> Result<MemoryPlan> {
        config.validate()?;
        let open = self.model()?;
        let budget = budget.or_else(|| policy::memory_budget(&self.device));
        Ok(plan(
            &PlanModel::of(&open.loaded),
            config,
            self.planned_rows(config),
            budget,
            policy::binding_limit(&self.device),
        ))
    }

    /// The widest rows a run of `config` trains on: the loaded dataset's longest row, padded
    /// as the run pads (or rows of `config.data.encode.max_len` tokens before one is loaded).
    pub(super) fn planned_rows(&self, config: &TrainConfig) -> Rows {
        // Packed rows and preference pairs (ORPO scores whole chosen rows) may score every
        // position; a record scores at most its trained tokens.
        match &self.data {
            Some((_, options)) if config.data.packing => Rows::full(options.encode.max_len),
            Some((data, options)) => {
                let max_len = options.encode.max_len;
                let pad = self.padding(config.pad_to_multiple_of, data.pad_id, max_len);
                let report = &data.report;
                let len = pad.width(report.max_tokens.max(1));
                match config.objective.is_preference() {
                    true => Rows::full(len),
                    false => Rows::scoring(len, report.max_trained_tokens),
                }
            }
            None => Rows::full(config.data.encode.max_len),
        }
    }

    /// The multiple batches are padded to: the one `asked` for, else the one
    /// [`policy::pad_multiple`] chooses for this device.
    pub(super) fn pad_multiple(&self, asked: Option<usize>) -> usize {
        asked.unwrap_or_else(|| policy::pad_multiple(&self.device))
    }

    /// How batches are padded with token `id` to at most `max_len` tokens (see
    /// [`Session::pad_multiple`]).
    fn padding(&self, multiple: Option<usize>, id: u32, max_len: usize) -> Padding {
        Padding {
            id,
            multiple: self.pad_multiple(multiple),
            at_most: max_len,
        }
    }

    /// `config` for a run on the loaded dataset: its data options are those the dataset was
    /// read with (the run packs to the same length), `packing` aside, and its padding is
    /// chosen for this device when it names none.
    pub(super) fn on_loaded_data(&self, mut config: TrainConfig) -> Result<TrainConfig> {
        let (_, options) = self.data.as_ref().ok_or_else(no_data)?;
        config.data = DataOptions {
            packing: config.data.packing,
            ..options.clone()
        };
        config.pad_to_multiple_of = Some(self.pad_multiple(config.pad_to_multiple_of));
        Ok(config)
    }

    /// Trains the open model on the loaded dataset, or continues `resume` on the same
    /// trajectory. A run whose memory plan does not fit `budget` (see [`Session::plan`]) is
    /// refused before anything is allocated, with the settings that would fit. `on_event`
    /// hears every event and may stop the run; `on_checkpoint` stores each checkpoint.
    pub async fn train(
        &mut self,
        mut config: TrainConfig,
        budget: Option<u64>,
        resume: Option<&Checkpoint>,
        on_event: impl FnMut(&Event) -> Flow,
        on_checkpoint: impl FnMut(Checkpoint) -> Result<()>,
    ) -> Result<TrainRun> {
        config = self.on_loaded_data(config)?;
        self.plan(&config, budget)?.check()?;
        let device = self.device.autodiff();
        let (data, _) = self.data.as_ref().ok_or_else(no_data)?;
        let open = self.model.as_mut().ok_or_else(no_model)?;
        let description = prepare_model(&mut open.loaded.model, &config, &device)?;
        let log = fine_tune(
            &mut open.loaded.model,
            data,
            &config,
            &device,
            resume,
            on_event,
            on_checkpoint,
        )
        .await?;
        self.config = Some(config);
        Ok(TrainRun {
            description,
            events: log,
        })
    }

    /// Loss and perplexity of the model as it is (with `adapter`; without it, the base with
    /// every adapter branch left out), and with `with_exact_match` greedy answers' accuracy,
    /// on `on`. `progress(answered, questions)` hears the answers' progress and can stop
    /// them ([`Flow::Stop`]): the accuracy is then over the questions answered, and the
    /// evaluation says it was stopped.
    pub async fn evaluate(
        &self,
        on: EvalData<'_>,
        with_exact_match: bool,
        adapter: bool,
        progress: impl FnMut(usize, usize) -> Flow,
    ) -> Result<Evaluation> {
        let (loaded, tokenizer) = self.text_model("be evaluated")?;
        // A clone shares the weights: leaving the branches out of it leaves the model as it is.
        let mut scored = loaded.model.clone();
        if !adapter {
            lora::detach(&mut scored);
        }
        let owned;
        let (name, encoded, examples, pad) = match on {
            EvalData::Validation => {
                let (data, options) = self.data.as_ref().ok_or_else(no_data)?;
                let max_len = options.encode.max_len;
                (
                    format!("{} (validation)", data.report.file),
                    &data.validation,
                    &data.validation_examples,
                    self.padding(None, data.pad_id, max_len),
                )
            }
            EvalData::File {
                name,
                text,
                max_len,
            } => {
                let mut options = DataOptions::default();
                options.encode.max_len = max_len;
                owned = prepare_eval(name, text, tokenizer, &options)?;
                let pad = tokenizer.eos_id.unwrap_or(0);
                let pad = self.padding(None, pad, max_len);
                (name.to_string(), &owned.0, &owned.1, pad)
            }
        };
        let loss =
            validation_loss(&scored, encoded, EVAL_BATCH, pad, &self.device.autodiff()).await?;
        let model = scored.valid();
        let device = self.device.device();
        let mut evaluation = Evaluation {
            data: name,
            examples: encoded.len(),
            loss,
            perplexity: loss.map(f64::exp),
            exact_match: None,
            first_word_accuracy: None,
            answers: Vec::new(),
            stopped: false,
        };
        if with_exact_match {
            let result = exact_match(
                &model,
                tokenizer,
                device,
                examples,
                &loaded.stop_ids,
                ANSWER_TOKENS,
                progress,
            )
            .await?;
            let answered = !result.answers.is_empty();
            evaluation.exact_match = answered.then(|| result.accuracy());
            evaluation.first_word_accuracy = answered.then(|| result.first_word_accuracy());
            evaluation.stopped = result.stopped;
            evaluation.answers = result.answers;
        }
        Ok(evaluation)
    }

    /// Answers `prompt` (a user turn of the chat template, or raw text with `options.raw`),
    /// streaming text to `on_text`, with the adapter unless `options.adapter` is false.
    pub async fn generate(
        &self,
        prompt: &str,
        options: &GenerateOptions,
        mut on_text: impl FnMut(&str) -> Flow,
    ) -> Result<Generation> {
        let start = seconds_now();
        let (loaded, tokenizer) = self.text_model("generate text")?;
        let (ids, dropped_turns) = match options.raw {
            true if !options.history.is_empty() => {
                return Err(Error::Setting {
                    setting: "history".into(),
                    problem: "needs the chat template: it cannot go with `raw`".into(),
                });
            }
            true => (tokenizer.encode(prompt)?, 0),
            false => conversation(
                tokenizer,
                &options.history,
                prompt,
                loaded.model.context_length(),
                options.config.max_new_tokens,
            )?,
        };
        let model = match options.adapter {
            Some(false) => {
                let mut model = loaded.model.valid();
                lora::detach(&mut model);
                model
            }
            _ => self.model_with(&super::AdapterChoice {
                name: options.adapter_name.clone(),
                scale: options.adapter_scale,
            })?,
        };
        let mut config = options.config.clone();
        config.stop_ids.extend(&loaded.stop_ids);
        let mut first = None;
        let out = generate_text(
            &model,
            tokenizer,
            self.device.device(),
            &ids,
            &config,
            |text| {
                first.get_or_insert_with(seconds_now);
                on_text(text)
            },
        )
        .await?;
        let end = seconds_now();
        let first = first.unwrap_or(end);
        let tokens = out.ids.len();
        let decode_seconds = end - first;
        Ok(Generation {
            text: out.text,
            tokens,
            prompt_tokens: ids.len(),
            dropped_turns,
            stop: out.stop,
            first_text_seconds: first - start,
            seconds: end - start,
            prefill_tokens_per_second: ids.len() as f64 / (first - start).max(1e-9),
            decode_tokens_per_second: match decode_seconds > 0.0 {
                true => tokens.saturating_sub(1) as f64 / decode_seconds,
                false => 0.0,
            },
        })
    }

    /// Every token's loss in `text` (BOS first with `add_bos`), its mean and perplexity.
    pub async fn score(&self, text: &str, add_bos: bool) -> Result<TextScores> {
        let (loaded, tokenizer) = self.text_model("score text")?;
        let mut ids = Vec::new();
        if add_bos {
            ids.extend(tokenizer.bos_id);
        }
        ids.extend(tokenizer.encode(text)?);
        let model = loaded.model.valid();
        let scores = score(&model, self.device.device(), &ids).await?;
        let per_token = ids[1..]
            .iter()
            .zip(&scores.losses)
            .map(|(&id, &loss)| TokenLoss {
                id,
                text: tokenizer.decode(&[id], false).unwrap_or_default(),
                loss,
            })
            .collect();
        Ok(TextScores {
            tokens: ids.len(),
            scored_tokens: scores.losses.len(),
            mean_loss: scores.mean_loss(),
            perplexity: scores.perplexity(),
            per_token,
        })
    }

    /// Attaches a PEFT adapter (`adapter_config.json`'s bytes and `adapter_model.safetensors`)
    /// to the open model, replacing any adapter. Returns the adapted layers' count.
    pub async fn import_adapter(
        &mut self,
        config_json: &[u8],
        weights: &impl ByteSource,
    ) -> Result<usize> {
        let device = self.device.autodiff();
        let open = self.model.as_mut().ok_or_else(no_model)?;
        open.loaded.model = open.loaded.model.clone().no_grad();
        let info = lora::peft::load(&mut open.loaded.model, config_json, weights, &device).await?;
        self.config = Some(TrainConfig {
            lora: info.config,
            ..TrainConfig::default()
        });
        Ok(adapted_layers(&open.loaded.model))
    }

    /// Applies a training checkpoint (adapter, or every parameter of a full/HFT run) to the
    /// open model, so that [`Session::export`] writes that run's result. Returns its state.
    pub async fn apply_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<RunState> {
        let device = self.device.autodiff();
        let open = self.model.as_mut().ok_or_else(no_model)?;
        let state = checkpoint
            .load_into(&mut open.loaded.model, &device)
            .await?;
        self.config = Some(state.config.clone());
        Ok(state)
    }
}
