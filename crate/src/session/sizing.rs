//! Sizing a model before its weights are fetched: from its `config.json` alone, what it takes
//! on this device at rest, whether the engine can hold it, and the memory plan of a LoRA run
//! shaped like the quick preset's — the verdict the page shows beside the better models it
//! offers ([`MODEL_PRESETS`]) before a download starts.

use serde::Serialize;

use super::Session;
use super::policy::{self, OpenOptions, Purpose};
use crate::device::{Precision, human_bytes};
use crate::error::Result;
use crate::lora::LoraConfig;
use crate::models::ModelConfig;
use crate::train::{MemoryPlan, PlanModel, Rows, TrainConfig, plan};

/// A model on the Hugging Face hub worth offering beside the default one.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HubModel {
    /// Its repository (`HuggingFaceTB/SmolLM2-360M-Instruct`).
    pub repo: &'static str,
    /// What it is, in a few words.
    pub note: &'static str,
}

/// Better small instruction models than the default, smallest first (each a family webtune
/// reads from a Hugging Face folder).
pub const MODEL_PRESETS: [HubModel; 4] = [
    HubModel {
        repo: "HuggingFaceTB/SmolLM2-360M-Instruct",
        note: "the default's larger sibling: the same tokenizer and template, better answers",
    },
    HubModel {
        repo: "Qwen/Qwen2.5-0.5B-Instruct",
        note: "multilingual, a large vocabulary; follows instructions well for its size",
    },
    HubModel {
        repo: "Qwen/Qwen2.5-1.5B-Instruct",
        note: "a capable small assistant; needs a GPU, or 4-bit blocks on the CPU tier",
    },
    HubModel {
        repo: "HuggingFaceTB/SmolLM2-1.7B-Instruct",
        note: "SmolLM2's largest; needs a GPU, or 4-bit blocks on the CPU tier",
    },
];

/// What a model would take here, before it is fetched.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFit {
    /// Its name (a repository, a file).
    pub name: String,
    /// Its family.
    pub architecture: &'static str,
    /// Its parameters.
    pub parameters: u64,
    /// Bytes its weights would take on this device.
    pub weight_bytes: u64,
    /// The float type it would open in.
    pub precision: Precision,
    /// Whether this engine can hold its weights.
    pub opens: bool,
    /// Why not, when it cannot.
    pub problem: Option<String>,
    /// The memory plan of a LoRA run of rank 8 at batch 2 on rows of the asked length.
    pub training: MemoryPlan,
    /// All of it in words.
    pub summary: String,
}

impl Session {
    /// What the model whose `config.json` is `bytes` (`name` in messages) would take on this
    /// device, opened with `quantize` (linear layers in 4-bit blocks), and whether a LoRA run
    /// of rank 8 at batch 2 on rows of `seq_len` tokens would fit its memory.
    pub fn size_up(
        &self,
        name: &str,
        bytes: &[u8],
        quantize: bool,
        seq_len: usize,
    ) -> Result<ModelFit> {
        let config = ModelConfig::from_json(name, bytes)?;
        let options = OpenOptions {
            quantize,
            precision: None,
            purpose: Purpose::Read,
        };
        let precision = policy::precision(&self.device, &options);
        let float_bytes = match precision {
            Precision::F16 => 2,
            Precision::F32 => 4,
        };
        let model = PlanModel::from_config(&config, quantize, float_bytes);
        let problem = policy::placement(&self.device, quantize)
            .check(name, &config)
            .err()
            .map(|e| e.to_string());
        let run = TrainConfig {
            lora: LoraConfig {
                r: 8,
                lora_alpha: 16.0,
                ..LoraConfig::default()
            },
            batch_size: 2,
            ..TrainConfig::default()
        };
        let training = plan(
            &model,
            &run,
            Rows::full(seq_len.max(1)),
            policy::memory_budget(&self.device),
            policy::binding_limit(&self.device),
        );
        let (parameters, weight_bytes) = (model.parameters, model.weight_bytes);
        let blocks = if quantize {
            ", linear layers in 4-bit blocks"
        } else {
            ""
        };
        let at_rest = format!(
            "{name}: {} parameters, {} here in {precision}{blocks}",
            millions(parameters),
            human_bytes(weight_bytes)
        );
        let budget = training
            .budget
            .map_or(String::new(), |b| format!(" of {}", human_bytes(b)));
        let run_words = format!("a LoRA run (rank 8, batch 2, {seq_len}-token rows)");
        let verdict = match (&problem, training.fits) {
            (Some(problem), _) => format!(
                "it cannot be opened here: {}",
                problem
                    .strip_prefix(&format!("{name}: "))
                    .unwrap_or(problem)
            ),
            (None, true) => format!(
                "{run_words} needs about {}{budget}: it fits",
                human_bytes(training.total)
            ),
            (None, false) => format!(
                "it opens, but {run_words} does not fit: it {}",
                training.problems.join("; ")
            ),
        };
        Ok(ModelFit {
            name: name.to_string(),
            architecture: config.architecture().name(),
            parameters,
            weight_bytes,
            precision,
            opens: problem.is_none(),
            problem,
            training,
            summary: format!("{at_rest}; {verdict}."),
        })
    }
}

/// `n` in millions or billions ("362 M", "1.7 B").
fn millions(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1} B", n as f64 / 1e9),
        n => format!("{:.0} M", n as f64 / 1e6),
    }
}
