//! A whole fine-tuning run: epochs of shuffled batches, gradient accumulation, evaluation on
//! held-out data every N steps, early stopping, and progress events (step, loss, learning
//! rate, gradient norm, tokens/s, ETA) that the CLI and the page both consume.

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, FORMAT_VERSION, RunState};
use super::method::{Method, select_half};
use super::preference::{Objective, PreferenceStats, Reference, preference_loss};
use super::{AdamWConfig, Schedule, ScheduleKind, StepReport, Trainer, causal_lm_loss};
use crate::data::{
    Batch, DataOptions, Encoded, EncodedPair, Padding, PairBatch, Prepared, batches, pair_batches,
    shuffle,
};
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::lora::LoraConfig;
use crate::models::{CausalLm, LinearLayers};
use crate::platform::seconds_now;
use burn::tensor::Tensor;

/// Everything a run needs to know; the one schema the CLI (`--config`) and the page share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// What is trained: `lora` (the default), `full` or `half` (Half Fine-Tuning).
    pub method: Method,
    /// What is optimized: the supervised loss (the default), or DPO / ORPO on preference
    /// pairs.
    pub objective: Objective,
    /// Half Fine-Tuning: steps per round, each with its own half trainable (0: a round per
    /// epoch).
    pub hft_round_steps: usize,
    /// The adapter (with `method = "lora"`).
    pub lora: LoraConfig,
    /// The optimizer.
    pub optimizer: AdamWConfig,
    /// Learning-rate schedule after warmup.
    pub schedule: ScheduleKind,
    /// Warmup steps.
    pub warmup_steps: usize,
    /// Passes over the training data.
    pub epochs: usize,
    /// Stop after this many optimizer steps, when set.
    pub max_steps: Option<usize>,
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accumulation: usize,
    /// Pad each batch to a multiple of this many tokens (at most `data.encode.max_len`), so
    /// that a run meets few distinct shapes; the loss is unchanged. Unset: the session
    /// chooses by tier (the trainer alone pads each batch to its longest row).
    pub pad_to_multiple_of: Option<usize>,
    /// Clip the gradients' global norm to this, when set.
    pub max_grad_norm: Option<f64>,
    /// Evaluate on the validation set every this many steps (0: only at the end).
    pub eval_every: usize,
    /// Stop when the validation loss has not improved for this many evaluations, when set.
    pub early_stopping_patience: Option<usize>,
    /// Hand a checkpoint to the caller every this many steps (0: only when stopped).
    pub checkpoint_every: usize,
    /// Seed of the data order and the adapter's initialisation.
    pub seed: u64,
    /// Data preparation.
    pub data: DataOptions,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            method: Method::Lora,
            objective: Objective::Sft,
            hft_round_steps: 0,
            lora: LoraConfig::default(),
            optimizer: AdamWConfig::default(),
            schedule: ScheduleKind::Cosine,
            warmup_steps: 10,
            epochs: 1,
            max_steps: None,
            batch_size: 4,
            grad_accumulation: 1,
            pad_to_multiple_of: None,
            max_grad_norm: Some(1.0),
            eval_every: 50,
            early_stopping_patience: None,
            checkpoint_every: 0,
            seed: 0,
            data: DataOptions::default(),
        }
    }
}

/// What a run reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Before the first step.
    Started {
        /// Optimizer steps planned.
        total_steps: usize,
        /// Training examples.
        train_rows: usize,
        /// Validation examples.
        validation_rows: usize,
        /// The step a resumed run continues from.
        resumed_at: Option<usize>,
    },
    /// A checkpoint was handed to the caller.
    Checkpoint {
        /// Steps it holds.
        step: usize,
    },
    /// After each optimizer step.
    Step {
        /// What the step did.
        report: StepReport,
        /// Trained tokens (those the loss counts) per second over the run so far.
        tokens_per_second: f64,
        /// Positions computed (prompts and padding included) per second over the run so far.
        processed_tokens_per_second: f64,
        /// Seconds left, at the pace so far.
        eta_seconds: f64,
        /// Steps planned.
        total_steps: usize,
    },
    /// After each evaluation.
    Eval {
        /// Steps taken.
        step: usize,
        /// Mean loss per validation token.
        validation_loss: f64,
        /// `exp(validation_loss)`.
        perplexity: f64,
        /// Whether this is the best so far.
        best: bool,
        /// With preference training: the held-out pairs' rewards and accuracy (the loss is
        /// then the preference loss, and `perplexity` only its exponential).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preference: Option<PreferenceStats>,
    },
    /// At the end.
    Finished {
        /// Steps taken.
        steps: usize,
        /// Why it ended: `completed`, `early_stopping` or `stopped`.
        reason: String,
        /// Best validation loss seen, when there was a validation set.
        best_validation_loss: Option<f64>,
        /// Wall time in seconds.
        seconds: f64,
    },
}

