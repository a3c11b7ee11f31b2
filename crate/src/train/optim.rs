//! AdamW as PyTorch's `torch.optim.AdamW` computes it (decoupled weight decay, bias-corrected
//! moments, `eps` added after the square root), and gradient-norm clipping as
//! `torch.nn.utils.clip_grad_norm_` does it. State lives on the device, outside autodiff.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::params;

/// AdamW's hyper-parameters (PyTorch's defaults but for the learning rate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Peak learning rate (the schedule scales it).
    pub lr: f64,
    /// Decay of the first and second moments.
    pub betas: (f64, f64),
    /// Added to the second moment's square root.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 2e-4,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// One parameter's AdamW state.
#[derive(Debug, Clone)]
pub struct Moments {
    /// First moment (`exp_avg`), flattened.
    pub m: Tensor<1>,
    /// Second moment (`exp_avg_sq`), flattened.
    pub v: Tensor<1>,
    /// Updates this parameter received (its bias corrections count these, as PyTorch keeps a
    /// `step` per parameter).
    pub steps: u64,
}

/// AdamW over named parameters, with state per parameter path (so that a parameter frozen for
/// a while, as Half Fine-Tuning does, keeps its moments and its own step count).
#[derive(Debug, Clone)]
pub struct AdamW {
    /// Hyper-parameters.
    pub config: AdamWConfig,
    /// Updates taken.
    pub steps: u64,
    /// State per parameter path (created at a parameter's first update).
    pub state: BTreeMap<String, Moments>,
}

impl AdamW {
    /// An optimizer with no state yet.
    pub fn new(config: AdamWConfig) -> Self {
        Self {
            config,
            steps: 0,
            state: BTreeMap::new(),
        }
    }

    /// Updates every trainable parameter of `model` that has a gradient in `grads` (by path,
    /// flattened, already clipped) at learning rate `lr`. Parameters stay trainable leaves.
    pub fn step<M: Module>(&mut self, model: &mut M, grads: Vec<(String, Tensor<1>)>, lr: f64) {
        let AdamWConfig {
            betas: (b1, b2),
            eps,
            weight_decay,
            ..
        } = self.config;
        self.steps += 1;
        let mut grads: BTreeMap<String, Tensor<1>> = grads.into_iter().collect();
        let state = &mut self.state;
        params::map(model, |path, value, trainable| {
            let grad = grads.remove(path).filter(|_| trainable)?;
            let s = state.entry(path.to_string()).or_insert_with(|| Moments {
                m: grad.zeros_like(),
                v: grad.zeros_like(),
                steps: 0,
            });
            s.steps += 1;
            let t = s.steps as i32;
            let step_size = lr / (1.0 - b1.powi(t));
            let correction2 = (1.0 - b2.powi(t)).sqrt();
            s.m = s.m.clone().mul_scalar(b1) + grad.clone().mul_scalar(1.0 - b1);
            s.v = s.v.clone().mul_scalar(b2) + (grad.clone() * grad).mul_scalar(1.0 - b2);
            let denom = s.v.clone().sqrt().div_scalar(correction2).add_scalar(eps);
            let value = value.mul_scalar(1.0 - lr * weight_decay)
                - (s.m.clone() / denom).mul_scalar(step_size);
            Some((value, true))
        });
    }
}

/// Each gradient's sum of squares, `[n]` in f32 on the device, for one readback with the
/// loss (`None` without gradients): the squared global L2 norm is their total. On the GPU tier
/// a few gradients per kernel launch ([`crate::nn::fused::sum_squares`]); elsewhere burn's
/// ops, each gradient's sum and the sums' total (`[1]`).
pub fn sums_of_squares(grads: &[(String, Tensor<1>)]) -> Option<Tensor<1>> {
    let tensors: Vec<Tensor<1>> = grads.iter().map(|(_, g)| g.clone()).collect();
    crate::nn::fused::sum_squares(&tensors).or_else(|| {
        tensors
            .into_iter()
            .map(|g| {
                let g = crate::device::to_f32(g);
                (g.clone() * g).sum()
            })
            .reduce(|a, b| a + b)
    })
}

/// Scales `grads` so that their global norm `norm` is at most `max_norm`
/// (`clip_grad_norm_`: coefficient `max_norm / (norm + 1e-6)`, capped at 1).
pub fn clip(grads: Vec<(String, Tensor<1>)>, norm: f64, max_norm: f64) -> Vec<(String, Tensor<1>)> {
    let coef = max_norm / (norm + 1e-6);
    if coef >= 1.0 {
        return grads;
    }
    grads
        .into_iter()
        .map(|(k, g)| (k, g.mul_scalar(coef)))
        .collect()
}
