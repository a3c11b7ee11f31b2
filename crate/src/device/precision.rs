//! The float type a device computes in: f32 everywhere, or f16 on a GPU whose adapter has
//! `shader-f16`, which halves the memory and bandwidth of weights and activations.
//!
//! The f16 device is a second burn runtime registered on the *same* wgpu device and queue
//! (no second GPU device is requested), whose default float type is f16: every tensor the
//! loaders and models create without naming a type is f16 there. Numerically sensitive steps
//! (norms, softmax, the loss) compute in f32 inside and cast back, as transformers does, and
//! trainable adapter weights stay f32 (see [`crate::nn::LowRank`]).

use burn::tensor::{DType, Device, FloatDType, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::{ComputeDevice, Tier, gpu_error};
use crate::error::{Error, Result};

/// A float type to compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats: every tier.
    #[default]
    F32,
    /// 16-bit floats: the GPU tier where the adapter has `shader-f16`.
    F16,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        })
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            other => Err(format!("unknown precision {other:?}: use f32 or f16")),
        }
    }
}

/// The GPU tier's f16 twin, registered once per process on the GPU tier's handles.
static GPU_F16: async_lock::OnceCell<ComputeDevice> = async_lock::OnceCell::new();

impl ComputeDevice {
    /// Whether this device can compute in f16: the GPU tier on an adapter with `shader-f16`.
    pub fn supports_f16(&self) -> bool {
        self.adapter.as_ref().is_some_and(|a| a.shader_f16)
    }

    /// The precision `auto` means here: f16 where [`Self::supports_f16`], else f32.
    pub fn best_precision(&self) -> Precision {
        match self.supports_f16() {
            true => Precision::F16,
            false => Precision::F32,
        }
    }

    /// The same hardware computing in `precision`: `self` when it already does; the f16
    /// twin of a GPU device (made the first time); the GPU tier's f32 device from its twin.
    /// Fails with [`Error::DeviceInit`] when f16 is asked of a device without `shader-f16`.
    pub async fn with_precision(&self, precision: Precision) -> Result<Self> {
        if precision == self.precision {
            return Ok(self.clone());
        }
        if precision == Precision::F32 {
            return super::GPU
                .get()
                .cloned()
                .ok_or_else(|| gpu_error("the GPU tier's f32 device was never made".to_string()));
        }
        if !self.supports_f16() {
            return Err(Error::DeviceInit {
                tier: self.tier.to_string(),
                reason: match self.tier {
                    Tier::Cpu => "f16 runs on the GPU tier only; use f32".to_string(),
                    Tier::Gpu => "this GPU adapter has no shader-f16 feature; use f32".to_string(),
                },
            });
        }
        GPU_F16
            .get_or_try_init(|| async {
                let setup = self.setup.clone().ok_or_else(|| {
                    gpu_error("this GPU device has no wgpu handles to share".to_string())
                })?;
                let mut device = Device::wgpu_options()
                    .setup(setup)
                    .init()
                    .map_err(|err| gpu_error(err.to_string()))?;
                device
                    .configure(FloatDType::F16)
                    .map_err(|err| gpu_error(format!("f16 as the default float: {err:?}")))?;
                Ok(Self {
                    device,
                    precision: Precision::F16,
                    ..self.clone()
                })
            })
            .await
            .cloned()
    }
}

/// `x` widened to f32 when it is a half type, for a step that must not round or overflow in
/// f16 (norms, softmax, the loss); any other tensor as it is.
pub fn to_f32<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match x.dtype() {
        DType::F16 | DType::BF16 => x.cast(FloatDType::F32),
        _ => x,
    }
}

/// `x` cast to `dtype` (a float type; a no-op when `x` already has it).
pub fn to_dtype<const D: usize>(x: Tensor<D>, dtype: DType) -> Tensor<D> {
    match x.dtype() == dtype {
        true => x,
        false => x.cast(FloatDType::from(dtype)),
    }
}

/// `data` as an f32 tensor on `device`, whatever its default float type (adapter weights and
/// optimizer state: created in the default type, they would be rounded to f16 first).
pub fn f32_tensor<const D: usize>(data: TensorData, device: &Device) -> Tensor<D> {
    Tensor::from_data(data, (device, DType::F32))
}
