//! The reports a session hands out: plain serde types that the CLI prints as JSON and the
//! JavaScript API passes on as objects, so both edges show the same fields.

use serde::{Deserialize, Serialize};

use super::OpenModel;
use crate::device::{AdapterReport, Precision};
use crate::eval::Answer;
use crate::generate::StopReason;
use crate::train::PlanModel;

/// The device.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// `"cpu"` or `"gpu"`.
    pub tier: String,
    /// The GPU adapter, its limits and features.
    pub adapter: Option<AdapterReport>,
    /// The largest tensor one kernel can bind (`null`: no limit, the CPU tier).
    pub max_tensor_bytes: Option<u64>,
    /// The tier and adapter as `webtune doctor` prints them, one field per line.
    pub summary: String,
    /// Why the engine took this tier when it was left to choose (no GPU, a software one, or
    /// one slower than the CPU tier); `null` when it was asked for, or is the GPU.
    pub tier_note: Option<super::TierNote>,
    /// The timed products the engine chose by, when it compared the tiers (a GPU adapter
    /// that does not name itself a software renderer).
    pub tier_timing: Option<super::TierTiming>,
}

/// An open model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// The file (or folder) it came from.
    pub name: String,
    /// Its family (`llama`, `qwen2`, `gpt2`).
    pub architecture: String,
    /// Parameters.
    pub parameters: u64,
    /// Bytes the weights take on the device.
    pub weight_bytes: u64,
    /// Whether its linear layers are kept in 4-bit blocks.
    pub quantized: bool,
    /// Linear layers (what LoRA can target), by Hugging Face path.
    pub linear_layers: Vec<String>,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Longest context.
    pub context_length: usize,
    /// Whether it has a tokenizer (needed to train on text and to generate).
    pub has_tokenizer: bool,
    /// The float type it computes in.
    pub precision: Precision,
}

impl ModelInfo {
    /// What `open` is, computing in `precision`.
    pub(super) fn of(open: &OpenModel, precision: Precision) -> Self {
        use crate::models::CausalLm;
        let loaded = &open.loaded;
        let plan = PlanModel::of(loaded);
        Self {
            name: open.name.clone(),
            architecture: loaded.architecture().to_string(),
            parameters: plan.parameters,
            weight_bytes: plan.weight_bytes,
            quantized: plan.linear.iter().any(|(_, _, q)| *q),
            linear_layers: plan.linear.into_iter().map(|(p, _, _)| p).collect(),
            vocab_size: loaded.model.vocab_size(),
            context_length: loaded.model.context_length(),
            has_tokenizer: loaded.tokenizer.is_some(),
            precision,
        }
    }
}

/// A model (with its adapter, if any) measured on a dataset: the same report from
/// `webtune eval`, `webtune train --exact-match` and the JavaScript API's `evaluate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The dataset (its file name; the validation split of the loaded dataset says so).
    pub data: String,
    /// Examples scored.
    pub examples: usize,
    /// Mean loss per trained token (`null` when nothing was scored).
    pub loss: Option<f64>,
    /// `exp(loss)`.
    pub perplexity: Option<f64>,
    /// Greedy answers' exact-match accuracy, when asked for.
    pub exact_match: Option<f64>,
    /// Answers whose first word is right, when asked for.
    pub first_word_accuracy: Option<f64>,
    /// The answers, when asked for.
    pub answers: Vec<Answer>,
    /// Whether the answers were stopped before every question was asked (the accuracies are
    /// over those answered).
    pub stopped: bool,
}

/// A generated answer.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    /// The new text.
    pub text: String,
    /// New tokens.
    pub tokens: usize,
    /// Tokens of the prompt as the model saw it.
    pub prompt_tokens: usize,
    /// Turns of the history left out because the conversation did not fit the context.
    pub dropped_turns: usize,
    /// Why it ended.
    pub stop: StopReason,
    /// Seconds from the call to the first text (the prompt's prefill, mostly).
    pub first_text_seconds: f64,
    /// Seconds the whole answer took.
    pub seconds: f64,
    /// Prompt tokens per second up to the first text.
    pub prefill_tokens_per_second: f64,
    /// New tokens per second after the first text (0 when there was one token or none).
    pub decode_tokens_per_second: f64,
}

/// One token's loss.
#[derive(Debug, Clone, Serialize)]
pub struct TokenLoss {
    /// Its id.
    pub id: u32,
    /// Its text.
    pub text: String,
    /// `-ln p(token | before)`, in nats.
    pub loss: f32,
}

/// Every token's loss in a text, its mean and the perplexity.
#[derive(Debug, Clone, Serialize)]
pub struct TextScores {
    /// Tokens of the text (with BOS when asked).
    pub tokens: usize,
    /// Tokens scored (all but the first).
    pub scored_tokens: usize,
    /// Mean loss.
    pub mean_loss: f64,
    /// `exp(mean_loss)`.
    pub perplexity: f64,
    /// Per scored token.
    pub per_token: Vec<TokenLoss>,
}
