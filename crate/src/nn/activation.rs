//! Activations whose backward pass is exact on every tier.
//!
//! burn 0.22's GPU (CubeCL) backend differentiates the exact, erf-based `gelu` with the
//! derivative of the *tanh approximation* (`burn-backend`'s default `gelu_backward`), while its
//! CPU backend uses the exact derivative. The two tiers then disagree by about 3e-4 relative on
//! the gradients flowing through a GELU, and neither matches PyTorch on the GPU. webtune's
//! GELU is one operation with the exact gradient written out, on every backend.
//!
//! Softmax and log-softmax compute in f32 on half-precision tensors.

use burn::tensor::{Tensor, activation};

use crate::device::{to_dtype, to_f32};

/// Exact GELU, `x · ½ · (1 + erf(x / √2))` (PyTorch's `F.gelu` default, BERT's `"gelu"`),
/// with an exact gradient on every backend ([`super::closed_form::gelu`]).
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    super::closed_form::gelu(x)
}

/// GELU's tanh approximation, `½x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (GPT-2's `"gelu_new"`,
/// PyTorch's `approximate="tanh"`), composed from `tanh` so that its gradient is autodiff's.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let inner = (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715))
        .mul_scalar((2.0 / std::f64::consts::PI).sqrt());
    x.clone() * inner.tanh().add_scalar(1.0).mul_scalar(0.5)
}

/// Softmax over `dim`, computed in f32 and returned in `x`'s float type (transformers'
/// attention does the same in half precision: exponentials of f16 scores lose too much).
/// One differentiable operation with its gradient written out ([`super::closed_form`]).
pub fn softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let dtype = x.dtype();
    to_dtype(super::closed_form::softmax(to_f32(x), dim), dtype)
}

/// Log-softmax over `dim`, in f32 whatever `x`'s float type (for losses: a half-precision
/// log-sum-exp over a vocabulary is off by more than a training step changes it).
pub fn log_softmax_f32<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    activation::log_softmax(to_f32(x), dim)
}
