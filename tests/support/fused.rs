//! webtune's own kernels (`nn::fused`) against the composite ops they replace.

use webtune::burn::module::Param;
use webtune::burn::tensor::{DType, FloatDType, Tensor, TensorData};
use webtune::device::read_f32;
use webtune::nn::RmsNorm;
use webtune::numerics::{Tolerance, compare};
use webtune::selfcheck::fixed_values;
use webtune::{ComputeDevice, Result, Tier};

/// The same values on `device`, in `dtype`, and on the CPU tier rounded to `dtype` and back
/// to f32 (the reference's input; no readback, which the browser cannot block on).
fn tensors<const D: usize>(
    seed: u32,
    shape: [usize; D],
    dtype: FloatDType,
    device: &ComputeDevice,
) -> (Tensor<D>, Tensor<D>) {
    let data = TensorData::new(fixed_values(seed, shape.iter().product(), 1.0), shape);
    let on = Tensor::<D>::from_data(data.clone(), device.device()).cast(dtype);
    let cpu = Tensor::<D>::from_data(data, ComputeDevice::cpu().device());
    (on, cpu.cast(dtype).cast(FloatDType::F32))
}

/// Attention of one position over `k`, `v` as the models compute it without the kernel:
/// key heads repeated per query head, scores scaled, softmax, weighted values.
fn composite_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<3> {
    let [batch, _, heads, head_dim] = q.dims();
    let [_, kv_heads, len, _] = k.dims();
    let group = heads / kv_heads;
    let repeat = |x: Tensor<4>| {
        x.unsqueeze_dim::<5>(2)
            .expand([batch, kv_heads, group, len, head_dim])
            .reshape([batch, heads, len, head_dim])
    };
    let q = q.swap_dims(1, 2);
    let scores = q
        .matmul(repeat(k).swap_dims(2, 3))
        .div_scalar((head_dim as f64).sqrt());
    webtune::nn::softmax(scores, 3)
        .matmul(repeat(v))
        .swap_dims(1, 2)
        .reshape([batch as i32, 1, -1])
}

/// On the GPU tier (outside autodiff) RMSNorm and a decoded token's attention are one kernel
/// each and compute the CPU tier's composite numbers — in f32, and in f16 where the adapter
/// has it; on the CPU tier the kernels are not offered.
pub async fn fused_kernels_match_composite(device: &ComputeDevice) -> Result<()> {
    let offered = webtune::nn::fused::available(device.device());
    assert_eq!(offered, device.tier() == Tier::Gpu, "{}", device.tier());
    assert!(!webtune::nn::fused::available(
        &device.device().clone().autodiff()
    ));
    let mut dtypes = vec![(FloatDType::F32, 1e-5)];
    if device.tier() == Tier::Gpu && device.device().supports_dtype(DType::F16) {
        dtypes.push((FloatDType::F16, 4e-3));
    }
    for (dtype, rel) in dtypes {
        // RMSNorm: SmolLM2's width, a width that is not a power of two and one past a cube.
        for (rows, width) in [(3, 576), (2, 37), (1, 300)] {
            let (x, x_cpu) = tensors(31, [1, rows, width], dtype, device);
            let (w, w_cpu) = tensors(32, [width], dtype, device);
            let norm = |w: Tensor<1>| RmsNorm {
                weight: Param::from_tensor(w),
                eps: 1e-5,
            };
            let got = read_f32(norm(w).forward(x), "fused RMSNorm").await?;
            let want = read_f32(norm(w_cpu).forward(x_cpu), "RMSNorm").await?;
            let name = format!("RMSNorm {rows}×{width} {dtype:?}");
            compare(&name, &got, &want, Tolerance::new(rel * 10.0, rel))?;
        }
        // Attention of a decoded token: SmolLM2's heads (9 query, 3 key heads of 64) over a
        // cache shorter than a tile, one tile, and several with a partial last one, the keys
        // read from the first `len` positions of a longer buffer as the KV cache holds them.
        for (batch, heads, kv_heads, head_dim, len) in [
            (1, 9, 3, 64, 1),
            (1, 9, 3, 64, 64),
            (2, 9, 3, 64, 150),
            (1, 4, 4, 8, 21),
        ] {
            let capacity = len + 17;
            let (q, q_cpu) = tensors(41, [batch, 1, heads, head_dim], dtype, device);
            let (k, k_cpu) = tensors(42, [batch, kv_heads, capacity, head_dim], dtype, device);
            let (v, v_cpu) = tensors(43, [batch, kv_heads, capacity, head_dim], dtype, device);
            let (k, v) = (k.narrow(2, 0, len), v.narrow(2, 0, len));
            let (k_cpu, v_cpu) = (k_cpu.narrow(2, 0, len), v_cpu.narrow(2, 0, len));
            let fused = webtune::nn::fused::decode_attention(&q, &k, &v);
            let name = format!("decode attention {batch}×{heads}/{kv_heads}×{head_dim}, {len}");
            let Some(fused) = fused else {
                assert!(!offered, "{name}: the kernel was not taken on the GPU tier");
                continue;
            };
            let got = read_f32(fused, &name).await?;
            let want = read_f32(composite_attention(q_cpu, k_cpu, v_cpu), "attention").await?;
            compare(&name, &got, &want, Tolerance::new(rel * 10.0, rel))?;
        }
    }
    Ok(())
}
