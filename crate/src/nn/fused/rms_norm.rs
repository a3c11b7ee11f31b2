//! RMSNorm in one kernel: one cube per row, a tree sum of squares in shared memory.

use burn::backend::Dispatch;
use burn::tensor::Tensor as Burn;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::{FusedOps, MAX_UNITS, cube_sum, prev_power_of_two};

/// `x [.., hidden] / sqrt(mean(x²) + eps) · weight [hidden]` in one launch, computed in f32
/// and rounded to `x`'s type before the scale (as transformers does in half precision). For
/// tensors on a device where [`super::available`] holds.
pub fn rms_norm<const D: usize>(x: Burn<D>, weight: Burn<1>, eps: f64) -> Burn<D> {
    Burn::from_dispatch(Dispatch::fused_rms_norm(
        x.into_dispatch(),
        weight.into_dispatch(),
        eps,
    ))
}

#[cube(launch)]
fn rms_norm_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    out: &mut Tensor<F>,
    rows: usize,
    eps: f32,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let row = CUBE_POS;
    if row >= rows {
        terminate!();
    }
    let width = weight.shape(0);
    let base = row * width;
    let unit = UNIT_POS as usize;
    let mut sum = f32::new(0.0);
    let mut i = unit;
    while i < width {
        let value = f32::cast_from(x[base + i]);
        sum += value * value;
        i += units;
    }
    let total = cube_sum(sum, unit, units);
    let rms = (total / f32::cast_from(width) + eps).sqrt();
    let mut j = unit;
    while j < width {
        let normed = f32::cast_from(x[base + j]) / rms;
        out[base + j] = F::cast_from(normed) * weight[j];
        j += units;
    }
}

/// Launches the kernel: one cube per row of `x`'s last dimension.
pub(super) fn launch(x: CubeTensor, weight: CubeTensor, eps: f32) -> CubeTensor {
    let x = into_contiguous(x);
    let weight = into_contiguous(weight);
    let shape = x.meta.shape().clone();
    let width = weight.meta.shape()[0];
    let rows = shape.num_elements() / width.max(1);
    let out = empty_device_dtype(x.client.clone(), x.device.clone(), shape, x.dtype);
    if rows == 0 {
        return out;
    }
    let max_units = (x.client.properties().hardware.max_units_per_cube as usize).min(MAX_UNITS);
    // A power of two for the tree sum, no wider than the row needs.
    let units = width
        .next_power_of_two()
        .clamp(1, prev_power_of_two(max_units));
    let client = x.client.clone();
    let cube_count = cubecl::calculate_cube_count_elemwise(&client, rows, CubeDim::new_single());
    let dtype = burn::backend::cubecl::dtype_to_storage_type(x.dtype);
    rms_norm_kernel::launch(
        &client,
        cube_count,
        CubeDim::new_1d(units as u32),
        x.into_tensor_arg(),
        weight.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        rows,
        eps,
        units,
        dtype,
    );
    out
}
