//! Training: the causal-LM loss ([`loss`]), AdamW and gradient clipping ([`optim`]),
//! learning-rate schedules ([`schedule`]), the methods ([`Method`]: LoRA/DoRA, full
//! fine-tuning, Half Fine-Tuning), and [`Trainer`], which takes one optimizer step at a time.
//!
//! Whatever the method, the trainer updates exactly the parameters that require a gradient
//! ([`params`]). With LoRA the base is frozen (`no_grad`): only adapter branches are leaves,
//! so no gradient and no optimizer state exist for base weights.

pub mod checkpoint;
pub mod loss;
mod method;
pub mod optim;
pub mod params;
pub mod plan;
mod run;
pub mod schedule;
mod settings;
mod stored;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use crate::data::{Batch, IGNORE};
pub use checkpoint::{Checkpoint, RunState};
pub use loss::causal_lm_loss;
pub use method::{Method, half_selection, prepare_model, select_half};
pub use optim::{AdamW, AdamWConfig};
pub use plan::{MemoryPlan, PlanModel, plan};
pub use run::{Event, TrainConfig, fine_tune, micro_batches, planned_steps, validation_loss};
pub use schedule::{Schedule, ScheduleKind};
pub use settings::explain_unknown_field;

use crate::device::read_f32;
use crate::error::Result;
use crate::models::CausalLm;

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

/// Summed (token-weighted) gradients by parameter path, and the summed loss.
type Accumulated = (Option<Vec<(String, Tensor<1>)>>, Option<Tensor<1>>);

impl Trainer {
    /// Forward and backward passes over `micro_batches`, with the device's generator seeded
    /// from the run's seed and the step (no await inside: the lock is held throughout).
    fn accumulate<M>(
        &self,
        model: &M,
        micro_batches: &[Batch],
        total: usize,
        device: &Device,
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
        for batch in micro_batches {
            let weight = batch.trained_tokens() as f64 / total.max(1) as f64;
            let loss = causal_lm_loss(model, batch, device)?;
            let grads = loss.clone().backward();
            let grads: Vec<(String, Tensor<1>)> = params::gradients(model, &grads)
                .into_iter()
                .map(|(path, g)| match micro_batches.len() {
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
        Ok((sum, loss_sum))
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
        let (sum, loss_sum) = self.accumulate(model, micro_batches, total, device)?;
        let grads = sum.unwrap_or_default();
        // One readback per step: the loss and the gradients' squared norm together.
        let inner = device.clone().inner();
        let loss_sum = loss_sum.unwrap_or_else(|| Tensor::zeros([1], &inner));
        let norm = optim::squared_norm(&grads).unwrap_or_else(|| Tensor::zeros([1], &inner));
        let both = read_f32(
            Tensor::cat(vec![loss_sum, norm], 0),
            "loss and gradient norm",
        )
        .await?;
        let (loss_sum, grad_norm) = match both[..] {
            [loss, squared] => (f64::from(loss), f64::from(squared).sqrt()),
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
            tokens: total,
            processed_tokens: micro_batches
                .iter()
                .map(|b| b.ids.len() * b.ids.first().map_or(0, Vec::len))
                .sum(),
            skipped,
        };
        self.step += 1;
        Ok(report)
    }
}
