//! Attention for one new position (a decoded token) in one kernel.
//!
//! One cube per (batch row, query head), one unit per element of the head: the cube walks the
//! keys in tiles of `head_dim` positions — each unit scores one position, then every unit
//! folds the tile into a running softmax (flash-decoding's online form) and its element of
//! the weighted sum of values. Grouped-query heads read their key head in place (no copies of
//! the keys per query head) and the keys are read where the cache holds them.

use burn::backend::Dispatch;
use burn::tensor::Tensor as Burn;
use burn_cubecl::kernel::untile;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::{FusedOps, attention_shape};

/// Widest head the kernel takes (one unit per element; WebGPU guarantees 256 per cube).
const MAX_HEAD_DIM: usize = 256;

/// A score below every real one (WGSL has no infinities).
const LOWEST: f32 = -1e30;

/// `q [batch, 1, heads, head_dim]` (one new position, rotated) attending to every position of
/// `k`, `v` (`[batch, kv_heads, len, head_dim]`) → `[batch, 1, heads·head_dim]`, scaled by
/// `1/sqrt(head_dim)`, no mask. `None` where the kernel does not apply (the device, a head
/// wider than a cube, heads not a multiple of the key heads): the caller computes it as
/// before.
pub fn decode_attention(q: &Burn<4>, k: &Burn<4>, v: &Burn<4>) -> Option<Burn<3>> {
    let [batch, seq, heads, head_dim] = q.dims();
    let [kb, kv_heads, len, kd] = k.dims();
    let fits = seq == 1
        && super::available(&q.device())
        && head_dim <= MAX_HEAD_DIM
        && kv_heads > 0
        && heads % kv_heads == 0
        && [kb, kd] == [batch, head_dim]
        && v.dims() == k.dims()
        && len > 0
        && q.dtype() == k.dtype()
        && q.dtype() == v.dtype();
    fits.then(|| {
        Burn::from_dispatch(Dispatch::fused_decode_attention(
            q.clone().into_dispatch(),
            k.clone().into_dispatch(),
            v.clone().into_dispatch(),
        ))
    })
}

#[cube(launch)]
fn decode_attention_kernel<F: Float>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    out: &mut Tensor<F>,
    scale: f32,
    #[comptime] head_dim: usize,
    #[comptime] group: usize,
    #[define(F)] _dtype: ElemType,
) {
    let head = CUBE_POS_X as usize;
    let row = CUBE_POS_Y as usize;
    let kv = head / group;
    let d = UNIT_POS as usize;
    let len = k.shape(2);
    let mut query = Shared::<[f32]>::new_slice(head_dim);
    let mut scores = Shared::<[f32]>::new_slice(head_dim);
    query[d] = f32::cast_from(q[row * q.stride(0) + head * q.stride(2) + d * q.stride(3)]);
    sync_cube();
    let keys = row * k.stride(0) + kv * k.stride(1);
    let values = row * v.stride(0) + kv * v.stride(1);
    let mut top = f32::new(LOWEST);
    let mut total = f32::new(0.0);
    let mut acc = f32::new(0.0);
    let mut start = 0usize;
    while start < len {
        let t = start + d;
        let mut score = f32::new(LOWEST);
        if t < len {
            let key = keys + t * k.stride(2);
            let mut dot = f32::new(0.0);
            for j in 0..head_dim {
                dot += query[j] * f32::cast_from(k[key + j * k.stride(3)]);
            }
            score = dot * scale;
        }
        scores[d] = score;
        sync_cube();
        let mut tile_top = top;
        for j in 0..head_dim {
            tile_top = max(tile_top, scores[j]);
        }
        let rescale = (top - tile_top).exp();
        total *= rescale;
        acc *= rescale;
        let filled = min(head_dim, len - start);
        for j in 0..filled {
            let p = (scores[j] - tile_top).exp();
            total += p;
            acc += p * f32::cast_from(v[values + (start + j) * v.stride(2) + d * v.stride(3)]);
        }
        top = tile_top;
        sync_cube();
        start += head_dim;
    }
    let at = row * out.stride(0) + head * head_dim + d;
    out[at] = F::cast_from(acc / total);
}

/// Launches the kernel: a cube per (query head, batch row), a unit per head element.
pub(super) fn launch(q: CubeTensor, k: CubeTensor, v: CubeTensor) -> CubeTensor {
    // Views (the cache's first `len` positions, heads moved) are read through their strides;
    // only a storage-tiled tensor is made plain rows.
    let (q, k, v) = (untile(q), untile(k), untile(v));
    let q_shape = q.meta.shape().clone();
    let (batch, heads, head_dim) = (q_shape[0], q_shape[2], q_shape[3]);
    let kv_heads = k.meta.shape()[1];
    let out = empty_device_dtype(
        q.client.clone(),
        q.device.clone(),
        attention_shape(&q_shape),
        q.dtype,
    );
    let client = q.client.clone();
    let dtype = burn::backend::cubecl::dtype_to_storage_type(q.dtype);
    decode_attention_kernel::launch(
        &client,
        CubeCount::Static(heads as u32, batch as u32, 1),
        CubeDim::new_1d(head_dim as u32),
        q.into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        1.0 / (head_dim as f32).sqrt(),
        head_dim,
        heads / kv_heads,
        dtype,
    );
    out
}
