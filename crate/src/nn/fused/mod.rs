//! webtune's own GPU kernels, each one launch (or a few) where burn's ops take many: a
//! decoded token's attention and its RMSNorms, and the sums of squares behind the gradients'
//! norm.
//!
//! Written in CubeCL (burn's kernel language: WGSL in the browser, SPIR-V natively) and
//! launched through a burn backend extension. They run on the GPU tier without autodiff
//! (decoding one position at a time; gradients once computed); prompts, the CPU tier and the
//! forward and backward passes of training keep the composite ops, whose gradients the parity
//! tests check. The kernels compute in f32 whatever the tensors' float type and round once at
//! the end.

mod attention;
mod rms_norm;
mod sum_squares;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DispatchDevice, backend_extension};
use burn::tensor::{Device, Shape};
use burn_cubecl::CubeBackend;
use cubecl::prelude::*;

pub use attention::decode_attention;
pub use rms_norm::rms_norm;
pub use sum_squares::sum_squares;

/// Units per cube: WebGPU guarantees 256 invocations per workgroup.
const MAX_UNITS: usize = 256;

/// `value` summed over the cube's `units` units (a power of two, each unit's own value)
/// through shared memory: pairs `stride` apart, strides doubling. Every unit gets the sum.
#[cube]
fn cube_sum(value: f32, unit: usize, #[comptime] units: usize) -> f32 {
    let mut partial = Shared::<[f32]>::new_slice(units);
    partial[unit] = value;
    sync_cube();
    let mut stride = 1usize;
    while stride < units {
        if unit & (2 * stride - 1) == 0 {
            let other = partial[unit + stride];
            partial[unit] += other;
        }
        sync_cube();
        stride *= 2;
    }
    partial[0]
}

/// The largest power of two at most `n` (1 for 0).
fn prev_power_of_two(n: usize) -> usize {
    match n {
        0 => 1,
        n => 1 << (usize::BITS - 1 - n.leading_zeros()),
    }
}

/// Whether tensors on `device` can take these kernels: the GPU tier, outside autodiff.
pub fn available(device: &Device) -> bool {
    matches!(device.as_dispatch(), DispatchDevice::Cube(_))
}

/// `[batch, 1, heads, head_dim]` → `[batch, 1, heads·head_dim]`.
fn attention_shape(q: &Shape) -> Shape {
    Shape::from([q[0], q[1], q[2] * q[3]])
}

/// The fused kernels as a backend extension (GPU backends only: callers check
/// [`available`] first).
#[backend_extension(Cube, Fusion)]
pub trait FusedOps: Backend {
    /// `x / sqrt(mean(x²) + eps) · weight` over the last dimension.
    #[fusion(dtype = x, shape = x)]
    fn fused_rms_norm(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self>;

    /// One query position `q [batch, 1, heads, head_dim]` attending to every position of
    /// `k`, `v` (`[batch, kv_heads, len, head_dim]`, query head `h` reading key head
    /// `h / (heads / kv_heads)`), scaled by `1/sqrt(head_dim)`.
    #[fusion(dtype = q, shape = attention_shape(q))]
    fn fused_decode_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `prev[..keep]` (f32) followed by the sums of squares of the first `count` of
    /// `g0..g4` (the rest are placeholders), in f32: `[keep + count]`.
    #[allow(clippy::too_many_arguments)]
    #[fusion(dtype = prev, shape = Shape::from([*keep + *count]))]
    fn fused_sum_squares(
        g0: FloatTensor<Self>,
        g1: FloatTensor<Self>,
        g2: FloatTensor<Self>,
        g3: FloatTensor<Self>,
        g4: FloatTensor<Self>,
        prev: FloatTensor<Self>,
        keep: usize,
        count: usize,
    ) -> FloatTensor<Self>;
}

impl FusedOps for CubeBackend {
    fn fused_rms_norm(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        rms_norm::launch(x, weight, eps as f32)
    }

    fn fused_decode_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        attention::launch(q, k, v)
    }

    fn fused_sum_squares(
        g0: FloatTensor<Self>,
        g1: FloatTensor<Self>,
        g2: FloatTensor<Self>,
        g3: FloatTensor<Self>,
        g4: FloatTensor<Self>,
        prev: FloatTensor<Self>,
        keep: usize,
        count: usize,
    ) -> FloatTensor<Self> {
        sum_squares::launch([g0, g1, g2, g3, g4], prev, keep, count)
    }
}
