//! The memory planner: before a run starts, predicts the memory a training configuration needs
//! on a model — weights, trainable parameters with their gradients and AdamW moments, the
//! activations autodiff keeps for the backward pass, the logits of the loss — says whether it
//! fits a budget and the device's largest binding, and when it does not, which nearby
//! configurations would (a smaller batch with gradient accumulation, shorter sequences, a
//! lower rank).
//!
//! The activation count follows the decoder's forward pass: per token and layer, the tensors a
//! Llama-style layer keeps (norm inputs and outputs, Q/K/V and their rotated forms — grouped
//! query heads read their key head in place, no repeated copies — the attention
//! probabilities, the MLP's gate, up and product, residuals) and, for
//! each adapted layer, the LoRA branch's input and its rank-sized middle. It is checked
//! against measured peaks by the training benchmark (`cargo bench --bench train`), which
//! prints both.

use serde::Serialize;

use super::{Method, TrainConfig};
use crate::error::{Error, Result};
use crate::lora::LoraConfig;
use crate::models::{LinearLayers, Loaded, ModelConfig, Shape};

/// What the planner needs to know of a model.
#[derive(Debug, Clone)]
pub struct PlanModel {
    /// Its sizes.
    pub shape: Shape,
    /// All its parameters (u64: a model past 4 GiB is sized, not saturated, on wasm32).
    pub parameters: u64,
    /// Bytes its weights take at rest on the device.
    pub weight_bytes: u64,
    /// Its linear layers: Hugging Face path, `[in, out]`, and whether stored in 4-bit blocks.
    pub linear: Vec<(String, [usize; 2], bool)>,
    /// Bytes of one activation: 4 in f32, 2 on an f16 device.
    pub float_bytes: usize,
}

impl PlanModel {
    /// What the planner needs of a model described by `config` alone, before its weights are
    /// fetched: opened with activations of `float_bytes` (4 in f32, 2 in f16) and, with
    /// `quantize`, linear layers in 4-bit blocks.
    pub fn from_config(config: &ModelConfig, quantize: bool, float_bytes: usize) -> Self {
        let (linear, other) = config.parameters();
        let bytes = config.weight_bytes_in(quantize, float_bytes as u64);
        Self {
            shape: config.shape(),
            // `as` saturates: an absurd config sizes to the largest value, never wraps.
            parameters: (linear + other) as u64,
            weight_bytes: bytes,
            linear: config
                .linear_shapes()
                .into_iter()
                .map(|(path, dims)| (path, dims, quantize))
                .collect(),
            float_bytes,
        }
    }

    /// What the planner needs of a loaded model.
    pub fn of(loaded: &Loaded) -> Self {
        let layers = loaded.model.linear_layers();
        let params = super::params::all(&loaded.model);
        let weight_bytes = params
            .iter()
            .map(|(_, v, _)| v.dims()[0] as u64 * v.dtype().size() as u64)
            .sum::<u64>()
            // 4-bit codes (their scales and minimums are float parameters, counted above).
            + layers
                .iter()
                .filter(|(_, l)| l.weight.is_quantized())
                .map(|(_, l)| l.weight.dims().iter().map(|&d| d as u64).product::<u64>() / 2)
                .sum::<u64>();
        Self {
            shape: loaded.config.shape(),
            parameters: loaded.model.parameter_count() as u64,
            weight_bytes,
            linear: layers
                .iter()
                .map(|(p, l)| (p.clone(), l.weight.dims(), l.weight.is_quantized()))
                .collect(),
            float_bytes: loaded
                .model
                .linear_layers()
                .first()
                .map_or(4, |(_, l)| l.weight.float_dtype().size()),
        }
    }
}

/// A prediction of a run's peak memory, in bytes.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPlan {
    /// The base weights (a 4-bit base counts its dequantized copies: autodiff keeps them).
    pub weights: u64,
    /// Parameters that train.
    pub trainable_parameters: u64,
    /// Those parameters with their gradients and AdamW's two moments.
    pub optimizer: u64,
    /// Activations kept for the backward pass.
    pub activations: u64,
    /// The loss's logits, their softmax and gradient.
    pub logits: u64,
    /// The predicted peak.
    pub total: u64,
    /// The largest single tensor (one layer's attention probabilities).
    pub largest_tensor: u64,
    /// The budget it was checked against (`None`: no known budget).
    pub budget: Option<u64>,
    /// The largest tensor one kernel can bind on the device (`None`: no limit).
    pub max_tensor_bytes: Option<u64>,
    /// Whether it fits both.
    pub fits: bool,
    /// Why not, in words.
    pub problems: Vec<String>,
    /// Nearby configurations that fit (when this one does not).
    pub suggestions: Vec<Suggestion>,
}