impl Event {
    fn eval(step: usize, (loss, preference): Measured, best: bool) -> Self {
        Event::Eval {
            step,
            validation_loss: loss,
            perplexity: loss.exp(),
            best,
            preference,
        }
    }
}

/// A held-out loss, and with preference data what the pairs showed.
type Measured = (f64, Option<PreferenceStats>);

/// The held-out measure of a run: the mean loss per validation token, or with preference
/// pairs the mean preference loss and the pairs' rewards.
async fn measure<M>(
    model: &M,
    data: &Prepared,
    config: &TrainConfig,
    reference: &Reference,
    device: &Device,
) -> Result<Option<Measured>>
where
    M: CausalLm + LinearLayers + Module,
{
    let (pad, size) = (config.padding(data.pad_id), config.batch_size);
    match &data.pairs {
        Some(pairs) if config.objective.is_preference() => {
            let measured = pair_validation(
                model,
                &pairs.validation,
                size,
                pad,
                &config.objective,
                reference,
                device,
            )
            .await?;
            Ok(measured.map(|(loss, stats)| (loss, Some(stats))))
        }
        _ => Ok(validation_loss(model, &data.validation, size, pad, device)
            .await?
            .map(|loss| (loss, None))),
    }
}

/// The mean preference loss over `pairs` (the model's inference copy, no gradients) and what
/// the pairs showed: rewards, margins, accuracy.
pub async fn pair_validation<M>(
    model: &M,
    pairs: &[EncodedPair],
    batch_size: usize,
    pad: Padding,
    objective: &Objective,
    reference: &Reference,
    device: &Device,
) -> Result<Option<(f64, PreferenceStats)>>
where
    M: CausalLm + LinearLayers + Module,
{
    if pairs.is_empty() {
        return Ok(None);
    }
    let model = model.valid();
    let device = device.clone().inner();
    let order: Vec<usize> = (0..pairs.len()).collect();
    let mut read = Vec::new();
    for batch in pair_batches(pairs, &order, batch_size, pad) {
        let (loss, stats) = preference_loss(&model, &batch, objective, reference, &device)?;
        let values = read_f32(Tensor::cat(vec![loss, stats], 0), "validation pairs").await?;
        read.push((batch.pairs(), values));
    }
    let loss = read
        .iter()
        .map(|(n, v)| f64::from(v.first().copied().unwrap_or(f32::NAN)) * *n as f64)
        .sum::<f64>()
        / pairs.len() as f64;
    let parts: Vec<(usize, &[f32])> = read.iter().map(|(n, v)| (*n, &v[1..])).collect();
    Ok(Some((
        loss,
        PreferenceStats::from_values(objective, &parts),
    )))
}

/// What the objective and the data allow together, checked before anything runs.
fn check_objective(data: &Prepared, config: &TrainConfig) -> Result<()> {
    if let Err((setting, problem)) = config.objective.validate() {
        return Err(Error::Setting {
            setting: setting.into(),
            problem,
        });
    }
    let problem = match (&config.objective, &data.pairs) {
        (Objective::Sft, Some(_)) => Some(
            "the data are preference pairs (prompt/chosen/rejected): train them with objective \
             dpo or orpo"
                .into(),
        ),
        (objective, None) if objective.is_preference() => Some(format!(
            "objective {} trains on preference pairs (prompt/chosen/rejected), and {} holds {}",
            objective.name(),
            data.report.file,
            data.report.format
        )),
        (Objective::Dpo { .. }, Some(_)) if config.method != Method::Lora => Some(
            "DPO measures the model against itself with the adapter off, so it trains an \
             adapter (method lora); ORPO needs no reference and trains any method"
                .into(),
        ),
        (objective, Some(_)) if objective.is_preference() && config.data.packing => {
            Some("preference pairs are not packed: set data.packing to false".into())
        }
        _ => None,
    };
    match problem {
        Some(problem) => Err(Error::Input { problem }),
        None => Ok(()),
    }
}

/// A step's micro-batches.
enum Micro {
    Sequences(Vec<Batch>),
    Pairs(Vec<PairBatch>),
}

/// The training examples' order in `epoch`: shuffled from the run's seed.
fn epoch_order(data: &Prepared, config: &TrainConfig, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..data.train.len()).collect();
    shuffle(&mut order, config.seed.wrapping_add(epoch as u64));
    order
}

