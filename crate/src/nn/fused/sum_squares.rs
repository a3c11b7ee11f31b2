//! Sums of squares of many small tensors (a LoRA's gradients, for their global norm), several
//! tensors per launch.
//!
//! Composed of burn's ops each tensor's sum of squares is three launches (the squares, a
//! zeroed accumulator, the sum) and the sums' total a chain of additions: ~1,370 launches
//! for SmolLM2's 420 LoRA matrices, a fifth of a training step. Here one cube sums one
//! tensor (a tree sum in shared memory, in f32), a launch takes five tensors, and each launch
//! also copies the sums so far: the last output holds every tensor's sum, in order, for one
//! readback.

use burn::backend::Dispatch;
use burn::tensor::{DType, Tensor as Burn};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::{FusedOps, MAX_UNITS, cube_sum, prev_power_of_two};

/// Tensors summed per launch (placeholders fill the slots a last launch leaves empty). With
/// the sums so far and the output that is seven storage buffers, what every WebGPU device
/// binds (eight per stage, one of which wgpu keeps).
const PER_LAUNCH: usize = 5;

/// Largest tensor the kernel sums (one cube per tensor; bigger ones, as full fine-tuning's
/// embeddings, are better summed by burn's multi-cube reduction).
const MAX_ELEMENTS: usize = 1 << 20;

/// Each tensor's sum of squares, `[tensors.len()]` in f32, in order: `None` where the kernel
/// does not apply (not the GPU tier, an empty list, a tensor over a million elements, mixed
/// float types); the caller composes it from burn's ops.
pub fn sum_squares(tensors: &[Burn<1>]) -> Option<Burn<1>> {
    let first = tensors.first()?;
    let dtype = first.dtype();
    let fits = super::available(&first.device())
        && tensors
            .iter()
            .all(|t| t.dtype() == dtype && t.dims()[0] <= MAX_ELEMENTS);
    if !fits {
        return None;
    }
    let device = first.device();
    let dummy = || Burn::<1>::empty([1], (&device, dtype));
    // The first launch copies none of it: a placeholder, not an upload.
    let mut sums = Burn::<1>::empty([1], (&device, DType::F32));
    let mut keep = 0;
    for chunk in tensors.chunks(PER_LAUNCH) {
        let mut slots: Vec<_> = chunk.iter().map(|t| t.clone().into_dispatch()).collect();
        slots.resize_with(PER_LAUNCH, || dummy().into_dispatch());
        let [g0, g1, g2, g3, g4]: [_; PER_LAUNCH] = slots.try_into().ok()?;
        let out = Dispatch::fused_sum_squares(
            g0,
            g1,
            g2,
            g3,
            g4,
            sums.into_dispatch(),
            keep,
            chunk.len(),
        );
        sums = Burn::from_dispatch(out);
        keep += chunk.len();
    }
    Some(sums)
}

/// Cube `k < count` writes `out[keep + k]`, the sum of squares of `g<k>`; the cube after
/// them copies `prev[..keep]` into `out[..keep]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn sum_squares_kernel<F: Float>(
    g0: &Tensor<F>,
    g1: &Tensor<F>,
    g2: &Tensor<F>,
    g3: &Tensor<F>,
    g4: &Tensor<F>,
    prev: &Tensor<f32>,
    out: &mut Tensor<f32>,
    keep: usize,
    count: usize,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let cube = CUBE_POS;
    let unit = UNIT_POS as usize;
    if cube == count {
        let mut i = unit;
        while i < keep {
            out[i] = prev[i];
            i += units;
        }
        terminate!();
    }
    let sum = if cube == 0 {
        squares(g0, unit, units)
    } else if cube == 1 {
        squares(g1, unit, units)
    } else if cube == 2 {
        squares(g2, unit, units)
    } else if cube == 3 {
        squares(g3, unit, units)
    } else {
        squares(g4, unit, units)
    };
    let total = cube_sum(sum, unit, units);
    if unit == 0 {
        out[keep + cube] = total;
    }
}

/// This unit's share of `t`'s sum of squares: elements `unit`, `unit + units`, ….
#[cube]
fn squares<F: Float>(t: &Tensor<F>, unit: usize, #[comptime] units: usize) -> f32 {
    let mut sum = f32::new(0.0);
    let mut i = unit;
    while i < t.len() {
        let value = f32::cast_from(t[i]);
        sum += value * value;
        i += units;
    }
    sum
}

/// Launches the kernel: a cube per summed tensor and one that copies the sums so far.
pub(super) fn launch(
    inputs: [CubeTensor; PER_LAUNCH],
    prev: CubeTensor,
    keep: usize,
    count: usize,
) -> CubeTensor {
    let client = prev.client.clone();
    let out = empty_device_dtype(
        client.clone(),
        prev.device.clone(),
        [keep + count].into(),
        prev.dtype,
    );
    let units = prev_power_of_two(
        (client.properties().hardware.max_units_per_cube as usize).min(MAX_UNITS),
    );
    let dtype = burn::backend::cubecl::dtype_to_storage_type(inputs[0].dtype);
    let [g0, g1, g2, g3, g4] = inputs.map(into_contiguous);
    sum_squares_kernel::launch(
        &client,
        CubeCount::Static(count as u32 + 1, 1, 1),
        CubeDim::new_1d(units as u32),
        g0.into_tensor_arg(),
        g1.into_tensor_arg(),
        g2.into_tensor_arg(),
        g3.into_tensor_arg(),
        g4.into_tensor_arg(),
        prev.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        keep,
        count,
        units,
        dtype,
    );
    out
}
