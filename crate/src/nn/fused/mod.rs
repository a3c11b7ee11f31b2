//! webtune's own GPU kernels for decoding: a new token's attention and its RMSNorms, each one
//! launch where burn's ops take several.
//!
//! Written in CubeCL (burn's kernel language: WGSL in the browser, SPIR-V natively) and
//! launched through a burn backend extension. They run on the GPU tier without autodiff, for
//! one position at a time; prompts, the CPU tier and training keep the composite ops, whose
//! gradients the parity tests check. The kernels compute in f32 whatever the tensors'
//! float type and round once at the end.

mod attention;
mod rms_norm;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DispatchDevice, backend_extension};
use burn::tensor::{Device, Shape};
use burn_cubecl::CubeBackend;

pub use attention::decode_attention;
pub use rms_norm::rms_norm;

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
}
