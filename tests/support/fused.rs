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
/// has it; on the CPU tier the kernels are not offered. And on every tier the operations with
/// written-out gradients match autodiff's through the composite ops.
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
        sums_of_squares_match(device, dtype).await?;
    }
    closed_form_gradients_match_composite(device).await
}

/// `nn::rms_normalize`'s, `nn::softmax`'s and `nn::gelu`'s written-out gradients (and, on
/// the CPU tier, GELU's own kernel) against autodiff's through the composite ops
/// (`x / sqrt(mean(x²) + eps)`; burn's softmax; `x · ½ · (1 + erf(x / √2))`), under a loss
/// that weights every output differently.
async fn closed_form_gradients_match_composite(device: &ComputeDevice) -> Result<()> {
    let autodiff = device.device().clone().autodiff();
    type Op<'a> = &'a dyn Fn(Tensor<3>) -> Tensor<3>;
    let rms = |x: Tensor<3>| {
        let rms = (x.clone() * x.clone()).mean_dim(2).add_scalar(1e-5).sqrt();
        x / rms
    };
    let gelu = |x: Tensor<3>| {
        let cdf = x
            .clone()
            .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
            .erf()
            .add_scalar(1.0)
            .mul_scalar(0.5);
        x * cdf
    };
    let cases: [(&str, Op, Op); 4] = [
        (
            "rms_normalize",
            &|x| webtune::nn::rms_normalize(x, 1e-5),
            &rms,
        ),
        ("softmax, last dim", &|x| webtune::nn::softmax(x, 2), &|x| {
            webtune::burn::tensor::activation::softmax(x, 2)
        }),
        (
            "softmax, middle dim",
            &|x| webtune::nn::softmax(x, 1),
            &|x| webtune::burn::tensor::activation::softmax(x, 1),
        ),
        ("gelu", &|x| webtune::nn::gelu(x), &gelu),
    ];
    for (rows, width) in [(3, 576), (2, 37)] {
        let data = TensorData::new(fixed_values(61, rows * width, 2.0), [1, rows, width]);
        let weights = TensorData::new(fixed_values(62, rows * width, 1.0), [1, rows, width]);
        let weights = Tensor::<3>::from_data(weights, &autodiff);
        let gradient = |op: Op| {
            let x = Tensor::<3>::from_data(data.clone(), &autodiff).require_grad();
            let y = op(x.clone());
            let grads = (y.clone() * weights.clone()).sum().backward();
            (y.inner(), x.grad(&grads))
        };
        for (op, closed, composite) in cases {
            let name = format!("{op} {rows}×{width}");
            let ((y, dx), (y_want, dx_want)) = (gradient(closed), gradient(composite));
            let (Some(dx), Some(dx_want)) = (dx, dx_want) else {
                panic!("{name}: no gradient for the input");
            };
            let tolerance = Tolerance::new(1e-5, 1e-5);
            let got = read_f32(y, &name).await?;
            compare(&name, &got, &read_f32(y_want, &name).await?, tolerance)?;
            let got = read_f32(dx, &name).await?;
            let name = format!("{name}, gradient");
            compare(&name, &got, &read_f32(dx_want, &name).await?, tolerance)?;
        }
    }
    Ok(())
}

/// Each tensor's sum of squares, five per launch: sizes around a cube's width, one element,
/// LoRA's gradient sizes, and a count that leaves the last launch partly empty; against the
/// host's sums in f64 of the same (rounded) values.
async fn sums_of_squares_match(device: &ComputeDevice, dtype: FloatDType) -> Result<()> {
    let sizes = [255, 1, 9216, 256, 257, 3072, 24576, 7, 512, 300, 1000, 2];
    let mut inputs = Vec::new();
    let mut want = Vec::new();
    for (seed, &n) in sizes.iter().enumerate() {
        let (on, cpu) = tensors::<1>(50 + seed as u32, [n], dtype, device);
        let values = read_f32(cpu, "sum of squares input").await?;
        want.push(values.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() as f32);
        inputs.push(on);
    }
    let offered = webtune::nn::fused::available(device.device());
    let Some(sums) = webtune::nn::fused::sum_squares(&inputs) else {
        assert!(
            !offered,
            "the sums of squares were not taken on the GPU tier"
        );
        return Ok(());
    };
    assert!(
        offered,
        "sums of squares offered on the {} tier",
        device.tier()
    );
    assert_eq!(sums.dtype(), DType::F32);
    let got = read_f32(sums, "sums of squares").await?;
    let name = format!("sums of squares {dtype:?}");
    compare(&name, &got, &want, Tolerance::new(1e-5, 1e-5))?;
    // A tensor past the kernel's size, or mixed float types: not taken.
    let big = Tensor::<1>::zeros([(1 << 20) + 1], (device.device(), DType::from(dtype)));
    let other = Tensor::<1>::zeros([4], (device.device(), DType::F32)).cast(FloatDType::F16);
    let mixed = other.dtype() != inputs[0].dtype();
    for odd in [big].into_iter().chain(mixed.then_some(other)) {
        assert!(webtune::nn::fused::sum_squares(&[inputs[0].clone(), odd]).is_none());
    }
    Ok(())
}
