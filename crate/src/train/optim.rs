//! AdamW as PyTorch's `torch.optim.AdamW` computes it (decoupled weight decay, bias-corrected
//! moments, `eps` added after the square root), and gradient-norm clipping as
//! `torch.nn.utils.clip_grad_norm_` does it. State lives on the device, outside autodiff.

use burn::module::Param;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// AdamW's hyper-parameters (PyTorch's defaults but for the learning rate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

/// AdamW over a fixed list of 2-D parameters.
#[derive(Debug, Clone)]
pub struct AdamW {
    /// Hyper-parameters.
    pub config: AdamWConfig,
    /// Steps taken.
    pub steps: u64,
    /// First and second moments per parameter (created at the first step).
    moments: Vec<(Tensor<2>, Tensor<2>)>,
}

impl AdamW {
    /// An optimizer with no state yet.
    pub fn new(config: AdamWConfig) -> Self {
        Self {
            config,
            steps: 0,
            moments: Vec::new(),
        }
    }

    /// First and second moments per parameter, in parameter order (empty before the first
    /// step).
    pub fn moments(&self) -> &[(Tensor<2>, Tensor<2>)] {
        &self.moments
    }

    /// Continues from a saved state: `steps` taken and the moments they left.
    pub fn restore(&mut self, steps: u64, moments: Vec<(Tensor<2>, Tensor<2>)>) {
        self.steps = steps;
        self.moments = moments;
    }

    /// One update of `params` with `grads` (same order, already clipped) at learning rate
    /// `lr`. Parameters stay trainable leaves of the autodiff graph.
    pub fn step(&mut self, params: Vec<&mut Param<Tensor<2>>>, grads: Vec<Tensor<2>>, lr: f64) {
        let AdamWConfig {
            betas: (b1, b2),
            eps,
            weight_decay,
            ..
        } = self.config;
        if self.moments.is_empty() {
            self.moments = grads
                .iter()
                .map(|g| (g.zeros_like(), g.zeros_like()))
                .collect();
        }
        self.steps += 1;
        let t = self.steps as i32;
        let step_size = lr / (1.0 - b1.powi(t));
        let correction2 = (1.0 - b2.powi(t)).sqrt();
        for ((param, grad), (m, v)) in params.into_iter().zip(grads).zip(&mut self.moments) {
            *m = m.clone().mul_scalar(b1) + grad.clone().mul_scalar(1.0 - b1);
            *v = v.clone().mul_scalar(b2) + (grad.clone() * grad).mul_scalar(1.0 - b2);
            let denom = v.clone().sqrt().div_scalar(correction2).add_scalar(eps);
            let value = param.val().inner().mul_scalar(1.0 - lr * weight_decay)
                - (m.clone() / denom).mul_scalar(step_size);
            *param = Param::from_tensor(Tensor::from_inner(value));
        }
    }
}

/// The squared global L2 norm of `grads`, `[1]`, on the device (`None` without gradients).
pub fn squared_norm(grads: &[Tensor<2>]) -> Option<Tensor<1>> {
    grads
        .iter()
        .map(|g| (g.clone() * g.clone()).sum())
        .reduce(|a, b| a + b)
}

/// Scales `grads` so that their global norm `norm` is at most `max_norm`
/// (`clip_grad_norm_`: coefficient `max_norm / (norm + 1e-6)`, capped at 1).
pub fn clip(grads: Vec<Tensor<2>>, norm: f64, max_norm: f64) -> Vec<Tensor<2>> {
    let coef = max_norm / (norm + 1e-6);
    if coef >= 1.0 {
        return grads;
    }
    grads.into_iter().map(|g| g.mul_scalar(coef)).collect()
}
