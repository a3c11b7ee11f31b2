//! Layers shared by the model families: linear projections and normalisations.

use burn::module::{Module, Param};
use burn::tensor::{DType, Device, Tensor, TensorData, module};

use super::{LowRank, Quant4};
use crate::device::{to_dtype, to_f32};

/// A linear layer's `[in, out]` weight: dense (the device's float type), or frozen in 4-bit blocks (QLoRA-style).
#[derive(Module, Debug)]
pub enum Weight {
    /// Values in the device's float type.
    Dense(Param<Tensor<2>>),
    /// 4-bit blocks, dequantized where used; never trained.
    Quantized(Quant4),
}

impl Weight {
    /// The `[in, out]` values (dequantized when quantized).
    pub fn val(&self) -> Tensor<2> {
        match self {
            Weight::Dense(w) => w.val(),
            Weight::Quantized(q) => q.dequantize(),
        }
    }

    /// `[in, out]`.
    pub fn dims(&self) -> [usize; 2] {
        match self {
            Weight::Dense(w) => w.dims(),
            Weight::Quantized(q) => q.dims(),
        }
    }

    /// The float type it computes in (a quantized weight's: its scales' type), read without
    /// dequantizing.
    pub fn float_dtype(&self) -> burn::tensor::DType {
        match self {
            Weight::Dense(w) => w.val().dtype(),
            Weight::Quantized(q) => q.scales.val().dtype(),
        }
    }

    /// Whether it is stored quantized.
    pub fn is_quantized(&self) -> bool {
        matches!(self, Weight::Quantized(_))
    }

    /// Bytes it takes on the device.
    pub fn bytes(&self) -> usize {
        match self {
            Weight::Dense(w) => w.dims().iter().product::<usize>() * self.float_dtype().size(),
            Weight::Quantized(q) => q.bytes(),
        }
    }
}

/// A linear projection `y = x·W + b`, with `W` stored `[in, out]`, plus an optional low-rank
/// branch that adapters (LoRA) attach by module path.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[in, out]`.
    pub weight: Weight,
    /// `[out]`, when the layer has a bias.
    pub bias: Option<Param<Tensor<1>>>,
    /// A trainable low-rank branch added to the output, when an adapter is attached.
    pub low_rank: Option<LowRank>,
}

impl Linear {
    /// A layer from a PyTorch-layout weight (`[out, in]`, row-major) and optional bias.
    pub fn from_torch(
        weight: Vec<f32>,
        [out_features, in_features]: [usize; 2],
        bias: Option<Vec<f32>>,
        device: &Device,
    ) -> Self {
        Self::from_torch_quantized(weight, [out_features, in_features], bias, false, device)
    }

    /// A layer from a PyTorch-layout weight, quantized as [`Linear::from_in_out_quantized`]
    /// says.
    pub fn from_torch_quantized(
        weight: Vec<f32>,
        [out_features, in_features]: [usize; 2],
        bias: Option<Vec<f32>>,
        quantize: bool,
        device: &Device,
    ) -> Self {
        let transposed = transpose(&weight, out_features, in_features);
        Self::from_in_out_quantized(
            transposed,
            [in_features, out_features],
            bias,
            quantize,
            device,
        )
    }

    /// A layer from a weight already stored `[in, out]` (GPT-2's `Conv1D`), row-major.
    pub fn from_in_out(
        weight: Vec<f32>,
        [in_features, out_features]: [usize; 2],
        bias: Option<Vec<f32>>,
        device: &Device,
    ) -> Self {
        Self::from_in_out_quantized(weight, [in_features, out_features], bias, false, device)
    }

    /// A layer from a weight stored `[in, out]`, kept in 4-bit blocks on the device when
    /// `quantize` is set and its shape allows ([`Quant4::fits`]), dense otherwise.
    pub fn from_in_out_quantized(
        weight: Vec<f32>,
        [in_features, out_features]: [usize; 2],
        bias: Option<Vec<f32>>,
        quantize: bool,
        device: &Device,
    ) -> Self {
        let shape = [in_features, out_features];
        let weight = match quantize && Quant4::fits(shape) {
            true => Weight::Quantized(Quant4::new(&weight, shape, device)),
            false => Weight::Dense(Param::from_tensor(Tensor::from_data(
                TensorData::new(weight, shape),
                device,
            ))),
        };
        let bias = bias.map(|b| {
            Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [out_features]),
                device,
            ))
        });
        Self {
            weight,
            bias,
            low_rank: None,
        }
    }

    /// `[.., in]` → `[.., out]`. With a branch: `x·W + b + scale·(drop(x)·A)·B`; with DoRA's
    /// magnitude `m` and column norms `n`, `s = m / n`: `s·(x·W + scale·(x·A)·B) + b`, and
    /// under dropout `x·W + b + (s - 1)·drop(x)·W + s·scale·(drop(x)·A)·B` (PEFT's forms).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let bias = self.bias.as_ref().map(|b| b.val());
        let Some(branch) = &self.low_rank else {
            return linear(x, self.weight.val(), bias);
        };
        let Some(m) = &branch.magnitude else {
            let dropped = branch.drop(x.clone());
            return linear(x, self.weight.val(), bias) + branch.forward(dropped);
        };
        // The magnitude and norms are f32 (trainable); the scale joins activations in their type.
        let scale = m.val() / branch.column_norms(self.weight.val());
        let scale = to_dtype(scale, x.dtype()).unsqueeze::<D>();
        if branch.drops(&x) {
            let dropped = branch.drop(x.clone());
            let base = linear(dropped.clone(), self.weight.val(), None);
            return linear(x, self.weight.val(), bias)
                + base * (scale.clone() - 1.0)
                + branch.forward(dropped) * scale;
        }
        let y = linear(x.clone(), self.weight.val(), None) + branch.forward(x);
        let y = y * scale;
        match bias {
            Some(b) => y + b.unsqueeze::<D>(),
            None => y,
        }
    }

    /// `[in, out]`.
    pub fn shape(&self) -> [usize; 2] {
        self.weight.dims()
    }
}

