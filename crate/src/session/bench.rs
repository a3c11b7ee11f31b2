//! Speed of the open model on this session's device, and compiling its kernels ahead.

use serde::Serialize;

use super::{Session, policy};
use crate::bench::{self, BenchConfig, BenchReport, WarmUpShape};
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::flow::Flow;
use crate::models::Model;
use crate::train::{Method, TrainConfig};

/// What [`Session::warm_up`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarmUp {
    /// Whether it compiled anything.
    pub ran: bool,
    /// Seconds it took.
    pub seconds: f64,
    /// Why it did not run (empty when it ran).
    pub reason: String,
}

/// A warm-up holding what it needs of the session (the model's weights are shared, not
/// copied), so that it can run while the session serves other calls.
#[derive(Debug)]
pub struct WarmUpTask {
    model: Model,
    device: ComputeDevice,
    shape: WarmUpShape,
}

impl WarmUpTask {
    /// Runs it (see [`bench::warm_up`]); `go_on` can stop it after its training step.
    pub async fn run(self, go_on: impl FnMut() -> Flow) -> Result<WarmUp> {
        let seconds = bench::warm_up(&self.model, &self.device, &self.shape, go_on).await?;
        Ok(WarmUp {
            ran: true,
            seconds,
            reason: String::new(),
        })
    }
}

impl Session {
    /// Times a LoRA training step and generated tokens on the open model and counts the GPU
    /// kernels each launches (see [`bench::run`]); the model and its adapters are unchanged.
    /// `go_on` can stop it ([`Flow::Stop`], after a step or a token: an error of kind
    /// `stopped`).
    pub async fn bench(
        &self,
        config: &BenchConfig,
        go_on: impl FnMut() -> Flow,
    ) -> Result<BenchReport> {
        let open = self.model()?;
        bench::run(&open.loaded.model, &self.device, config, go_on).await
    }

    /// The warm-up of a run of `config` on the open model (and the loaded data), or why
    /// there is none: see [`policy::warm_up_skipped`]; only LoRA runs are warmed up, and only
    /// those that fit the memory budget.
    pub fn warm_up_task(
        &self,
        config: &TrainConfig,
    ) -> Result<std::result::Result<WarmUpTask, WarmUp>> {
        let open = self.model()?;
        let config = match self.data {
            Some(_) => self.on_loaded_data(config.clone())?,
            None => config.clone(),
        };
        let skip = |reason: &str| {
            Ok(Err(WarmUp {
                ran: false,
                seconds: 0.0,
                reason: reason.to_string(),
            }))
        };
        if let Some(reason) = policy::warm_up_skipped(&self.device) {
            return skip(reason);
        }
        if config.method != Method::Lora {
            return skip("only LoRA runs are warmed up");
        }
        if !self.plan(&config, None)?.fits {
            return skip("the run does not fit this device's memory");
        }
        Ok(Ok(WarmUpTask {
            model: open.loaded.model.clone(),
            device: self.device.clone(),
            shape: WarmUpShape {
                lora: config.lora.clone(),
                rows: config.rows_per_batch(),
                seq: self.planned_rows(&config).len,
            },
        }))
    }

    /// Compiles the GPU kernels a run of `config` and an answer need on the open model, so
    /// that the first training step and the first answer do not wait for them (the page runs
    /// it while a person chooses the run's settings); the model is unchanged. Skipped where
    /// it would not pay.
    pub async fn warm_up(
        &self,
        config: &TrainConfig,
        go_on: impl FnMut() -> Flow,
    ) -> Result<WarmUp> {
        match self.warm_up_task(config)? {
            Ok(task) => task.run(go_on).await,
            Err(skipped) => Ok(skipped),
        }
    }
}
