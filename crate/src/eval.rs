//! Evaluating a model on text: per-token negative log-likelihood and perplexity, computed in
//! windows so that memory stays bounded on long texts.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::device::read_f32;
use crate::error::Result;
use crate::flow::Flow;
use crate::models::{CausalLm, check_ids};
use crate::tokenizer::Message;

/// At most this many positions are fed at once.
const WINDOW: usize = 256;

/// The `[window, vocab]` logits of one window stay under this many bytes (well inside one
/// storage binding).
const LOGITS_BYTES: usize = 32 << 20;

/// The loss of each token given the ones before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// `losses[i]` is `-ln p(ids[i + 1] | ids[..=i])`, in nats.
    pub losses: Vec<f32>,
}

impl Scores {
    /// Mean loss over the scored tokens (NaN when there are none).
    pub fn mean_loss(&self) -> f64 {
        self.losses.iter().map(|&l| f64::from(l)).sum::<f64>() / self.losses.len() as f64
    }

    /// `exp(mean loss)`.
    pub fn perplexity(&self) -> f64 {
        self.mean_loss().exp()
    }
}

/// Scores every token of `ids` after the first, as transformers' causal-LM loss does with
/// `labels = input_ids` (mean of these losses = its `loss`).
pub async fn score(model: &impl CausalLm, device: &Device, ids: &[u32]) -> Result<Scores> {
    check_ids(model, ids, 2, "the text to score")?;
    let mut cache = model.new_cache();
    let mut losses = Vec::with_capacity(ids.len() - 1);
    let inputs = &ids[..ids.len() - 1];
    let window = (LOGITS_BYTES / (4 * model.vocab_size())).clamp(1, WINDOW);
    for (w, chunk) in inputs.chunks(window).enumerate() {
        let len = chunk.len();
        let start = w * window;
        let as_data = |values: &[u32], shape: Vec<usize>| {
            let values: Vec<i32> = values.iter().map(|&t| t as i32).collect();
            TensorData::new(values, shape)
        };
        let input = Tensor::<2, Int>::from_data(as_data(chunk, vec![1, len]), device);
        let targets = &ids[start + 1..start + 1 + len];
        let targets = Tensor::<3, Int>::from_data(as_data(targets, vec![1, len, 1]), device);
        let logits = model.forward_cached(input, &mut cache);
        // -log_softmax at the target: [1, len, 1]
        let nll = crate::nn::log_softmax_f32(logits, 2)
            .gather(2, targets)
            .neg();
        losses.extend(read_f32(nll, "token losses").await?);
    }
    Ok(Scores { losses })
}

/// One question of an exact-match evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The reference answer.
    pub expected: String,
    /// What the model said.
    pub got: String,
    /// Whether they match (trimmed, case-insensitive).
    pub correct: bool,
    /// Whether the answer's first word matches the reference's, ignoring case and
    /// punctuation ("No." and "No, because…" for "No").
    pub first_word_correct: bool,
}

/// Exact-match accuracy of greedy answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactMatch {
    /// Every question's answer (those asked before a stop).
    pub answers: Vec<Answer>,
    /// Whether `progress` stopped it before every question was asked.
    pub stopped: bool,
}

impl ExactMatch {
    /// Share of exactly correct answers.
    pub fn accuracy(&self) -> f64 {
        let correct = self.answers.iter().filter(|a| a.correct).count();
        correct as f64 / self.answers.len().max(1) as f64
    }

    /// Share of answers whose first word is correct.
    pub fn first_word_accuracy(&self) -> f64 {
        let correct = self.answers.iter().filter(|a| a.first_word_correct).count();
        correct as f64 / self.answers.len().max(1) as f64
    }
}

/// Asks `model` every conversation in `examples` that ends with an assistant turn (the
/// reference answer), greedily, and compares its answer with the reference after trimming and
/// ignoring case. Other examples are skipped. `progress(answered, questions)` is called before
/// each question and as each answer's tokens arrive; [`Flow::Stop`] ends the work there
/// (the answer in progress is left out) and the result says so.
pub async fn exact_match(
    model: &impl CausalLm,
    tokenizer: &crate::tokenizer::Tokenizer,
    device: &Device,
    examples: &[crate::data::Example],
    stop_ids: &[u32],
    max_new_tokens: usize,
    mut progress: impl FnMut(usize, usize) -> Flow,
) -> Result<ExactMatch> {
    use crate::generate::{GenerateConfig, generate_text};
    let config = GenerateConfig {
        max_new_tokens,
        stop_ids: stop_ids.to_vec(),
        ..GenerateConfig::default()
    };
    let questions: Vec<(&Message, &[Message])> = examples
        .iter()
        .filter_map(|example| match example {
            crate::data::Example::Chat(messages) => messages.split_last(),
            _ => None,
        })
        .filter(|(last, _)| last.role == "assistant")
        .collect();
    let total = questions.len();
    let mut answers = Vec::new();
    for (last, prompt) in questions {
        let answered = answers.len();
        if progress(answered, total) == Flow::Stop {
            return Ok(ExactMatch {
                answers,
                stopped: true,
            });
        }
        let ids = tokenizer.encode_chat(prompt)?;
        let mut halted = false;
        let out = generate_text(model, tokenizer, device, &ids, &config, |_| {
            let flow = progress(answered, total);
            halted |= flow == Flow::Stop;
            flow
        })
        .await?;
        if halted {
            return Ok(ExactMatch {
                answers,
                stopped: true,
            });
        }
        let got = out.text.trim().to_string();
        let correct = got.to_lowercase() == last.content.trim().to_lowercase();
        let first_word = |text: &str| {
            text.split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        };
        let first_word_correct = first_word(&got) == first_word(&last.content);
        answers.push(Answer {
            expected: last.content.clone(),
            got,
            correct,
            first_word_correct,
        });
    }
    progress(answers.len(), total);
    Ok(ExactMatch {
        answers,
        stopped: false,
    })
}
