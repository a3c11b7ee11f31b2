//! Frozen weights kept in 4-bit blocks on the device (QLoRA-style: the base stays quantized
//! while adapters train in f32) and dequantized where a layer uses them.
//!
//! The format is GGUF's Q4_1 laid out for our `[in, out]` weights: along `in`, blocks of 32
//! values share a scale `d` and a minimum `m`, and each value is a 4-bit code `q` with
//! `w = q·d + m`. Eight codes pack into one `i32` (code `k` of word `i` is row `8i + k`).
//! A GGUF Q4_1 tensor re-quantized this way is recovered exactly up to f32 rounding (its
//! blocks already have that form); other weights lose what 4 bits lose. At rest it is 6 bits
//! a weight instead of 32.

use burn::module::{Module, Param, ParamId};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Values per block.
pub const BLOCK: usize = 32;

/// A frozen `[in, out]` matrix in 4-bit blocks along `in`.
#[derive(Module, Debug)]
pub struct Quant4 {
    /// `[in / 8, out]`: eight 4-bit codes per word.
    pub codes: Param<Tensor<2, Int>>,
    /// `[in / 32, out]` block scales.
    pub scales: Param<Tensor<2>>,
    /// `[in / 32, out]` block minimums.
    pub mins: Param<Tensor<2>>,
}

impl Quant4 {
    /// Whether a `[in, out]` matrix can be stored this way (`in` a multiple of the block).
    pub fn fits([inp, out]: [usize; 2]) -> bool {
        inp > 0 && out > 0 && inp.is_multiple_of(BLOCK)
    }

    /// Quantizes a row-major `[in, out]` matrix (`in` a multiple of 32; see [`Quant4::fits`]).
    pub fn new(values: &[f32], [inp, out]: [usize; 2], device: &Device) -> Self {
        let blocks = inp / BLOCK;
        let mut scales = vec![0f32; blocks * out];
        let mut mins = vec![0f32; blocks * out];
        let mut codes = vec![0i32; inp / 8 * out];
        for b in 0..blocks {
            for c in 0..out {
                let column = (0..BLOCK).map(|r| values[(b * BLOCK + r) * out + c]);
                let (lo, hi) = column.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
                let d = (hi - lo) / 15.0;
                scales[b * out + c] = d;
                mins[b * out + c] = lo;
                for r in 0..BLOCK {
                    let row = b * BLOCK + r;
                    let v = values[row * out + c];
                    let q = if d > 0.0 {
                        ((v - lo) / d).round().clamp(0.0, 15.0) as i32
                    } else {
                        0
                    };
                    codes[(row / 8) * out + c] |= q << (4 * (row % 8));
                }
            }
        }
        let frozen = |t: Tensor<2>| Param::from_tensor(t).set_require_grad(false);
        Self {
            codes: Param::initialized(
                ParamId::new(),
                Tensor::from_data(TensorData::new(codes, [inp / 8, out]), device),
            ),
            scales: frozen(Tensor::from_data(
                TensorData::new(scales, [blocks, out]),
                device,
            )),
            mins: frozen(Tensor::from_data(
                TensorData::new(mins, [blocks, out]),
                device,
            )),
        }
    }

    /// `[in, out]`.
    pub fn dims(&self) -> [usize; 2] {
        let [words, out] = self.codes.dims();
        [words * 8, out]
    }

    /// Bytes it takes on the device (codes, scales and minimums).
    pub fn bytes(&self) -> usize {
        let [inp, out] = self.dims();
        inp / 8 * out * 4 + 2 * (inp / BLOCK) * out * 4
    }

    /// The `[in, out]` f32 matrix (without gradient).
    pub fn dequantize(&self) -> Tensor<2> {
        let [inp, out] = self.dims();
        let words = self.codes.val();
        let codes: Vec<Tensor<3, Int>> = (0..8)
            .map(|k| {
                words
                    .clone()
                    .bitwise_right_shift_scalar(4 * k)
                    .bitwise_and_scalar(15)
                    .unsqueeze_dim::<3>(1)
            })
            .collect();
        // [in / 8, 8, out] → [blocks, 32, out]
        let q = Tensor::cat(codes, 1)
            .reshape([inp / BLOCK, BLOCK, out])
            .float();
        let w = q * self.scales.val().unsqueeze_dim::<3>(1) + self.mins.val().unsqueeze_dim::<3>(1);
        w.reshape([inp, out])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_1_blocks_come_back_exactly_and_others_within_half_a_step() {
        let device = Device::flex();
        let (inp, out) = (64, 3);
        // Column 0: Q4_1-form values (codes 0..15 on a grid); columns 1, 2: arbitrary.
        let values: Vec<f32> = (0..inp * out)
            .map(|i| {
                let (r, c) = (i / out, i % out);
                match c {
                    0 => 0.25 * ((r * 7) % 16) as f32 - 1.5,
                    _ => ((r * 31 + c * 17) as f32).sin(),
                }
            })
            .collect();
        let q = Quant4::new(&values, [inp, out], &device);
        assert_eq!(q.dims(), [inp, out]);
        assert_eq!(q.bytes() * 16, inp * out * 4 * 3, "6 bits a weight");
        let back = q
            .dequantize()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        for (i, (a, b)) in values.iter().zip(&back).enumerate() {
            let tol = if i % out == 0 {
                1e-6
            } else {
                2.0 / 15.0 / 2.0 + 1e-6
            };
            assert!((a - b).abs() <= tol, "{i}: {a} vs {b}");
        }
    }
}
