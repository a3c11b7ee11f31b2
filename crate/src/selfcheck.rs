//! A small forward and backward pass that every tier must compute identically.
//!
//! A two-layer perceptron (`x·W1 + b1 → GELU → ·W2 + b2 → softmax cross-entropy`) on fixed
//! inputs exercises what fine-tuning needs from a backend: matmul, broadcast adds,
//! transcendental element-wise ops, reductions, and their gradients. Inputs come from
//! [`fixed_values`], an integer hash that is bit-identical on every platform and in the
//! fixture script (`tests/fixtures/mlp/make_fixture.py`), so the CPU tier, the GPU tier, the
//! browser and PyTorch all start from the same numbers.

use burn::tensor::{Tensor, TensorData, activation};

use crate::nn;
use serde::{Deserialize, Serialize};

use crate::device::{ComputeDevice, read_f32};
use crate::error::Result;
use crate::numerics::{Agreement, Tolerance, compare};

/// Rows in the batch.
pub const BATCH: usize = 8;
/// Input features.
pub const INPUTS: usize = 32;
/// Hidden units.
pub const HIDDEN: usize = 64;
/// Output classes.
pub const CLASSES: usize = 16;

/// `n` values in `[-scale, scale)` from an integer hash of `(seed, index)`.
///
/// Each value is a 24-bit integer times a power of two, so it is exact in `f32` and the same
/// everywhere (no libm involved).
pub fn fixed_values(seed: u32, n: usize, scale: f32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            let mut x = i.wrapping_mul(0x9E37_79B1) ^ seed.wrapping_mul(0x85EB_CA77);
            x ^= x >> 15;
            x = x.wrapping_mul(0x2C1B_3C6D);
            x ^= x >> 12;
            x = x.wrapping_mul(0x297A_2D39);
            x ^= x >> 15;
            ((x >> 8) as f32 / (1u32 << 23) as f32 - 1.0) * scale
        })
        .collect()
}

/// The class of row `i` in the fixed batch.
pub fn target_class(i: usize) -> usize {
    (i * 7 + 3) % CLASSES
}

/// One named tensor's values, flattened row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Named {
    /// The tensor's name (`w1`, `b1`, …).
    pub name: String,
    /// Its values.
    pub values: Vec<f32>,
}

/// The loss and parameter gradients of the self-check network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpCheck {
    /// Mean cross-entropy over the batch.
    pub loss: f32,
    /// Gradients of the loss with respect to `w1`, `b1`, `w2`, `b2`, in that order.
    pub grads: Vec<Named>,
}

impl MlpCheck {
    /// Checks this result against `reference` (another tier, or PyTorch's fixture).
    pub fn compare(&self, reference: &MlpCheck, tol: Tolerance) -> Result<Agreement> {
        let mut agreement = compare("loss", &[self.loss], &[reference.loss], tol)?;
        let names = |c: &MlpCheck| c.grads.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
        if names(self) != names(reference) {
            return Err(crate::numerics::Mismatch::Length {
                what: format!("gradients {:?} vs {:?}", names(self), names(reference)),
                left: self.grads.len(),
                right: reference.grads.len(),
            }
            .into());
        }
        for (grad, expected) in self.grads.iter().zip(&reference.grads) {
            let what = format!("grad {}", grad.name);
            agreement = agreement.worst(compare(&what, &grad.values, &expected.values, tol)?);
        }
        Ok(agreement)
    }
}

fn matrix(values: Vec<f32>, shape: [usize; 2], device: &burn::tensor::Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn vector(values: Vec<f32>, device: &burn::tensor::Device) -> Tensor<1> {
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [len]), device)
}

/// Runs the self-check network's forward and backward pass on `device`.
pub async fn run_mlp(device: &ComputeDevice) -> Result<MlpCheck> {
    let ad = device.autodiff();
    let x = matrix(fixed_values(1, BATCH * INPUTS, 1.0), [BATCH, INPUTS], &ad);
    let w1 = matrix(fixed_values(2, INPUTS * HIDDEN, 0.2), [INPUTS, HIDDEN], &ad).require_grad();
    let b1 = vector(fixed_values(3, HIDDEN, 0.1), &ad).require_grad();
    let w2 = matrix(
        fixed_values(4, HIDDEN * CLASSES, 0.2),
        [HIDDEN, CLASSES],
        &ad,
    )
    .require_grad();
    let b2 = vector(fixed_values(5, CLASSES, 0.1), &ad).require_grad();
    let mut one_hot = vec![0.0; BATCH * CLASSES];
    for row in 0..BATCH {
        one_hot[row * CLASSES + target_class(row)] = 1.0;
    }
    let targets = matrix(one_hot, [BATCH, CLASSES], &ad);

    // [batch, hidden]
    let hidden = nn::gelu(x.matmul(w1.clone()) + b1.clone().unsqueeze::<2>());
    // [batch, classes]
    let logits = hidden.matmul(w2.clone()) + b2.clone().unsqueeze::<2>();
    // [1]
    let loss = (activation::log_softmax(logits, 1) * targets)
        .sum_dim(1)
        .mean()
        .neg();

    let grads = loss.backward();
    let mut named = Vec::with_capacity(4);
    for (name, grad) in [
        ("w1", w1.grad(&grads).map(|g| g.reshape([-1]))),
        ("b1", b1.grad(&grads)),
        ("w2", w2.grad(&grads).map(|g| g.reshape([-1]))),
        ("b2", b2.grad(&grads)),
    ] {
        let values = match grad {
            Some(grad) => read_f32(grad, name).await?,
            None => Vec::new(),
        };
        named.push(Named {
            name: name.to_string(),
            values,
        });
    }
    let loss = read_f32(loss, "loss").await?;
    Ok(MlpCheck {
        loss: loss.first().copied().unwrap_or(f32::NAN),
        grads: named,
    })
}

/// How closely the GPU tier must match the CPU tier on the self-check network (f32; about 1e-8
/// is seen on lavapipe and SwiftShader).
pub const GPU_VS_CPU: Tolerance = Tolerance::new(1e-6, 1e-4);

/// The outcome of [`gpu_vs_cpu`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfCheckReport {
    /// The tier that was checked.
    pub tier: crate::Tier,
    /// The network's loss on that tier.
    pub loss: f32,
    /// How closely its loss and gradients matched the CPU tier's.
    pub vs_cpu: Agreement,
    /// The tolerance they were held to.
    pub tolerance: Tolerance,
}

/// Runs the self-check network on `device` and on the CPU tier and checks that they agree to
/// [`GPU_VS_CPU`]; a disagreement is an [`Error::Mismatch`](crate::Error::Mismatch) naming the
/// first differing value.
pub async fn gpu_vs_cpu(device: &ComputeDevice) -> Result<SelfCheckReport> {
    let on_device = run_mlp(device).await?;
    let on_cpu = run_mlp(&ComputeDevice::cpu()).await?;
    Ok(SelfCheckReport {
        tier: device.tier(),
        loss: on_device.loss,
        vs_cpu: on_device.compare(&on_cpu, GPU_VS_CPU)?,
        tolerance: GPU_VS_CPU,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_values_are_stable_and_in_range() {
        let v = fixed_values(7, 1000, 0.5);
        assert!(v.iter().all(|x| (-0.5..0.5).contains(x)));
        // Pinned so that the Python twin in the fixture script cannot drift silently.
        assert_eq!(
            fixed_values(1, 4, 1.0),
            [-0.4506687, -0.4720075, -0.31665075, -0.40573776]
        );
    }
}
