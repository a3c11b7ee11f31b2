//! A low-rank residual branch on a linear layer, `scale · (x·A)·B`: what LoRA trains. It is
//! applied to activations; the full `[in, out]` update `A·B` is never formed while training.
//!
//! With a magnitude vector it is DoRA's: the layer computes
//! `(x·W + scale·(x·A)·B) · m / ‖W + scale·A·B‖_col + bias`, the column norms taken without
//! gradient (DoRA §4.3, as PEFT does) and computed from `W`, `AᵀW` and `AᵀA`, still without
//! forming `A·B`.
//!
//! Its weights are f32 on every device; on a half-precision model it takes and returns the
//! model's activations in their type and computes in f32 between.

use burn::module::{Flag, Module, Param};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::device::{f32_tensor, to_dtype, to_f32};

/// `A` (`[in, rank]`), `B` (`[rank, out]`) and the scale of their product.
#[derive(Module, Debug)]
pub struct LowRank {
    /// `[in, rank]` (PEFT's `lora_A.weight`, transposed).
    pub a: Param<Tensor<2>>,
    /// `[rank, out]` (PEFT's `lora_B.weight`, transposed).
    pub b: Param<Tensor<2>>,
    /// Multiplies the branch's output (LoRA: `alpha / r`, or `alpha / √r` with rsLoRA).
    pub scale: f64,
    /// DoRA's magnitude, `[1, out]` (PEFT's `lora_magnitude_vector`), when it is DoRA.
    pub magnitude: Option<Param<Tensor<2>>>,
    /// Dropout on the branch's input while training (PEFT's `lora_dropout`).
    pub dropout: f64,
    /// Whether dropout is on: it is while training on an autodiff device, and `valid()`
    /// turns it off.
    pub training: Param<Flag>,
}

impl LowRank {
    /// A branch from row-major `a` (`[in, rank]`) and `b` (`[rank, out]`) on `device`, both
    /// trainable.
    pub fn new(
        a: Vec<f32>,
        b: Vec<f32>,
        [inp, rank, out]: [usize; 3],
        scale: f64,
        device: &Device,
    ) -> Self {
        // f32 on every device: AdamW's updates and epsilon vanish in f16.
        let param = |values, shape: [usize; 2]| {
            Param::from_tensor(f32_tensor(TensorData::new(values, shape), device))
        };
        Self {
            a: param(a, [inp, rank]),
            b: param(b, [rank, out]),
            scale,
            magnitude: None,
            dropout: 0.0,
            training: Param::from_bool(true),
        }
    }

    /// `x` with dropout applied (kept entries scaled by `1 / (1 - p)`) while training, else
    /// `x` itself. The mask comes from the device's seeded generator.
    pub fn drop<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if !self.drops(&x) {
            return x;
        }
        let keep = 1.0 - self.dropout;
        let mask = x.random_like(Distribution::Bernoulli(keep));
        (x * mask).mul_scalar(1.0 / keep)
    }

    /// Whether [`LowRank::drop`] changes its input now.
    pub fn drops<const D: usize>(&self, x: &Tensor<D>) -> bool {
        self.dropout > 0.0 && self.training.is_enabled() && x.device().is_autodiff()
    }

    /// Its rank.
    pub fn rank(&self) -> usize {
        self.a.dims()[1]
    }

    /// `‖W + scale·A·B‖` per output column of `weight` (`[in, out]`), `[1, out]`, detached:
    /// `‖W‖² + 2·scale·Σ B⊙(AᵀW) + scale²·Σ (AᵀA·B)⊙B`, summed over the input dimension.
    pub fn column_norms(&self, weight: Tensor<2>) -> Tensor<2> {
        let (a, b, s) = (self.a.val().detach(), self.b.val().detach(), self.scale);
        let weight = to_f32(weight.detach());
        let base = (weight.clone() * weight.clone()).sum_dim(0);
        let cross = (b.clone() * a.clone().transpose().matmul(weight)).sum_dim(0);
        let quad = (a.clone().transpose().matmul(a).matmul(b.clone()) * b).sum_dim(0);
        (base + cross.mul_scalar(2.0 * s) + quad.mul_scalar(s * s)).sqrt()
    }

    /// `[.., in]` → `[.., out]`: `scale · (x·A)·B`, computed in f32 (the adapter's type) and
    /// returned in `x`'s.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // Two plain matmuls over all rows, not broadcast batched ones.
        let linear = super::linear;
        let dtype = x.dtype();
        let y = linear(linear(to_f32(x), self.a.val(), None), self.b.val(), None);
        to_dtype(y.mul_scalar(self.scale), dtype)
    }
}
