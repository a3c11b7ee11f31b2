//! The decisions the command line and the JavaScript API must never make differently: which
//! tier the engine runs on, which float type a model opens in, where its weights go, how much
//! memory a run may plan for, which tokenizer files an export writes beside the weights.

use super::OpenModel;
use crate::device::{ComputeDevice, Precision};
use crate::models::Placement;
use crate::platform;
use crate::train::Method;
use crate::{Tier, error::Result};

/// Where to compute, as a person or a caller asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TierRequest {
    /// The GPU when there is a real one, else the CPU tier (see [`choose_device`]).
    #[default]
    Auto,
    /// The CPU tier, whatever GPU there is.
    Cpu,
    /// The GPU tier, even a software one; failing when there is none.
    Gpu,
}

impl std::str::FromStr for TierRequest {
    type Err = crate::Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(crate::Error::Input {
                problem: format!("unknown tier {other:?}: use \"auto\", \"gpu\" or \"cpu\""),
            }),
        }
    }
}

/// Why the engine took the CPU tier when it was left to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TierReason {
    /// There is no GPU adapter at all.
    NoGpu,
    /// The adapter is a software renderer.
    SoftwareGpu,
}

/// Why the engine took the CPU tier, for a program (`reason`) and a person (`text`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TierNote {
    /// Serialised as `"no_gpu"` or `"software_gpu"`.
    pub reason: TierReason,
    /// The same in a sentence a person can act on.
    pub text: String,
}

/// The device for `request`, and, when the engine chose it, why (for the page and the CLI to
/// say). `Auto` takes the GPU unless there is none, or the adapter is a software renderer
/// (SwiftShader in a browser without a GPU, lavapipe): those run webtune's kernels far slower
/// than its CPU tier (a SmolLM2 LoRA step: ~12 s on the page's CPU tier, none finished in
/// 15 minutes on SwiftShader), so the CPU tier is taken and the reason given.
pub async fn choose_device(request: TierRequest) -> Result<(ComputeDevice, Option<TierNote>)> {
    let cpu = |reason, text| Ok((ComputeDevice::cpu(), Some(TierNote { reason, text })));
    match request {
        TierRequest::Cpu => Ok((ComputeDevice::cpu(), None)),
        TierRequest::Gpu => Ok((ComputeDevice::gpu().await?, None)),
        TierRequest::Auto => match ComputeDevice::gpu().await {
            Err(err) => cpu(TierReason::NoGpu, format!("{}: {err}", no_gpu_note())),
            Ok(gpu) => match gpu.adapter().filter(|a| a.is_cpu) {
                Some(adapter) => cpu(
                    TierReason::SoftwareGpu,
                    format!(
                        "the GPU adapter here, {}, is a software renderer running on the CPU, \
                         where webtune's own CPU tier is many times faster; the CPU tier runs. \
                         Ask for the GPU tier to use it anyway",
                        adapter.name.trim()
                    ),
                ),
                None => Ok((gpu, None)),
            },
        },
    }
}

fn no_gpu_note() -> &'static str {
    if platform::IN_BROWSER {
        "WebGPU is not available here, so the engine runs on this tab's CPU, which is much slower"
    } else {
        "no GPU is available, so the engine runs on the CPU tier"
    }
}

/// What an open model will be used for, which decides its precision when none is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    /// Its base weights are only read (generation, evaluation, LoRA/DoRA training, RAG, the
    /// advisor): f16 where the GPU has `shader-f16`, since adapters stay f32 anyway.
    #[default]
    Read,
    /// Its base weights are trained or written out (full/HFT training, merge, export): f32,
    /// since AdamW's small updates vanish in f16 and a merged checkpoint should not lose bits.
    Write,
}

impl Purpose {
    /// What training with `method` does to the base weights.
    pub fn of_method(method: Method) -> Self {
        match method {
            Method::Lora => Purpose::Read,
            Method::Full | Method::Half => Purpose::Write,
        }
    }
}

/// How to open a model.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Keep the linear layers' weights in 4-bit blocks (a QLoRA-style frozen base).
    pub quantize: bool,
    /// The float type asked for; `None` lets [`precision`] decide by `purpose`.
    pub precision: Option<Precision>,
    /// What the model is for.
    pub purpose: Purpose,
}

/// The precision a model opens in on `device`: the one asked for, else f16 where the GPU has
/// `shader-f16` and the base weights are only read, else f32.
pub fn precision(device: &ComputeDevice, options: &OpenOptions) -> Precision {
    match (options.precision, options.purpose) {
        (Some(asked), _) => asked,
        (None, Purpose::Read) => device.best_precision(),
        (None, Purpose::Write) => Precision::F32,
    }
}

/// Where a model's weights go: the autodiff twin of `device` (so that the same open model can
/// train), 4-bit blocks with `quantize`, and in a browser's CPU tier no more than wasm32's
/// 4 GiB can hold beside a training run.
pub fn placement(device: &ComputeDevice, quantize: bool) -> Placement {
    let mut placement = Placement::training(device);
    if quantize {
        placement = placement.quantized();
    }
    if platform::IN_BROWSER && device.tier() == Tier::Cpu {
        placement = placement.with_max_weight_bytes(BROWSER_CPU_WEIGHTS);
    }
    placement
}

/// The most weight bytes the browser's CPU tier opens: wasm32's 4 GiB less room to train.
const BROWSER_CPU_WEIGHTS: u64 = 3 << 30;

/// The memory a training run on `device` may plan for when the caller names none: wasm32's
/// 4 GiB on the browser's CPU tier, the machine's memory on the native CPU tier, and none
/// known on a GPU (WebGPU and wgpu do not report free device memory; the binding limit
/// still applies).
pub fn memory_budget(device: &ComputeDevice) -> Option<u64> {
    match device.tier() {
        Tier::Cpu if platform::IN_BROWSER => Some(4 << 30),
        Tier::Cpu => platform::host_memory_bytes(),
        Tier::Gpu => None,
    }
}

/// The largest tensor one kernel can bind on `device` (`None` on the CPU tier: no limit).
pub fn binding_limit(device: &ComputeDevice) -> Option<u64> {
    Some(device.max_tensor_bytes()).filter(|&b| b < 1 << 53)
}

/// `device` in the precision `options` call for.
pub async fn device_for(device: &ComputeDevice, options: &OpenOptions) -> Result<ComputeDevice> {
    device.with_precision(precision(device, options)).await
}

/// The tokenizer files written beside a merged or fully trained checkpoint: those the model
/// came with, or, for a model opened without them (a GGUF file), its tokenizer rebuilt as a
/// Hugging Face folder's files, so that the checkpoint loads on its own in webtune and
/// transformers.
pub fn tokenizer_files(open: &OpenModel) -> Result<Vec<(String, Vec<u8>)>> {
    let has = |name: &str| open.companions.iter().any(|(n, _)| n == name);
    match &open.loaded.tokenizer {
        Some(tokenizer) if !has("tokenizer.json") => {
            tokenizer.hf_files(open.loaded.config.context_length())
        }
        _ => Ok(open.companions.clone()),
    }
}
