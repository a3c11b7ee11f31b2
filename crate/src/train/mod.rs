//! Training: the causal-LM loss ([`loss`]), AdamW and gradient clipping ([`optim`]),
//! learning-rate schedules ([`schedule`]), the methods ([`Method`]: LoRA/DoRA, full
//! fine-tuning, Half Fine-Tuning), and [`Trainer`], which takes one optimizer step at a time.
//!
//! Whatever the method, the trainer updates exactly the parameters that require a gradient
//! ([`params`]). With LoRA the base is frozen (`no_grad`): only adapter branches are leaves,
//! so no gradient and no optimizer state exist for base weights.

pub mod checkpoint;
pub mod fields;
pub mod loss;
mod method;
pub mod optim;
pub mod params;
pub mod plan;
pub mod preference;
mod run;
pub mod schedule;
pub mod search;
mod settings;
mod stored;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use crate::data::{Batch, IGNORE, PairBatch};
pub use checkpoint::{Checkpoint, RunState};
pub use fields::{Field, FieldKind, fields};
pub use loss::causal_lm_loss;
pub use method::{Method, half_selection, prepare_model, select_half};
pub use optim::{AdamW, AdamWConfig};
pub use plan::{MemoryPlan, PlanModel, Rows, plan};
pub use preference::{Objective, PreferenceStats, Reference, preference_loss};
pub use run::{Event, TrainConfig, fine_tune, micro_batches, planned_steps, validation_loss};
pub use schedule::{Schedule, ScheduleKind};
pub use settings::explain_unknown_field;

use crate::device::read_f32;
use crate::error::Result;
use crate::models::{CausalLm, LinearLayers};

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Step number (0-based).
    pub step: usize,
    /// The loss before the update.
    pub loss: f64,
    /// The learning rate used.
    pub lr: f64,
    /// The gradients' global norm before clipping.
    pub grad_norm: f64,
    /// Tokens trained in this step (those with a label: the answers, in chat data).
    pub tokens: usize,
    /// Positions the model computed in this step, prompts and padding included (rows ×
    /// sequence length, summed over micro-batches): the work done, where `tokens` is what
    /// the loss counts.
    pub processed_tokens: usize,
    /// Whether the update was skipped because the loss or a gradient was not finite.
    pub skipped: bool,
    /// With preference training: the pairs' rewards, margins and accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceStats>,
}

/// Takes optimizer steps on a model's trainable parameters (see [`params`]).
#[derive(Debug, Clone)]
pub struct Trainer {
    /// The optimizer and its state.
    pub optimizer: AdamW,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the gradients' global norm to this, when set.
    pub max_grad_norm: Option<f64>,
    /// Steps taken (skipped ones included).
    pub step: usize,
    /// Seeds the device's random numbers (LoRA dropout) at every step, mixed with the step
    /// number, so that a resumed run draws the same masks.
    pub seed: u64,
}

/// The device's random generator is global (per backend, not per device or thread): each step
/// holds this while it seeds it and draws its dropout masks, so that concurrent runs (tests,
/// two pages' workers in one process) cannot take each other's numbers.
static DEVICE_RANDOM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Summed (weighted) gradients by parameter path, the summed loss, and each micro-batch's
/// values to read back with them.
type Accumulated = (
    Option<Vec<(String, Tensor<1>)>>,
    Option<Tensor<1>>,
    Vec<Tensor<1>>,
);

/// One micro-batch's differentiable loss, its weight in the step, and values to read back.
type Part = (Tensor<1>, f64, Option<Tensor<1>>);

impl Trainer {
    /// Forward and backward passes over `count` micro-batches (`part(model, i)` gives the
    /// `i`-th loss and weight), with the device's generator seeded from the run's seed and
    /// the step (no await inside: the lock is held throughout). Only one micro-batch's graph
    /// is alive at a time.
    fn accumulate<M>(
        &self,
        model: &M,
        count: usize,
        device: &Device,
        mut part: impl FnMut(&M, usize) -> Result<Part>,
    ) -> Result<Accumulated>
    where
        M: CausalLm + Module,
    {
        let _random = DEVICE_RANDOM
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        device.seed(crate::rng::mix(self.seed, self.step as u64));
        let mut sum: Option<Vec<(String, Tensor<1>)>> = None;
        let mut loss_sum: Option<Tensor<1>> = None;
        let mut extras = Vec::new();
        for i in 0..count {
            let (loss, weight, extra) = part(model, i)?;
            extras.extend(extra);
            let grads = loss.clone().backward();
            let grads: Vec<(String, Tensor<1>)> = params::gradients(model, &grads)
                .into_iter()
                .map(|(path, g)| match count {
                    1 => (path, g),
                    _ => (path, g.mul_scalar(weight)),
                })
                .collect();
            sum = Some(match sum {
                Some(acc) => acc
                    .into_iter()
                    .zip(grads)
                    .map(|((path, a), (_, g))| (path, a + g))
                    .collect(),
                None => grads,
            });
            let loss = loss.inner().mul_scalar(weight);
            loss_sum = Some(match loss_sum {
                Some(acc) => acc + loss,
                None => loss,
            });
        }
        Ok((sum, loss_sum, extras))
    }

    /// A trainer at step 0.
    pub fn new(optimizer: AdamWConfig, schedule: Schedule, max_grad_norm: Option<f64>) -> Self {
        Self {
            optimizer: AdamW::new(optimizer),
            schedule,
            max_grad_norm,
            step: 0,
            seed: 0,
        }
    }

