//! Layers shared by the model families: linear projections, RMSNorm, rotary embeddings.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// A linear projection `y = x·W + b`, with `W` stored `[in, out]`.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[in, out]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`, when the layer has a bias.
    pub bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    /// A layer from a PyTorch-layout weight (`[out, in]`, row-major) and optional bias.
    pub fn from_torch(
        weight: Vec<f32>,
        [out_features, in_features]: [usize; 2],
        bias: Option<Vec<f32>>,
        device: &Device,
    ) -> Self {
        let transposed = transpose(&weight, out_features, in_features);
        let weight = Tensor::from_data(
            TensorData::new(transposed, [in_features, out_features]),
            device,
        );
        let bias = bias.map(|b| {
            Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [out_features]),
                device,
            ))
        });
        Self {
            weight: Param::from_tensor(weight),
            bias,
        }
    }

    /// `[.., in]` → `[.., out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::linear(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()))
    }
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
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let rms = (x.clone() * x.clone())
            .mean_dim(2)
            .add_scalar(self.eps)
            .sqrt();
        (x / rms) * self.weight.val().unsqueeze::<3>()
    }
}

/// Rotary position embedding tables in Hugging Face's rotate-half layout.
#[derive(Debug, Clone)]
pub struct Rope {
    /// `[seq, head_dim]`.
    cos: Tensor<2>,
    /// `[seq, head_dim]`.
    sin: Tensor<2>,
}

impl Rope {
    /// Tables for positions `start..start+len` with `inv_freq[i] = theta^(-2i/head_dim)`,
    /// computed on the host in f64 so that every tier gets the same values.
    pub fn new(theta: f64, head_dim: usize, start: usize, len: usize, device: &Device) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(len * head_dim);
        let mut sin = Vec::with_capacity(len * head_dim);
        for pos in start..start + len {
            let row: Vec<f64> = (0..half)
                .map(|i| pos as f64 * theta.powf(-2.0 * i as f64 / head_dim as f64))
                .collect();
            for _ in 0..2 {
                cos.extend(row.iter().map(|a| a.cos() as f32));
                sin.extend(row.iter().map(|a| a.sin() as f32));
            }
        }
        let table = |v| Tensor::from_data(TensorData::new(v, [len, head_dim]), device);
        Self {
            cos: table(cos),
            sin: table(sin),
        }
    }

    /// Rotates `[batch, heads, seq, head_dim]` queries or keys.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, _, head_dim] = x.dims();
        let half = head_dim / 2;
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.clone().narrow(3, half, half);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * self.cos.clone().unsqueeze::<4>() + rotated * self.sin.clone().unsqueeze::<4>()
    }
}
