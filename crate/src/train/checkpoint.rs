//! Checkpoints: everything needed to continue a run exactly where it stopped — the trained
//! parameters (a LoRA run's adapter as PEFT's files; a full or HFT run's every parameter), the
//! optimizer's moments, the step, the data position and the run's config (whose seed fixes
//! every data order, dropout mask and HFT round) — as named files that the caller writes
//! atomically (a folder natively, OPFS in the page).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::optim::Moments;
use super::stored::{Layout, join_blocks};
use super::{Method, TrainConfig, Trainer, params};
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::io::MemorySource;
use crate::io::safetensors::{SafetensorsFile, write_f32};
use crate::lora::peft;
use crate::models::LinearLayers;

/// The checkpoint format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

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
    /// Updates each parameter received (by module path), for AdamW's bias corrections.
    #[serde(default)]
    pub parameter_steps: BTreeMap<String, u64>,
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
    /// `state.json` and `optimizer.safetensors`, plus `adapter_config.json` and
    /// `adapter_model.safetensors` (LoRA) or `parameters.safetensors` (full, HFT).
    pub files: BTreeMap<String, Vec<u8>>,
}

const STATE: &str = "state.json";
const ADAPTER_CONFIG: &str = "adapter_config.json";
const ADAPTER: &str = "adapter_model.safetensors";
const PARAMETERS: &str = "parameters.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";

/// Reads `tensors` (flattened, with their parameter paths) back to the host, row blocks
/// joined into their whole matrices (see [`super::stored`]), names ending in `suffix`.
async fn host(
    tensors: Vec<(String, Tensor<1>)>,
    suffix: &str,
) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>> {
    let mut read = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        read.push((name.clone(), read_f32(tensor, &name).await?));
    }
    Ok(join_blocks(read)
        .into_iter()
        .map(|(name, values)| (format!("{name}{suffix}"), vec![values.len()], values))
        .collect())
}