/// `x · W (+ b)` for `x` `[.., in]` and `W` `[in, out]`: one 2-D matmul over all rows.
///
/// Not burn's `module::linear`: with one batch it gives `W` `x`'s rank by a reshape, and on
/// the CPU tier reshaping a transposed `W` (a tied LM head, and every weight in the backward
/// pass, where burn's linear transposes it) copies the whole matrix on each call. A 2-D
/// matmul reads a transposed operand through its strides, forward and backward.
pub fn linear<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    let mut dims = x.dims();
    let [d_in, d_out] = weight.dims();
    let rows = dims[..D - 1].iter().product();
    let y = super::matmul(x.reshape([rows, d_in]), weight);
    let y = match bias {
        Some(b) => y + b.unsqueeze::<2>(),
        None => y,
    };
    dims[D - 1] = d_out;
    y.reshape(dims)
}

/// Transposes a row-major `[rows, cols]` matrix.
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Root-mean-square normalisation with a learned scale (Llama, Qwen2).
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// `[hidden]`.
    pub weight: Param<Tensor<1>>,
    /// Added to the mean square before the square root.
    pub eps: f64,
}

impl RmsNorm {
    /// A norm with the given scale.
    pub fn new(weight: Vec<f32>, eps: f64, device: &Device) -> Self {
        let n = weight.len();
        Self {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(weight, [n]), device)),
            eps,
        }
    }

    /// `[batch, seq, hidden]` → same shape.
    /// Computed in f32 and cast back before the scale, as transformers does in half precision
    /// (a mean square of f16 activations overflows); the normalisation is one differentiable
    /// operation with a written-out gradient ([`super::rms_normalize`]).
    /// A decoded token's norm (one row, on the GPU tier outside autodiff) is one kernel
    /// ([`super::fused::rms_norm`]). Not yet for more rows: on a prompt the kernel stopped
    /// burn's fusion from fusing the attention around it (SmolLM2, 16 tokens: 1,138 → 1,406
    /// launches; docs/internals.md, "Kernel launches").
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let weight = self.weight.val();
        let [batch, seq, _] = x.dims();
        let one_row = batch * seq == 1;
        if one_row && super::fused::available(&x.device()) && weight.dtype() == x.dtype() {
            return super::fused::rms_norm(x, weight, self.eps);
        }
        let dtype = x.dtype();
        let normed = super::rms_normalize(to_f32(x), self.eps);
        to_dtype(normed, dtype) * weight.unsqueeze::<3>()
    }
}

/// Layer normalisation with a learned scale and shift (GPT-2, BERT).
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// `[hidden]`.
    pub weight: Param<Tensor<1>>,
    /// `[hidden]`.
    pub bias: Param<Tensor<1>>,
    /// Added to the variance before the square root.
    pub eps: f64,
}

impl LayerNorm {
    /// A norm with the given scale and shift.
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, eps: f64, device: &Device) -> Self {
        let vector = |v: Vec<f32>| {
            let n = v.len();
            Param::from_tensor(Tensor::from_data(TensorData::new(v, [n]), device))
        };
        Self {
            weight: vector(weight),
            bias: vector(bias),
            eps,
        }
    }

    /// `[batch, seq, hidden]` → same shape, normalised over `hidden` (biased variance, as
    /// PyTorch's `nn.LayerNorm`).
    /// Statistics in f32 on half-precision inputs. On the CPU tier outside autodiff (BERT's
    /// embeddings, generation) it is burn-flex's fused kernel (one pass per row, rows on
    /// every core) in place of nine single-threaded element-wise passes.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let (weight, bias) = (self.weight.val(), self.bias.val());
        if super::cpu_fused(&x.device()) && [dtype, weight.dtype(), bias.dtype()] == [DType::F32; 3]
        {
            return module::layer_norm(x, weight, Some(bias), self.eps);
        }
        let x = to_f32(x);
        let centered = x.clone() - x.mean_dim(2);
        let var = (centered.clone() * centered.clone()).mean_dim(2);
        to_dtype(centered / var.add_scalar(self.eps).sqrt(), dtype) * weight.unsqueeze::<3>()
            + bias.unsqueeze::<3>()
    }
}
