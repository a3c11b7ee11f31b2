//! Rotary position embeddings in Hugging Face's rotate-half layout, with the frequency
//! scalings transformers implements for the supported families (`default`, `linear`, `llama3`).

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How the base frequencies are rescaled for longer contexts (`rope_type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "lowercase")]
pub enum RopeScaling {
    /// Plain RoPE.
    Default,
    /// Every frequency divided by `factor` (position interpolation).
    Linear {
        /// Divisor of every frequency.
        factor: f64,
    },
    /// Llama 3.1's scaling: low frequencies divided by `factor`, high ones kept, a smooth
    /// blend between.
    Llama3 {
        /// Divisor of the low frequencies.
        factor: f64,
        /// Wavelengths longer than `original_max_position_embeddings / low_freq_factor` are
        /// scaled.
        low_freq_factor: f64,
        /// Wavelengths shorter than `original_max_position_embeddings / high_freq_factor` are
        /// kept.
        high_freq_factor: f64,
        /// The context length the model was first trained with.
        original_max_position_embeddings: f64,
    },
    /// Each frequency divided by its own factor (llama.cpp's `rope_freqs` tensor, how GGUF
    /// files store Llama 3.1's scaling).
    Factors {
        /// One divisor per frequency.
        factors: Vec<f64>,
    },
}

/// A model's rotary embedding: base frequency and scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeConfig {
    /// Base frequency (`rope_theta`).
    pub theta: f64,
    /// Frequency scaling.
    pub scaling: RopeScaling,
}

impl RopeConfig {
    /// Plain RoPE with base `theta`.
    pub fn plain(theta: f64) -> Self {
        Self {
            theta,
            scaling: RopeScaling::Default,
        }
    }

    /// The `head_dim / 2` inverse frequencies, computed as transformers does (its
    /// `_compute_*_parameters`), in f64.
    pub fn inv_freq(&self, head_dim: usize) -> Vec<f64> {
        let base = (0..head_dim / 2).map(|i| self.theta.powf(-2.0 * i as f64 / head_dim as f64));
        match &self.scaling {
            RopeScaling::Default => base.collect(),
            RopeScaling::Factors { factors } => base.zip(factors).map(|(f, d)| f / d).collect(),
            RopeScaling::Linear { factor } => base.map(|f| f / factor).collect(),
            &RopeScaling::Llama3 {
                factor,
                low_freq_factor: low,
                high_freq_factor: high,
                original_max_position_embeddings: context,
            } => base
                .map(|f| {
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    if wavelen < context / high {
                        f
                    } else if wavelen > context / low {
                        f / factor
                    } else {
                        let smooth = (context / wavelen - low) / (high - low);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                })
                .collect(),
        }
    }

    /// Checks the scaling parameters.
    pub fn validate(&self) -> Result<(), String> {
        if !positive(self.theta) {
            return Err(format!("rope_theta {} is not positive", self.theta));
        }
        match &self.scaling {
            &RopeScaling::Linear { factor } if !positive(factor) => {
                Err(format!("rope scaling factor {factor} is not positive"))
            }
            &RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } if !(positive(factor)
                && positive(low_freq_factor)
                && positive(high_freq_factor - low_freq_factor)
                && positive(original_max_position_embeddings)) =>
            {
                Err(
                    "llama3 rope scaling needs factor > 0, 0 < low_freq_factor < \
                     high_freq_factor and original_max_position_embeddings > 0"
                        .into(),
                )
            }
            RopeScaling::Factors { factors } if factors.iter().any(|&f| !positive(f)) => {
                Err("a rope frequency factor is not positive".into())
            }
            _ => Ok(()),
        }
    }
}

/// Whether `x` is a positive number (NaN is not).
fn positive(x: f64) -> bool {
    x > 0.0
}

/// Rotary tables for a run of positions.
#[derive(Debug, Clone)]
pub struct Rope {
    /// `[rows, seq, 1, head_dim]` (`rows` 1 when the batch shares its positions).
    cos: Tensor<4>,
    /// The same shape, its first half negated (the sign of `rotate_half`, folded in).
    sin: Tensor<4>,
}

impl Rope {
    /// Tables for positions `start..start+len`, shared by every row.
    pub fn new(
        config: &RopeConfig,
        head_dim: usize,
        start: usize,
        len: usize,
        device: &Device,
    ) -> Self {
        let positions: Vec<usize> = (start..start + len).collect();
        Self::at(config, head_dim, &positions, 1, len, device)
    }

    /// Tables for `rows × seq` explicit positions (row-major), computed on the host in f64 so
    /// that every tier gets the same values.
    pub fn at(
        config: &RopeConfig,
        head_dim: usize,
        positions: &[usize],
        rows: usize,
        seq: usize,
        device: &Device,
    ) -> Self {
        let inv_freq = config.inv_freq(head_dim);
        let mut cos = Vec::with_capacity(positions.len() * head_dim);
        let mut sin = Vec::with_capacity(positions.len() * head_dim);
        for &pos in positions {
            let row: Vec<f64> = inv_freq.iter().map(|f| pos as f64 * f).collect();
            for sign in [-1.0, 1.0] {
                cos.extend(row.iter().map(|a| a.cos() as f32));
                sin.extend(row.iter().map(|a| (sign * a.sin()) as f32));
            }
        }
        let table = |v| Tensor::from_data(TensorData::new(v, [rows, seq, 1, head_dim]), device);
        Self {
            cos: table(cos),
            sin: table(sin),
        }
    }

    /// Rotates `[batch, seq, heads, head_dim]` queries or keys (before heads move ahead of
    /// the sequence, so the halves swap within a contiguous row): `x·cos + rotate_half(x)·sin`,
    /// where `rotate_half(x) = [-x₂, x₁]` is the halves swapped (one flip) times the table's
    /// signs. Exactly transformers' values, in two kernels instead of a concatenation's five.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, seq, heads, head_dim] = x.dims();
        let swapped = x
            .clone()
            .reshape([batch, seq, heads, 2, head_dim / 2])
            .flip([3])
            .reshape([batch, seq, heads, head_dim]);
        x * self.cos.clone() + swapped * self.sin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_scaling_keeps_high_and_scales_low_frequencies() {
        let plain = RopeConfig::plain(10_000.0).inv_freq(8);
        let scaled = RopeConfig {
            theta: 10_000.0,
            scaling: RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 64.0,
            },
        }
        .inv_freq(8);
        // Wavelengths 2π·10000^(i/4): 6.3 (kept), 63 (blended), 628 and 6283 (scaled).
        assert_eq!(scaled[0], plain[0]);
        assert!(scaled[1] < plain[1] && scaled[1] > plain[1] / 8.0);
        assert!((scaled[2] - plain[2] / 8.0).abs() < 1e-15);
        assert!((scaled[3] - plain[3] / 8.0).abs() < 1e-15);
    }

    #[test]
    fn impossible_scalings_are_refused() {
        assert!(RopeConfig::plain(0.0).validate().is_err());
        let bad = RopeConfig {
            theta: 1e4,
            scaling: RopeScaling::Linear { factor: 0.0 },
        };
        assert!(bad.validate().is_err());
    }
}