/// A configuration that fits where the asked one does not.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// What to change, in words.
    pub change: String,
    /// Its predicted peak.
    pub total: u64,
    /// The changed training configuration.
    #[serde(skip)]
    pub config: TrainConfig,
    /// The sequence length it assumes.
    pub seq_len: usize,
}

/// The rows a run trains on: their length in tokens, and the most positions one row scores
/// (only scored positions compute logits for the loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rows {
    /// Tokens per row.
    pub len: usize,
    /// The most scored positions in one row (at most `len`).
    pub scored: usize,
}

impl Rows {
    /// Rows of `len` tokens, every position scored.
    pub fn full(len: usize) -> Self {
        Self { len, scored: len }
    }

    /// Rows of `len` tokens, at most `scored` of them scored.
    pub fn scoring(len: usize, scored: usize) -> Self {
        Self {
            len,
            scored: scored.min(len),
        }
    }

    /// The same rows cut to `len` tokens.
    fn cut(self, len: usize) -> Self {
        Self::scoring(len, self.scored)
    }
}

/// Runtime and allocator overhead beyond the counted tensors. Not a factor: the counted
/// activations already exceed what autodiff keeps at the peak (measured: the page test's run
/// 867 MiB against 1023 planned, the training bench 2846 MiB against 3626).
const OVERHEAD_BYTES: u64 = 64 << 20;

/// Predicts the peak memory of training `model` with `config` on `rows`, checked against
/// `budget` bytes and the device's `max_tensor_bytes`.
pub fn plan(
    model: &PlanModel,
    config: &TrainConfig,
    rows: Rows,
    budget: Option<u64>,
    max_tensor_bytes: Option<u64>,
) -> MemoryPlan {
    let mut plan = estimate(model, config, rows, budget, max_tensor_bytes);
    if !plan.fits {
        plan.suggestions = suggest(model, config, rows, budget, max_tensor_bytes);
    }
    plan
}

fn estimate(
    model: &PlanModel,
    config: &TrainConfig,
    shape: Rows,
    budget: Option<u64>,
    max_tensor_bytes: Option<u64>,
) -> MemoryPlan {
    let s = model.shape;
    let seq_len = shape.len;
    let rows = config.rows_per_batch();
    let tokens = (rows * seq_len) as u64;
    // A 4-bit base also holds its linear weights dequantized: autodiff keeps them for the
    // backward pass (so it does not lower the training peak; it lowers memory at rest).
    let dequantized: u64 = model
        .linear
        .iter()
        .filter(|(_, _, q)| *q)
        .map(|(_, [i, o], _)| *i as u64 * *o as u64 * model.float_bytes as u64)
        .sum();
    let weights = model.weight_bytes + dequantized;
    let adapted: Vec<[usize; 2]> = match config.method {
        Method::Lora => model
            .linear
            .iter()
            .filter(|(path, _, _)| config.lora.target_modules.matches(path))
            .map(|(_, dims, _)| *dims)
            .collect(),
        _ => Vec::new(),
    };
    let trainable = match config.method {
        Method::Lora => adapted
            .iter()
            .map(|[i, o]| {
                (config.lora.r * (i + o) + if config.lora.use_dora { *o } else { 0 }) as u64
            })
            .sum::<u64>(),
        Method::Full => model.parameters,
        Method::Half => model.parameters.div_ceil(2),
    };
    // Parameter, gradient, first and second moment.
    let optimizer = trainable * 16;
    // Per token and layer (see the module docs), plus each adapted layer's branch.
    let (h, f) = (s.hidden as u64, s.ffn as u64);
    // In f16 the activations take 2 bytes, but the norms keep f32 copies of their input and
    // the attention probabilities are computed in f32: those count at 4 bytes. Softmax keeps
    // only its output for the backward pass (`nn::closed_form`), which the next product
    // keeps anyway: one `[heads, seq]` row per token.
    let float = model.float_bytes as u64;
    let per_layer_token = float * (11 * h + 3 * s.kv_dim as u64 + 4 * f)
        + match float {
            4 => 0,
            _ => 2 * 4 * h,
        }
        + 4 * (s.heads * seq_len) as u64;
    let branch: u64 = adapted
        .iter()
        .map(|[i, _]| (*i + config.lora.r) as u64)
        .sum::<u64>()
        / s.layers.max(1) as u64;
    let full_grads = match config.method {
        Method::Lora => 0,
        // Full/HFT also keep each layer's output gradient for weights.
        _ => 2 * h,
    };
    let activations = tokens * s.layers as u64 * (per_layer_token + 4 * (branch + full_grads));
    // Logits, their log-softmax and its gradient in f32, at the scored positions.
    let logits = 3 * 4 * (rows * shape.scored) as u64 * s.vocab as u64;
    let counted = weights + optimizer + activations + logits;
    let total = counted + OVERHEAD_BYTES;
    let largest_tensor = 4 * (rows * s.heads) as u64 * (seq_len * seq_len) as u64;
    let mut problems = Vec::new();
    if let Some(budget) = budget.filter(|&b| total > b) {
        problems.push(format!(
            "needs about {} but {} are available",
            mib(total),
            mib(budget)
        ));
    }
    if let Some(limit) = max_tensor_bytes.filter(|&l| largest_tensor > l) {
        problems.push(format!(
            "one layer's attention probabilities (batch {rows} × {} heads × {seq_len}² tokens) \
             take {}, over the device's largest binding of {}",
            s.heads,
            mib(largest_tensor),
            mib(limit)
        ));
    }
    MemoryPlan {
        weights,
        trainable_parameters: trainable,
        optimizer,
        activations,
        logits,
        total,
        largest_tensor,
        budget,
        max_tensor_bytes,
        fits: problems.is_empty(),
        problems,
        suggestions: Vec::new(),
    }
}

