//! Activations whose backward pass is exact on every tier.
//!
//! burn 0.22's GPU (CubeCL) backend differentiates the exact, erf-based `gelu` with the
//! derivative of the *tanh approximation* (`burn-backend`'s default `gelu_backward`), while its
//! CPU backend uses the exact derivative. The two tiers then disagree by about 3e-4 relative on
//! the gradients flowing through a GELU, and neither matches PyTorch on the GPU. Composing GELU
//! from `erf` lets autodiff derive the exact gradient everywhere.

use burn::tensor::Tensor;

/// Exact GELU, `x · ½ · (1 + erf(x / √2))` (PyTorch's `F.gelu` default, BERT's `"gelu"`),
/// with an exact gradient on every backend.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let cdf = x
        .clone()
        .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5);
    x * cdf
}

/// GELU's tanh approximation, `½x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (GPT-2's `"gelu_new"`,
/// PyTorch's `approximate="tanh"`), composed from `tanh` so that its gradient is autodiff's.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let inner = (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715))
        .mul_scalar((2.0 / std::f64::consts::PI).sqrt());
    x.clone() * inner.tanh().add_scalar(1.0).mul_scalar(0.5)
}
