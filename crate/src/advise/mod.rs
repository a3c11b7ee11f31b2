//! The advisor: fine-tune or retrieve? Given documents, labelled examples, held-out questions
//! and a change to the documents, it measures four approaches on the user's own data — the
//! base model, RAG, a LoRA fine-tune, and LoRA + RAG — and recommends one, explaining itself
//! with the field's rules of thumb: facts that change → RAG; style or behaviour → fine-tune;
//! little labelled data → RAG.
//!
//! Answers are marked by facts ([`score::states_all`]: the question's key phrases, as
//! normalised words) and by format ([`score::follows`]: the markers of the house format, which
//! [`score::house_format`] learns from the training answers). The LoRA + RAG adapter trains on
//! the questions *with* their retrieved sources, so it learns to read them; the plain LoRA
//! trains on the questions alone. Both train with the same settings.

mod questions;
mod report;
mod run;
pub mod score;

use serde::{Deserialize, Serialize};

pub use questions::{Question, read_questions};
pub use report::{Absorb, Arm, ArmReport, Marked, Recommendation, Report, Set, recommend};
pub use run::{Engines, Inputs, Progress, advise};

use crate::rag::ChunkOptions;
use crate::train::TrainConfig;

/// How the advisor runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdviseConfig {
    /// How both adapters train.
    pub train: TrainConfig,
    /// Sources retrieved per question.
    pub k: usize,
    /// Tokens an answer may have.
    pub max_new_tokens: usize,
    /// A label or line counts as part of the house format when this share of the training
    /// answers has it.
    pub format_share: f64,
    /// How documents are cut into chunks.
    pub chunks: ChunkOptions,
    /// Ask at most this many questions of each set (a quick look; `None`: all).
    pub max_questions: Option<usize>,
}

impl Default for AdviseConfig {
    fn default() -> Self {
        let mut train = TrainConfig {
            max_steps: Some(60),
            warmup_steps: 5,
            eval_every: 0,
            ..TrainConfig::default()
        };
        train.optimizer.lr = 2e-3;
        train.lora.r = 8;
        train.lora.lora_alpha = 16.0;
        train.epochs = 8;
        Self {
            train,
            k: 3,
            max_new_tokens: 48,
            format_share: 0.6,
            chunks: ChunkOptions::default(),
            max_questions: None,
        }
    }
}
