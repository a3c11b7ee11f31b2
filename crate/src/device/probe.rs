//! A short timed workload that compares devices on this machine: matrix products of the shape
//! a small model's projections take in a LoRA step, timed after an identical untimed round
//! that compiles the kernels.

use burn::tensor::Tensor;

use super::{ComputeDevice, read_f32};
use crate::error::Result;
use crate::platform;

/// Rows, inner and outer size of each product: 128 tokens through SmolLM2's MLP projection.
const SHAPE: [usize; 3] = [128, 576, 1536];
/// Products per round.
const PRODUCTS: usize = 4;

/// Seconds one round of f32 products takes on `device`, its kernels already compiled: the
/// time from the first product to the read-back of their sum.
pub async fn product_seconds(device: &ComputeDevice) -> Result<f64> {
    round(device).await?;
    let start = platform::seconds_now();
    round(device).await?;
    Ok(platform::seconds_now() - start)
}

/// `PRODUCTS` products, summed and read back (so the device has finished them).
async fn round(device: &ComputeDevice) -> Result<()> {
    let [m, k, n] = SHAPE;
    let on = device.device();
    let mut total = Tensor::<1>::zeros([1], on);
    for i in 0..PRODUCTS {
        let a = Tensor::<2>::full([m, k], 0.01 * (i + 1) as f32, on);
        let b = Tensor::<2>::full([k, n], 0.02, on);
        total = total + a.matmul(b).sum();
    }
    read_f32(total, "the tier probe's products").await?;
    Ok(())
}