    /// One step on `batch`: loss, gradients of the adapter branches, clipping, AdamW. `model`
    /// must live on an autodiff device (`device`), its base frozen. A non-finite loss or
    /// gradient skips the update and says so.
    pub async fn step<M>(
        &mut self,
        model: &mut M,
        batch: &Batch,
        device: &Device,
    ) -> Result<StepReport>
    where
        M: CausalLm + Module,
    {
        self.step_accumulated(model, std::slice::from_ref(batch), device)
            .await
    }

    /// One step over several micro-batches, weighted by their trained tokens (the loss is the
    /// mean over every trained token of the group, as transformers computes it with gradient
    /// accumulation). Only one micro-batch's graph is alive at a time.
    pub async fn step_accumulated<M>(
        &mut self,
        model: &mut M,
        micro_batches: &[Batch],
        device: &Device,
    ) -> Result<StepReport>
    where
        M: CausalLm + Module,
    {
        let total: usize = micro_batches.iter().map(Batch::trained_tokens).sum();
        let accumulated = self.accumulate(model, micro_batches.len(), device, |model, i| {
            let batch = &micro_batches[i];
            let weight = batch.trained_tokens() as f64 / total.max(1) as f64;
            Ok((causal_lm_loss(model, batch, device)?, weight, None))
        })?;
        let processed = micro_batches.iter().map(processed_tokens).sum();
        let (report, _) = self
            .update(model, accumulated, total, processed, device)
            .await?;
        Ok(report)
    }

    /// One step of preference training (`objective`: DPO against `reference`, or ORPO) over
    /// micro-batches of pairs, each weighted by its pairs (the loss is the mean over the step's pairs, as TRL
    /// computes it with equal micro-batches). The report carries the pairs' rewards.
    pub async fn step_pairs<M>(
        &mut self,
        model: &mut M,
        micro_batches: &[PairBatch],
        objective: &Objective,
        reference: &Reference,
        device: &Device,
    ) -> Result<StepReport>
    where
        M: CausalLm + LinearLayers + Module,
    {
        let total: usize = micro_batches.iter().map(PairBatch::pairs).sum();
        let accumulated = self.accumulate(model, micro_batches.len(), device, |model, i| {
            let pairs = &micro_batches[i];
            let weight = pairs.pairs() as f64 / total.max(1) as f64;
            let (loss, stats) = preference_loss(model, pairs, objective, reference, device)?;
            Ok((loss, weight, Some(stats)))
        })?;
        let tokens = micro_batches.iter().map(|p| p.batch.trained_tokens()).sum();
        let processed = micro_batches
            .iter()
            .map(|p| processed_tokens(&p.batch))
            .sum();
        let (mut report, values) = self
            .update(model, accumulated, tokens, processed, device)
            .await?;
        let mut parts = Vec::with_capacity(micro_batches.len());
        let mut at = 0;
        for pairs in micro_batches {
            let len = preference::stats_len(pairs.pairs());
            parts.push((pairs.pairs(), values.get(at..at + len).unwrap_or_default()));
            at += len;
        }
        report.preference = Some(PreferenceStats::from_values(objective, &parts));
        Ok(report)
    }

    /// Reads the step's loss, gradient norm and `extras` back at once, then clips and applies
    /// the update (unless something is not finite). Returns the report and the extras' values.
    async fn update<M>(
        &mut self,
        model: &mut M,
        (sum, loss_sum, extras): Accumulated,
        tokens: usize,
        processed_tokens: usize,
        device: &Device,
    ) -> Result<(StepReport, Vec<f32>)>
    where
        M: CausalLm + Module,
    {
        let grads = sum.unwrap_or_default();
        // One readback per step: the loss, the gradients' sums of squares and the extras.
        let inner = device.clone().inner();
        let loss_sum = loss_sum.unwrap_or_else(|| Tensor::zeros([1], &inner));
        let squares = optim::sums_of_squares(&grads).unwrap_or_else(|| Tensor::zeros([1], &inner));
        let squares_len = squares.dims()[0];
        let values = read_f32(
            Tensor::cat([vec![loss_sum, squares], extras].concat(), 0),
            "loss and gradient norm",
        )
        .await?;
        let (loss_sum, grad_norm) = match values.get(..1 + squares_len) {
            Some([loss, squares @ ..]) => (
                f64::from(*loss),
                squares.iter().map(|&s| f64::from(s)).sum::<f64>().sqrt(),
            ),
            _ => (f64::NAN, f64::NAN),
        };
        let lr = self.optimizer.config.lr * self.schedule.factor(self.step);
        let skipped = !(loss_sum.is_finite() && grad_norm.is_finite());
        if !skipped {
            let grads = match self.max_grad_norm {
                Some(max) => optim::clip(grads, grad_norm, max),
                None => grads,
            };
            self.optimizer.step(model, grads, lr);
        }
        let report = StepReport {
            step: self.step,
            loss: loss_sum,
            lr,
            grad_norm,
            tokens,
            processed_tokens,
            skipped,
            preference: None,
        };
        self.step += 1;
        Ok((
            report,
            values.get(1 + squares_len..).unwrap_or_default().to_vec(),
        ))
    }
}

/// Positions a batch computes (rows × sequence length).
fn processed_tokens(batch: &Batch) -> usize {
    batch.ids.len() * batch.ids.first().map_or(0, Vec::len)
}
