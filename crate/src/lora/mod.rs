//! LoRA: trainable low-rank branches (`nn::LowRank`) attached to a model's linear layers by
//! module path. Models know nothing of it; they list their layers through
//! [`crate::models::LinearLayers`] and this module decides which get a branch.
//!
//! Initialisation follows PEFT: `A` Kaiming-uniform (bound `1/√in`), `B` zero, and with DoRA
//! the magnitude the weight's column norms, so that a fresh adapter leaves the model's outputs
//! unchanged. [`peft`] reads and writes PEFT's files; [`gguf`] writes llama.cpp's adapter
//! files.

mod config;
pub mod gguf;
pub mod peft;

pub use config::{LoraConfig, Targets};

use burn::module::Param;
use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};
use crate::models::LinearLayers;
use crate::nn::LowRank;
use crate::rng::Rng;

/// Attaches a fresh adapter (PEFT's initialisation, seeded) to every layer `config` targets.
/// Returns the paths of the adapted layers. A config that targets no layer is an error that
/// lists the layers there are.
pub fn attach(
    model: &mut impl LinearLayers,
    config: &LoraConfig,
    seed: u64,
    device: &Device,
) -> Result<Vec<String>> {
    attach_with(model, config, device, |path, [inp, out], rank| {
        // kaiming_uniform_(a=√5) on a [rank, in] weight: bound = 1/√in.
        let mut rng = Rng::new(seed ^ fnv1a(path));
        let bound = 1.0 / (inp as f32).sqrt();
        let a = (0..inp * rank)
            .map(|_| rng.uniform(-bound, bound))
            .collect();
        (a, vec![0.0; rank * out])
    })
}

/// Attaches branches to the layers `config` targets, with `A` and `B` (row-major `[in, rank]`
/// and `[rank, out]`) from `init(path, [in, out], rank)`.
pub(crate) fn attach_with(
    model: &mut impl LinearLayers,
    config: &LoraConfig,
    device: &Device,
    mut init: impl FnMut(&str, [usize; 2], usize) -> (Vec<f32>, Vec<f32>),
) -> Result<Vec<String>> {
    config.validate().map_err(|problem| Error::Adapter {
        name: "config".into(),
        problem,
    })?;
    let mut attached = Vec::new();
    let mut all = Vec::new();
    for (path, linear) in model.linear_layers_mut() {
        if config.target_modules.matches(&path) {
            let [inp, out] = linear.shape();
            let (a, b) = init(&path, [inp, out], config.r);
            let mut branch = LowRank::new(a, b, [inp, config.r, out], config.scale(), device);
            branch.dropout = config.lora_dropout;
            if config.use_dora {
                let norms = branch.column_norms(linear.weight.val()).inner();
                branch.magnitude = Some(Param::from_tensor(Tensor::from_inner(norms)));
            }
            linear.low_rank = Some(branch);
            attached.push(path.clone());
        }
        all.push(path);
    }
    if attached.is_empty() {
        return Err(unmatched("config", &config.target_modules, &all, ""));
    }
    Ok(attached)
}

/// The error for `targets` (of the adapter config `name`) that match none of `paths`; `hint`
/// ends the message.
pub(crate) fn unmatched(name: &str, targets: &Targets, paths: &[String], hint: &str) -> Error {
    let names: std::collections::BTreeSet<&str> =
        paths.iter().filter_map(|p| p.rsplit('.').next()).collect();
    Error::Adapter {
        name: name.into(),
        problem: format!(
            "target_modules {targets:?} matches no layer of this model (its linear layers are \
             named {}){hint}",
            names.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Folds every branch into its layer's weight (`W + scale·A·B`) and removes it: the model then
/// computes what it computed with the adapter, at the base model's cost.
pub fn merge(model: &mut impl LinearLayers) {
    for (_, linear) in model.linear_layers_mut() {
        if let Some(branch) = linear.low_rank.take() {
            let delta = branch
                .a
                .val()
                .matmul(branch.b.val())
                .mul_scalar(branch.scale);
            // In f32 (the branch's type), stored back in the base's.
            let base = linear.weight.val();
            let dtype = base.dtype();
            let mut weight = crate::device::to_f32(base) + delta;
            if let Some(m) = &branch.magnitude {
                weight = weight * (m.val() / branch.column_norms(linear.weight.val()));
            }
            let weight = crate::device::to_dtype(weight, dtype);
            linear.weight = crate::nn::Weight::Dense(
                Param::from_tensor(weight.detach()).set_require_grad(false),
            );
        }
    }
}

/// Removes every adapter branch.
pub fn detach(model: &mut impl LinearLayers) {
    for (_, linear) in model.linear_layers_mut() {
        linear.low_rank = None;
    }
}

/// Removes every adapter branch and returns them by layer path: an adapter kept apart from
/// the model (its tensors stay where they are, on the device).
pub fn take(model: &mut impl LinearLayers) -> Vec<(String, LowRank)> {
    model
        .linear_layers_mut()
        .into_iter()
        .filter_map(|(path, linear)| linear.low_rank.take().map(|b| (path, b)))
        .collect()
}

/// Attaches `branches` (from [`take`]) to their layers, replacing any branch there, each with
/// its scale times `scale` (1: as trained; 0: off). Sharing tensors, not copying them: an
/// adapter goes on in no time, however large the base.
pub fn put(model: &mut impl LinearLayers, branches: &[(String, LowRank)], scale: f64) {
    detach(model);
    for (path, linear) in model.linear_layers_mut() {
        if let Some((_, branch)) = branches.iter().find(|(p, _)| *p == path) {
            let mut branch = branch.clone();
            branch.scale *= scale;
            linear.low_rank = Some(branch);
        }
    }
}

/// Bytes the branches' tensors take (f32).
pub fn branch_bytes(branches: &[(String, LowRank)]) -> u64 {
    let numel = |t: &Param<Tensor<2>>| t.dims().iter().product::<usize>() as u64;
    branches
        .iter()
        .map(|(_, b)| numel(&b.a) + numel(&b.b) + b.magnitude.as_ref().map_or(0, numel))
        .sum::<u64>()
        * 4
}

/// The trainable tensors of every attached branch, by PEFT's key
/// (`base_model.model.{path}.lora_A.weight`), in model order.
pub fn parameters(model: &impl LinearLayers) -> Vec<(String, &Param<Tensor<2>>)> {
    let mut out = Vec::new();
    for (path, linear) in model.linear_layers() {
        if let Some(branch) = &linear.low_rank {
            out.push((peft::key(&path, "lora_A"), &branch.a));
            out.push((peft::key(&path, "lora_B"), &branch.b));
            if let Some(m) = &branch.magnitude {
                out.push((peft::key(&path, "lora_magnitude_vector"), m));
            }
        }
    }
    out
}

/// FNV-1a of a path: gives each layer its own stream from one seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