/// The training examples of each micro-batch of `epoch`, in the order a run without packing
/// takes them (consecutive micro-batches form an optimizer step, `grad_accumulation` at a
/// time; an epoch's last step may have fewer).
pub fn micro_batches(data: &Prepared, config: &TrainConfig, epoch: usize) -> Vec<Vec<usize>> {
    epoch_order(data, config, epoch)
        .chunks(config.batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Optimizer steps in each epoch (with packing, each epoch's order packs differently).
fn steps_in(data: &Prepared, config: &TrainConfig, epoch: usize) -> usize {
    let rows = match config.data.packing {
        true => crate::data::pack(
            &data.train,
            &epoch_order(data, config, epoch),
            config.data.encode.max_len,
        )
        .len(),
        false => data.train.len(),
    };
    rows.div_ceil(config.batch_size.max(1) * config.grad_accumulation.max(1))
}

/// The optimizer steps a run of `config` on `data` takes: every epoch's, or `max_steps`.
pub fn planned_steps(data: &Prepared, config: &TrainConfig) -> usize {
    config.max_steps.unwrap_or(usize::MAX).min(
        (0..config.epochs.max(1))
            .map(|e| steps_in(data, config, e))
            .sum(),
    )
}

/// The mean loss per token over `examples` (the model's inference copy, no gradients).
pub async fn validation_loss<M>(
    model: &M,
    examples: &[Encoded],
    batch_size: usize,
    pad: Padding,
    device: &Device,
) -> Result<Option<f64>>
where
    M: CausalLm + Module,
{
    if examples.is_empty() {
        return Ok(None);
    }
    let model = model.valid();
    let device = device.clone().inner();
    let order: Vec<usize> = (0..examples.len()).collect();
    let (mut sum, mut tokens) = (0.0, 0usize);
    for batch in batches(examples, &order, batch_size, pad, None) {
        let n = batch.trained_tokens();
        let loss = read_f32(causal_lm_loss(&model, &batch, &device)?, "validation loss").await?;
        sum += f64::from(loss.first().copied().unwrap_or(f32::NAN)) * n as f64;
        tokens += n;
    }
    Ok(Some(sum / tokens.max(1) as f64))
}

/// Fine-tunes the adapter attached to `model` (on autodiff device `device`, base frozen) on
/// `data`, calling `on_event` as it goes; `on_event` returning [`Flow::Stop`] ends the run
/// after the current step. Every
/// `config.checkpoint_every` steps (and when stopped) `on_checkpoint` receives a
/// [`Checkpoint`] to store; `resume` continues from one, on the same trajectory.
pub async fn fine_tune<M>(
    model: &mut M,
    data: &Prepared,
    config: &TrainConfig,
    device: &Device,
    resume: Option<&Checkpoint>,
    mut on_event: impl FnMut(&Event) -> Flow,
    mut on_checkpoint: impl FnMut(Checkpoint) -> Result<()>,
) -> Result<Vec<Event>>
where
    M: CausalLm + LinearLayers + Module,
{
    check_objective(data, config)?;
    let pad = config.padding(data.pad_id);
    let accumulation = config.grad_accumulation.max(1);
    let pack = config.data.packing.then_some(config.data.encode.max_len);
    let per_epoch = steps_in(data, config, 0);
    let total_steps = planned_steps(data, config);
    let mut trainer = Trainer::new(
        config.optimizer,
        Schedule {
            kind: config.schedule,
            warmup_steps: config.warmup_steps,
            total_steps,
        },
        config.max_grad_norm,
    );
    trainer.seed = config.seed;
    let round_steps = match config.hft_round_steps {
        0 => per_epoch.max(1),
        n => n,
    };
    let mut round = None;
    let mut state = RunState {
        format_version: FORMAT_VERSION,
        step: 0,
        optimizer_steps: 0,
        epoch: 0,
        group: 0,
        tokens: 0,
        best: None,
        since_best: 0,
        parameter_steps: Default::default(),
        config: config.clone(),
    };
    // Before a checkpoint is restored: the adapter the run started from.
    let reference = match config.objective {
        Objective::Dpo { .. } => Reference::starting_from(model).await?,
        _ => Reference::Base,
    };
    if let Some(checkpoint) = resume {
        // Checked before anything is restored: a refused resume leaves the model as it was.
        if let Some(conflict) =
            super::settings::resume_conflict(&checkpoint.state()?.config, config)
        {
            return Err(Error::Checkpoint {
                file: "state.json".into(),
                problem: format!(
                    "was written by a run with other settings ({conflict}): resume with the \
                     checkpoint's settings, or start a new run"
                ),
            });
        }
        state = checkpoint.restore(model, &mut trainer, device).await?;
        state.config = config.clone();
    }
    let mut log = Vec::new();
    let mut emit = |event: Event, log: &mut Vec<Event>| {
        let flow = on_event(&event);
        log.push(event);
        flow
    };
    emit(
        Event::Started {
            total_steps,
            train_rows: data.train.len(),
            validation_rows: data.validation.len(),
            resumed_at: resume.map(|_| state.step),
        },
        &mut log,
    );
    // The starting point, so that the curve shows what training changed.
    if resume.is_none()
        && let Some(measured) = measure(model, data, config, &reference, device).await?
    {
        emit(Event::eval(0, measured, false), &mut log);
    }
    let start = seconds_now();
    let (start_step, start_tokens) = (state.step, state.tokens);
    let mut processed = 0;
    let mut reason = "completed";
    let mut last_eval = None;
    'epochs: while state.epoch < config.epochs.max(1) {
        let order = epoch_order(data, config, state.epoch);
        let micro = match &data.pairs {
            Some(pairs) => Micro::Pairs(pair_batches(&pairs.train, &order, config.batch_size, pad)),
            None => Micro::Sequences(batches(&data.train, &order, config.batch_size, pad, pack)),
        };
        let groups = match &micro {
            Micro::Sequences(b) => b.len(),
            Micro::Pairs(b) => b.len(),
        }
        .div_ceil(accumulation);
        for group in (0..groups).skip(state.group) {
            let first = group * accumulation;
            if trainer.step >= total_steps {
                break 'epochs;
            }
            let this_round = trainer.step / round_steps;
            if config.method == Method::Half && round != Some(this_round) {
                select_half(model, config.seed, this_round);
                round = Some(this_round);
            }
            let report = match &micro {
                Micro::Sequences(b) => {
                    let group = &b[first..b.len().min(first + accumulation)];
                    trainer.step_accumulated(model, group, device).await?
                }
                Micro::Pairs(b) => {
                    let group = &b[first..b.len().min(first + accumulation)];
                    trainer
                        .step_pairs(model, group, &config.objective, &reference, device)
                        .await?
                }
            };
            crate::platform::yield_now().await;
            state.tokens += report.tokens;
            processed += report.processed_tokens;
            state.group += 1;
            state.step = trainer.step;
            state.optimizer_steps = trainer.optimizer.steps;
            let elapsed = seconds_now() - start;
            let done = trainer.step;
            let pace = elapsed / (done - start_step).max(1) as f64;
            let flow = emit(
                Event::Step {
                    report,
                    tokens_per_second: (state.tokens - start_tokens) as f64 / elapsed.max(1e-9),
                    processed_tokens_per_second: processed as f64 / elapsed.max(1e-9),
                    eta_seconds: pace * (total_steps - done) as f64,
                    total_steps,
                },
                &mut log,
            );
            let eval_now = config.eval_every > 0
                && done.is_multiple_of(config.eval_every)
                && done < total_steps;
            if eval_now
                && let Some(measured) = measure(model, data, config, &reference, device).await?
            {
                let improved = state.record(measured.0);
                last_eval = Some(done);
                emit(Event::eval(done, measured, improved), &mut log);
                if config
                    .early_stopping_patience
                    .is_some_and(|p| state.since_best >= p)
                {
                    reason = "early_stopping";
                    break 'epochs;
                }
            }
            let checkpoint_now = config.checkpoint_every > 0
                && done.is_multiple_of(config.checkpoint_every)
                && done < total_steps;
            if checkpoint_now || flow == Flow::Stop {
                on_checkpoint(Checkpoint::capture(model, &trainer, &state).await?)?;
                emit(Event::Checkpoint { step: done }, &mut log);
            }
            if flow == Flow::Stop {
                reason = "stopped";
                break 'epochs;
            }
        }
        state.epoch += 1;
        state.group = 0;
    }
    // The end point, unless an evaluation just measured it (early stopping).
    if last_eval != Some(trainer.step)
        && let Some(measured) = measure(model, data, config, &reference, device).await?
    {
        let improved = state.record(measured.0);
        emit(Event::eval(trainer.step, measured, improved), &mut log);
    }
    emit(
        Event::Finished {
            steps: trainer.step,
            reason: reason.into(),
            best_validation_loss: state.best,
            seconds: seconds_now() - start,
        },
        &mut log,
    );
    Ok(log)
}