impl MemoryPlan {
    /// `Ok` when the run fits; otherwise a [`Error::TooLarge`] that says why and what would.
    pub fn check(&self) -> Result<()> {
        if self.fits {
            return Ok(());
        }
        let mut problem = format!(
            "this training run does not fit: it {}",
            self.problems.join("; ")
        );
        if self.suggestions.is_empty() {
            problem.push_str(
                ". No smaller batch, sequence length or rank fits either: use a smaller model.",
            );
        } else {
            let options: Vec<String> = self
                .suggestions
                .iter()
                .map(|s| format!("{} (about {})", s.change, mib(s.total)))
                .collect();
            problem.push_str(&format!(". These would fit: {}.", options.join("; ")));
        }
        Err(Error::TooLarge { problem })
    }
}

/// Nearby configurations that fit: the batch halved until it fits (with gradient accumulation
/// doubled, so the effective batch stays), sequences halved until they fit, the rank halved.
fn suggest(
    model: &PlanModel,
    config: &TrainConfig,
    rows: Rows,
    budget: Option<u64>,
    limit: Option<u64>,
) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let seq_len = rows.len;
    let fits = |c: &TrainConfig, seq: usize| {
        let p = estimate(model, c, rows.cut(seq), budget, limit);
        p.fits.then_some(p.total)
    };
    let mut smaller = config.clone();
    while smaller.batch_size > 1 {
        smaller.batch_size /= 2;
        smaller.grad_accumulation *= 2;
        if let Some(total) = fits(&smaller, seq_len) {
            out.push(Suggestion {
                change: format!(
                    "batch {} with {} accumulation steps (the same effective batch)",
                    smaller.batch_size, smaller.grad_accumulation
                ),
                total,
                config: smaller.clone(),
                seq_len,
            });
            break;
        }
    }
    let mut seq = seq_len;
    while seq > 32 {
        seq /= 2;
        if let Some(total) = fits(config, seq) {
            let mut shorter = config.clone();
            shorter.data.encode.max_len = seq;
            out.push(Suggestion {
                change: format!("sequences of at most {seq} tokens"),
                total,
                config: shorter,
                seq_len: seq,
            });
            break;
        }
    }
    if config.method == Method::Lora && config.lora.r > 1 {
        let lower = TrainConfig {
            lora: LoraConfig {
                r: config.lora.r / 2,
                ..config.lora.clone()
            },
            ..config.clone()
        };
        if let Some(total) = fits(&lower, seq_len) {
            out.push(Suggestion {
                change: format!("rank {}", lower.lora.r),
                total,
                config: lower,
                seq_len,
            });
        }
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}
