//! A low-rank residual branch on a linear layer, `scale · (x·A)·B`: what LoRA trains. It is
//! applied to activations; the full `[in, out]` update `A·B` is never formed while training.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// `A` (`[in, rank]`), `B` (`[rank, out]`) and the scale of their product.
#[derive(Module, Debug)]
pub struct LowRank {
    /// `[in, rank]` (PEFT's `lora_A.weight`, transposed).
    pub a: Param<Tensor<2>>,
    /// `[rank, out]` (PEFT's `lora_B.weight`, transposed).
    pub b: Param<Tensor<2>>,
    /// Multiplies the branch's output (LoRA: `alpha / r`, or `alpha / √r` with rsLoRA).
    pub scale: f64,
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
        let param = |values, shape: [usize; 2]| {
            Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
        };
        Self {
            a: param(a, [inp, rank]),
            b: param(b, [rank, out]),
            scale,
        }
    }

    /// Its rank.
    pub fn rank(&self) -> usize {
        self.a.dims()[1]
    }

    /// `[.., in]` → `[.., out]`: `scale · (x·A)·B`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let a = self.a.val().unsqueeze::<D>();
        let b = self.b.val().unsqueeze::<D>();
        x.matmul(a).matmul(b).mul_scalar(self.scale)
    }
}
