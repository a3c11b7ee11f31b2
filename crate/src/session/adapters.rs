//! Several adapters on one open model: each PEFT adapter loaded by name is kept beside the
//! model (its branches on the device, the base shared), and generation picks one — or none, or
//! the model's own — with a scale, per call. Choosing costs no reload: the chosen branches are
//! attached to a view of the model that shares every tensor.

use burn::module::Module;
use serde::{Deserialize, Serialize};

use super::{Session, no_model};
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::lora::{self, LoraConfig};
use crate::models::Model;
use crate::nn::LowRank;

/// An adapter kept by name.
pub(super) struct Slot {
    name: String,
    config: LoraConfig,
    branches: Vec<(String, LowRank)>,
}

/// What a kept adapter is, as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdapterSummary {
    /// Its name.
    pub name: String,
    /// Rank.
    pub r: usize,
    /// Layers it adapts.
    pub layers: usize,
    /// Device memory its tensors take: what each extra adapter costs.
    pub bytes: u64,
}

impl Slot {
    fn summary(&self) -> AdapterSummary {
        AdapterSummary {
            name: self.name.clone(),
            r: self.config.r,
            layers: self.branches.len(),
            bytes: lora::branch_bytes(&self.branches),
        }
    }
}

/// Which adapter a call computes with.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AdapterChoice {
    /// A kept adapter by name; `None`: the model's own adapter (trained or imported).
    pub name: Option<String>,
    /// Its scale: 1 as trained (the default), 0 the base model, anything between or beyond.
    pub scale: Option<f64>,
}

impl Session {
    /// Loads a PEFT adapter (`adapter_config.json`'s bytes, `adapter_model.safetensors`) and
    /// keeps it as `name` beside the open model, which stays as it is. Refuses a name already
    /// kept, and an adapter for another base (as `import_adapter` does).
    pub async fn load_adapter(
        &mut self,
        name: &str,
        config_json: &[u8],
        weights: &impl ByteSource,
    ) -> Result<AdapterSummary> {
        if name.trim().is_empty() || self.adapters.iter().any(|s| s.name == name) {
            return Err(Error::Input {
                problem: format!("an adapter needs a name no other adapter has (got {name:?})"),
            });
        }
        let device = self.device.autodiff();
        let open = self.model.as_ref().ok_or_else(no_model)?;
        let mut view = open.loaded.model.clone().no_grad();
        let info = lora::peft::load(&mut view, config_json, weights, &device).await?;
        let slot = Slot {
            name: name.to_string(),
            config: info.config,
            branches: lora::take(&mut view),
        };
        let summary = slot.summary();
        self.adapters.push(slot);
        Ok(summary)
    }

    /// The adapters kept, in the order loaded.
    pub fn adapters(&self) -> Vec<AdapterSummary> {
        self.adapters.iter().map(Slot::summary).collect()
    }

    /// Forgets the adapter kept as `name`.
    pub fn remove_adapter(&mut self, name: &str) -> Result<()> {
        let before = self.adapters.len();
        self.adapters.retain(|s| s.name != name);
        match self.adapters.len() < before {
            true => Ok(()),
            false => Err(self.unknown_adapter(name)),
        }
    }

    fn unknown_adapter(&self, name: &str) -> Error {
        let names: Vec<&str> = self.adapters.iter().map(|s| s.name.as_str()).collect();
        Error::Input {
            problem: format!("no adapter is kept as {name:?} (kept: {names:?})"),
        }
    }

    /// The open model for inference with `choice`'s adapter: a view sharing every tensor with
    /// the open model, with the chosen branches attached at the chosen scale.
    pub fn model_with(&self, choice: &AdapterChoice) -> Result<Model> {
        let open = self.model()?;
        let mut model = open.loaded.model.valid();
        let scale = choice.scale.unwrap_or(1.0);
        if !scale.is_finite() {
            return Err(Error::Setting {
                setting: "adapter scale".into(),
                problem: format!("{scale} is not a number"),
            });
        }
        match &choice.name {
            Some(name) => {
                let slot = self
                    .adapters
                    .iter()
                    .find(|s| &s.name == name)
                    .ok_or_else(|| self.unknown_adapter(name))?;
                let branches: Vec<_> = slot
                    .branches
                    .iter()
                    .map(|(p, b)| (p.clone(), b.clone().valid()))
                    .collect();
                lora::put(&mut model, &branches, scale);
            }
            None if scale != 1.0 => {
                let branches = lora::take(&mut model);
                lora::put(&mut model, &branches, scale);
            }
            None => {}
        }
        Ok(model)
    }
}
