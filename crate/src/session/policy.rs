//! The decisions the command line and the JavaScript API must never make differently: which
//! tier the engine runs on, which float type a model opens in, where its weights go, how much
//! memory a run may plan for, which tokenizer files an export writes beside the weights.

use super::OpenModel;
use crate::device::{ComputeDevice, Precision, product_seconds};
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
    /// The adapter computed the timed products slower than the CPU tier.
    SlowGpu,
}

/// Why the engine took the CPU tier, for a program (`reason`) and a person (`text`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TierNote {
    /// Serialised as `"no_gpu"`, `"software_gpu"` or `"slow_gpu"`.
    pub reason: TierReason,
    /// The same in a sentence a person can act on.
    pub text: String,
}

/// The timed products both tiers ran when the engine chose between them
/// ([`crate::device::product_seconds`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TierTiming {
    /// Seconds on the GPU tier.
    pub gpu_seconds: f64,
    /// Seconds on the CPU tier.
    pub cpu_seconds: f64,
}

impl TierTiming {
    /// Times the same products on `gpu` and on `cpu`.
    pub async fn measure(gpu: &ComputeDevice, cpu: &ComputeDevice) -> Result<Self> {
        Ok(Self {
            gpu_seconds: product_seconds(gpu).await?,
            cpu_seconds: product_seconds(cpu).await?,
        })
    }

    /// How many times faster the GPU was (below 1: slower).
    pub fn gpu_speedup(&self) -> f64 {
        self.cpu_seconds / self.gpu_seconds.max(1e-9)
    }
}

/// The device `request` calls for, why the engine took the CPU tier when it chose it, and the
/// timing it chose by.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The device.
    pub device: ComputeDevice,
    /// Why not the GPU, when the engine chose the CPU tier.
    pub note: Option<TierNote>,
    /// The timed products, when the engine compared the tiers.
    pub timing: Option<TierTiming>,
}

/// The device for `request`, and, when the engine chose it, why (for the page and the CLI to
/// say). `Auto` takes the GPU unless there is none, or the adapter is a software renderer
/// (SwiftShader in a browser without a GPU, lavapipe): those run webtune's kernels far slower
/// than its CPU tier (a SmolLM2 LoRA step: ~12 s on the page's CPU tier, none finished in
/// 15 minutes on SwiftShader), so the CPU tier is taken and the reason given. An adapter that
/// does not name itself a software one is timed against the CPU tier on the same products
/// ([`TierTiming`]); the slower loses.
pub async fn choose_device(request: TierRequest) -> Result<Choice> {
    let cpu = |reason, text, timing| {
        Ok(Choice {
            device: ComputeDevice::cpu(),
            note: Some(TierNote { reason, text }),
            timing,
        })
    };
    let asked = |device| {
        Ok(Choice {
            device,
            note: None,
            timing: None,
        })
    };
    match request {
        TierRequest::Cpu => asked(ComputeDevice::cpu()),
        TierRequest::Gpu => asked(ComputeDevice::gpu().await?),
        TierRequest::Auto => match ComputeDevice::gpu().await {
            Err(err) => cpu(TierReason::NoGpu, format!("{}: {err}", no_gpu_note()), None),
            Ok(gpu) => match gpu.adapter().filter(|a| a.is_cpu) {
                Some(adapter) => cpu(
                    TierReason::SoftwareGpu,
                    format!(
                        "the GPU adapter here, {}, is a software renderer running on the CPU, \
                         where webtune's own CPU tier is many times faster; the CPU tier runs. \
                         Ask for the GPU tier to use it anyway",
                        adapter.name.trim()
                    ),
                    None,
                ),
                None => {
                    // A failed measurement leaves the GPU in place: the self-check reports it.
                    let Ok(timing) = TierTiming::measure(&gpu, &ComputeDevice::cpu()).await else {
                        return asked(gpu);
                    };
                    if timing.gpu_speedup() >= 1.0 {
                        return Ok(Choice {
                            device: gpu,
                            note: None,
                            timing: Some(timing),
                        });
                    }
                    let name = gpu.adapter().map_or("", |a| a.name.trim()).to_string();
                    cpu(
                        TierReason::SlowGpu,
                        slow_gpu_note(&name, &timing),
                        Some(timing),
                    )
                }
            },
        },
    }
}

/// Why a GPU that lost the timed products is not used.
fn slow_gpu_note(name: &str, timing: &TierTiming) -> String {
    format!(
        "the GPU adapter here, {name}, computed a test of matrix products in {:.0} ms where \
         the CPU tier took {:.0} ms, so the CPU tier runs. Ask for the GPU tier to use it anyway",
        timing.gpu_seconds * 1e3,
        timing.cpu_seconds * 1e3
    )
}

/// Why compiling the GPU kernels ahead ([`super::Session::warm_up`]) would not pay on
/// `device`, or `None` when it does: the CPU tier compiles nothing, and a software renderer
/// (used only when asked for) computes the warm-up's step as slowly as a real one.
pub fn warm_up_skipped(device: &ComputeDevice) -> Option<&'static str> {
    match device.adapter() {
        None => Some("the CPU tier compiles no kernels"),
        Some(adapter) if adapter.is_cpu => {
            Some("a software renderer computes the warm-up as slowly as the work it would speed up")
        }
        Some(_) => None,
    }
}

/// The multiple of tokens a run's batches are padded to on the GPU tier (see
/// [`pad_multiple`]).
pub const GPU_PAD_MULTIPLE: usize = 32;

/// The multiple of tokens a run's (and an evaluation's) batches are padded to on `device`
/// when its settings name none. On a GPU a width that is a multiple of the kernels' vector
/// width takes their vectorised paths, and each new width may compile kernels and size
/// buffers again; rounding to multiples of [`GPU_PAD_MULTIPLE`] gives both, and a run meets
/// a few widths whatever its rows' lengths (measured on lavapipe, the demo data at batch 2,
/// 6 steps: 159 s as wide as each batch's longest row, 127 s padded to 8 or 32, 135 s to 16,
/// 162 s to 64). The CPU tier pays for every padded token and compiles nothing: each batch
/// is as wide as its longest row (the same run: 14 s, 15 s padded to 8, 19 s to 32).
pub fn pad_multiple(device: &ComputeDevice) -> usize {
    match device.tier() {
        Tier::Cpu => 1,
        Tier::Gpu => GPU_PAD_MULTIPLE,
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