impl Checkpoint {
    /// Every file name a checkpoint may hold.
    pub const FILES: [&'static str; 5] = [STATE, ADAPTER_CONFIG, ADAPTER, PARAMETERS, OPTIMIZER];

    /// Captures `model`'s trained parameters, `trainer`'s optimizer and `state`.
    pub async fn capture<M: LinearLayers + Module>(
        model: &M,
        trainer: &Trainer,
        state: &RunState,
    ) -> Result<Self> {
        let mut files = BTreeMap::new();
        if state.config.method == Method::Lora {
            let (config, adapter) = peft::save(model, &state.config.lora, "checkpoint").await?;
            files.insert(ADAPTER_CONFIG.to_string(), config);
            files.insert(ADAPTER.to_string(), adapter);
        } else {
            let all = params::all(model)
                .into_iter()
                .map(|(p, v, _)| (p, v))
                .collect();
            let parameters = write_f32(PARAMETERS, &host(all, "").await?)?;
            files.insert(PARAMETERS.to_string(), parameters);
        }
        let layout = Layout::of(model);
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut state = state.clone();
        state.parameter_steps.clear();
        for (path, s) in &trainer.optimizer.state {
            first.push((path.clone(), s.m.clone()));
            second.push((path.clone(), s.v.clone()));
            state.parameter_steps.insert(layout.stored(path), s.steps);
        }
        let mut moments = host(first, ".exp_avg").await?;
        moments.extend(host(second, ".exp_avg_sq").await?);
        files.insert(OPTIMIZER.to_string(), write_f32(OPTIMIZER, &moments)?);
        let state_json = serde_json::to_vec_pretty(&state).map_err(|err| Error::Adapter {
            name: "checkpoint".into(),
            problem: format!("cannot write {STATE}: {err}"),
        })?;
        files.insert(STATE.to_string(), state_json);
        Ok(Self { files })
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
        let version: serde_json::Value = serde_json::from_slice(self.file(STATE)?)
            .map_err(|err| fail(format!("is not JSON: {err}")))?;
        let written = version["format_version"].as_u64();
        if written != Some(u64::from(FORMAT_VERSION)) {
            return Err(fail(format!(
                "was written in checkpoint format {}, this build reads {FORMAT_VERSION}",
                written.map_or("(none)".into(), |v| v.to_string())
            )));
        }
        let state: RunState = serde_json::from_value(version)
            .map_err(|err| fail(format!("is not a webtune run state: {err}")))?;
        // The run's settings are checked here, where the file they came from can be named.
        state
            .config
            .validate()
            .map_err(|err| fail(format!("holds settings out of range: {err}")))?;
        Ok(state)
    }

    /// Puts the trained parameters into `model` (for LoRA, the adapter is attached; for full
    /// and HFT runs, every parameter is replaced, keeping whether it is trainable); returns
    /// the run state. This is how a checkpoint is exported without continuing the run.
    pub async fn load_into<M: LinearLayers + Module>(
        &self,
        model: &mut M,
        device: &Device,
    ) -> Result<RunState> {
        let state = self.state()?;
        if state.config.method == Method::Lora {
            // state.json and adapter_config.json describe one adapter, or the export would
            // write one's settings beside the other's tensors.
            let info = peft::parse_config(ADAPTER_CONFIG, self.file(ADAPTER_CONFIG)?)?;
            let (saved, stored) = (&state.config.lora, &info.config);
            let differs = [
                ("r", saved.r as f64, stored.r as f64),
                ("lora_alpha", saved.lora_alpha, stored.lora_alpha),
                (
                    "use_dora",
                    f64::from(saved.use_dora),
                    f64::from(stored.use_dora),
                ),
                (
                    "use_rslora",
                    f64::from(saved.use_rslora),
                    f64::from(stored.use_rslora),
                ),
            ]
            .into_iter()
            .find(|(_, a, b)| a != b);
            if let Some((key, a, b)) = differs {
                return Err(Error::Checkpoint {
                    file: STATE.into(),
                    problem: format!(
                        "says lora.{key} is {a}, but {ADAPTER_CONFIG} beside it says {b}: the \
                         checkpoint's files come from different runs"
                    ),
                });
            }
            let adapter = MemorySource::new(ADAPTER, self.file(ADAPTER)?.to_vec());
            peft::load(model, self.file(ADAPTER_CONFIG)?, &adapter, device).await?;
            return Ok(state);
        }
        let values = self.read_all(PARAMETERS, device).await?;
        let layout = Layout::of(model);
        let mut missing = Vec::new();
        params::map(model, |path, value, trainable| {
            match layout.take(&values, path, "") {
                Some(v) if v.dims() == value.dims() => Some((v, trainable)),
                _ => {
                    missing.push(path.to_string());
                    None
                }
            }
        });
        match missing.first() {
            Some(path) => Err(Error::Adapter {
                name: PARAMETERS.into(),
                problem: format!(
                    "has no tensor of the right size for `{path}` ({} missing): is it for \
                     another model?",
                    missing.len()
                ),
            }),
            None => Ok(state),
        }
    }

    /// Puts the trained parameters back into `model` (prepared for the run's method, on
    /// autodiff `device`) and the optimizer state into `trainer`; returns the run state.
    pub async fn restore<M: LinearLayers + Module>(
        &self,
        model: &mut M,
        trainer: &mut Trainer,
        device: &Device,
    ) -> Result<RunState> {
        let state = self.load_into(model, device).await?;
        let moments = self.read_all(OPTIMIZER, device).await?;
        let layout = Layout::of(model);
        let mut optimizer = BTreeMap::new();
        for path in layout.paths() {
            let stored = layout.stored(path);
            let Some(&steps) = state.parameter_steps.get(&stored) else {
                continue;
            };
            let get = |suffix: &str| {
                layout
                    .take(&moments, path, &format!(".{suffix}"))
                    .ok_or_else(|| Error::Adapter {
                        name: OPTIMIZER.into(),
                        problem: format!("has no `{stored}.{suffix}`"),
                    })
            };
            let (m, v) = (get("exp_avg")?, get("exp_avg_sq")?);
            optimizer.insert(path.to_string(), Moments { m, v, steps });
        }
        trainer.optimizer.state = optimizer;
        trainer.optimizer.steps = state.optimizer_steps;
        trainer.step = state.step;
        Ok(state)
    }

    /// Every tensor of the safetensors file `name`, flattened, on `device`'s inner device.
    async fn read_all(&self, name: &str, device: &Device) -> Result<BTreeMap<String, Tensor<1>>> {
        let source = MemorySource::new(name, self.file(name)?.to_vec());
        let file = SafetensorsFile::open(&source).await?;
        let inner = device.clone().inner();
        let mut out = BTreeMap::new();
        for key in file.tensors.keys() {
            let values = file.read_f32(&source, key).await?;
            let n = values.len();
            out.insert(
                key.clone(),
                // f32 whatever the device's default: adapter weights and optimizer state are.
                crate::device::f32_tensor(TensorData::new(values, [n]), &inner),
            );
        }
        Ok(out)
    }
}
