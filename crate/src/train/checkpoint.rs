//! Checkpoints: everything needed to continue a run exactly where it stopped — the adapter
//! (PEFT's files), the optimizer's moments, the step, the data position and the run's config
//! (whose seed fixes every data order) — as named files that the caller writes atomically
//! (a folder natively, OPFS in the page).

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{TrainConfig, Trainer};
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::io::MemorySource;
use crate::io::safetensors::{SafetensorsFile, write_f32};
use crate::lora::{self, peft};
use crate::models::LinearLayers;

/// The checkpoint format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Where a run is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Steps taken (skipped ones included).
    pub step: usize,
    /// Updates the optimizer applied (its bias corrections count these).
    pub optimizer_steps: u64,
    /// The epoch in progress.
    pub epoch: usize,
    /// Step groups of that epoch already consumed.
    pub group: usize,
    /// Trained tokens so far.
    pub tokens: usize,
    /// Best validation loss so far.
    pub best: Option<f64>,
    /// Evaluations since the best.
    pub since_best: usize,
    /// The run's configuration.
    pub config: TrainConfig,
}

impl RunState {
    /// Records a validation loss; says whether it is the best so far.
    pub(crate) fn record(&mut self, loss: f64) -> bool {
        let improved = self.best.is_none_or(|b| loss < b);
        if improved {
            self.best = Some(loss);
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        improved
    }
}

/// A checkpoint's files, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// `state.json`, `adapter_config.json`, `adapter_model.safetensors`,
    /// `optimizer.safetensors`.
    pub files: BTreeMap<String, Vec<u8>>,
}

const STATE: &str = "state.json";
const ADAPTER_CONFIG: &str = "adapter_config.json";
const ADAPTER: &str = "adapter_model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";

impl Checkpoint {
    /// The files a checkpoint consists of.
    pub const FILES: [&'static str; 4] = [STATE, ADAPTER_CONFIG, ADAPTER, OPTIMIZER];

    /// Captures `model`'s adapter, `trainer`'s optimizer and `state`.
    pub async fn capture(
        model: &impl LinearLayers,
        trainer: &Trainer,
        state: &RunState,
    ) -> Result<Self> {
        let (config, adapter) = peft::save(model, &state.config.lora, "checkpoint").await?;
        let mut moments = Vec::new();
        let keys = lora::parameters(model).into_iter().map(|(key, _)| key);
        for (key, (m, v)) in keys.zip(trainer.optimizer.moments()) {
            for (suffix, tensor) in [("exp_avg", m), ("exp_avg_sq", v)] {
                let shape = tensor.dims().to_vec();
                let values = read_f32(tensor.clone(), &key).await?;
                moments.push((format!("{key}.{suffix}"), shape, values));
            }
        }
        let state_json = serde_json::to_vec_pretty(state).map_err(|err| Error::Adapter {
            name: "checkpoint".into(),
            problem: format!("cannot write {STATE}: {err}"),
        })?;
        let files = [
            (STATE, state_json),
            (ADAPTER_CONFIG, config),
            (ADAPTER, adapter),
            (OPTIMIZER, write_f32(&moments)),
        ];
        Ok(Self {
            files: files.into_iter().map(|(n, b)| (n.to_string(), b)).collect(),
        })
    }

    fn file(&self, name: &str) -> Result<&[u8]> {
        self.files
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::Adapter {
                name: "checkpoint".into(),
                problem: format!("has no {name}"),
            })
    }

    /// The run state it holds, refusing another format version.
    pub fn state(&self) -> Result<RunState> {
        let fail = |problem: String| Error::Adapter {
            name: format!("checkpoint {STATE}"),
            problem,
        };
        let state: RunState = serde_json::from_slice(self.file(STATE)?)
            .map_err(|err| fail(format!("is not a webtune run state: {err}")))?;
        if state.format_version != FORMAT_VERSION {
            return Err(fail(format!(
                "was written in checkpoint format {}, this build reads {FORMAT_VERSION}",
                state.format_version
            )));
        }
        Ok(state)
    }

    /// Puts the adapter back on `model` (frozen base, autodiff `device`) and the optimizer
    /// state into `trainer`; returns the run state.
    pub async fn restore(
        &self,
        model: &mut impl LinearLayers,
        trainer: &mut Trainer,
        device: &Device,
    ) -> Result<RunState> {
        let state = self.state()?;
        let adapter = MemorySource::new(ADAPTER, self.file(ADAPTER)?.to_vec());
        peft::load(model, self.file(ADAPTER_CONFIG)?, &adapter, device).await?;
        let source = MemorySource::new(OPTIMIZER, self.file(OPTIMIZER)?.to_vec());
        let file = SafetensorsFile::open(&source).await?;
        let mut moments = Vec::new();
        let inner = device.clone().inner();
        if !file.tensors.is_empty() {
            for (key, param) in lora::parameters(model) {
                let mut pair = Vec::with_capacity(2);
                for suffix in ["exp_avg", "exp_avg_sq"] {
                    let name = format!("{key}.{suffix}");
                    let values = file.read_f32(&source, &name).await?;
                    let shape = param.dims();
                    if values.len() != shape[0] * shape[1] {
                        return Err(Error::Adapter {
                            name: OPTIMIZER.into(),
                            problem: format!("`{name}` does not fit its parameter {shape:?}"),
                        });
                    }
                    pair.push(Tensor::from_data(TensorData::new(values, shape), &inner));
                }
                let v = pair.pop();
                let m = pair.pop();
                if let (Some(m), Some(v)) = (m, v) {
                    moments.push((m, v));
                }
            }
        }
        trainer.optimizer.restore(state.optimizer_steps, moments);
        trainer.step = state.step;
        Ok(state)
    }
}
