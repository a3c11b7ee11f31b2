//! Training data from documents: question/answer pairs that a language model writes about each
//! passage ([`generate_pairs`]), kept only when they pass [`filter`]'s checks (a question
//! about the passage, an answer grounded in it, no repeats), and written as chat JSONL that
//! trains here and in TRL ([`to_jsonl`]). With `keep_passage` the question is asked with its
//! passage as a numbered source, exactly as RAG asks, so an adapter trained on the pairs learns
//! to read its sources.
//!
//! The model that writes the pairs can be the one to be trained or a larger one opened for the
//! purpose; the pairs are plain text, so either way the file is the hand-over.

pub mod filter;
mod write;

use serde::{Deserialize, Serialize};

pub use filter::Dropped;
pub use write::{pair_messages, to_jsonl};

use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::generate::{GenerateConfig, Sampling, generate_text};
use crate::models::CausalLm;
use crate::platform::{seconds_now, yield_now};
use crate::rag::{Chunk, ChunkOptions};
use crate::tokenizer::{Message, Tokenizer};

/// How pairs are written and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QaConfig {
    /// Questions kept per passage, at most.
    pub questions_per_passage: usize,
    /// Times the model is asked for questions about one passage: first greedily, then
    /// sampled (temperature 0.8, top-p 0.95), until enough are kept.
    pub attempts: usize,
    /// Tokens the model may write for a passage's questions.
    pub max_question_tokens: usize,
    /// Tokens an answer may have.
    pub max_answer_tokens: usize,
    /// Share of an answer's terms (content words, stemmed) that must be in its passage.
    pub min_overlap: f64,
    /// A question whose terms overlap a kept question's this much (Jaccard) is a repeat.
    pub repeat_similarity: f64,
    /// Ask each question with its passage as source `[1]` (for LoRA + RAG training).
    pub keep_passage: bool,
    /// How documents are cut into passages.
    pub chunks: ChunkOptions,
    /// Seed of the sampled attempts.
    pub seed: u64,
    /// Use at most this many passages (a quick look; `None`: all).
    pub max_passages: Option<usize>,
}

impl Default for QaConfig {
    fn default() -> Self {
        Self {
            questions_per_passage: 3,
            attempts: 2,
            max_question_tokens: 96,
            max_answer_tokens: 64,
            min_overlap: 0.75,
            repeat_similarity: 0.7,
            keep_passage: false,
            chunks: ChunkOptions::default(),
            seed: 0,
            max_passages: None,
        }
    }
}

impl QaConfig {
    /// Fails on a setting out of its range, naming it.
    pub fn check(&self) -> Result<()> {
        let bad = |setting: &str, problem: &str| {
            Err(Error::Setting {
                setting: setting.into(),
                problem: problem.into(),
            })
        };
        if !(1..=20).contains(&self.questions_per_passage) {
            return bad("questions_per_passage", "must be 1 to 20");
        }
        if !(1..=10).contains(&self.attempts) {
            return bad("attempts", "must be 1 to 10");
        }
        if self.max_question_tokens < 8 || self.max_answer_tokens < 4 {
            return bad(
                "max_question_tokens",
                "and max_answer_tokens must leave room for a question (8) and an answer (4)",
            );
        }
        if !(0.0..=1.0).contains(&self.min_overlap) {
            return bad("min_overlap", "must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.repeat_similarity) || self.repeat_similarity == 0.0 {
            return bad("repeat_similarity", "must be above 0 and at most 1");
        }
        if self.max_passages == Some(0) {
            return bad("max_passages", "must be at least 1 (or unset for all)");
        }
        Ok(())
    }
}

/// A question/answer pair and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QaPair {
    /// The question.
    pub question: String,
    /// The answer, as the model wrote it from the passage.
    pub answer: String,
    /// The passage it was written from.
    pub passage: Chunk,
    /// Share of the answer's terms found in the passage.
    pub overlap: f64,
}

/// A pair the checks dropped, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedPair {
    /// The question (or the line the model wrote instead of one).
    pub question: String,
    /// The answer, if one was asked for.
    pub answer: String,
    /// The passage's document.
    pub doc_id: String,
    /// Why it was dropped.
    pub reason: Dropped,
}

/// What [`generate_pairs`] made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QaReport {
    /// Passages the model read.
    pub passages: usize,
    /// Candidate questions the model wrote (after parsing lines); each is kept or dropped
    /// (with a question: a passage too long to ask about is dropped with none).
    pub candidates: usize,
    /// Pairs kept.
    pub kept: Vec<QaPair>,
    /// Pairs dropped, with reasons (and passages too long for the model, with an empty
    /// question).
    pub dropped: Vec<DroppedPair>,
    /// Seconds it took.
    pub seconds: f64,
    /// Stopped by the caller before the last passage (what was made is kept).
    pub stopped: bool,
}

impl QaReport {
    /// How many were dropped for each reason, in a fixed order.
    pub fn dropped_by_reason(&self) -> Vec<(Dropped, usize)> {
        Dropped::ALL
            .iter()
            .map(|r| (*r, self.dropped.iter().filter(|d| d.reason == *r).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// What [`generate_pairs`] is doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QaProgress {
    /// Passage `done` of `total` is being read; `kept` pairs so far.
    Passage {
        /// Passages done.
        done: usize,
        /// Passages in all.
        total: usize,
        /// Pairs kept so far.
        kept: usize,
    },
    /// A pair was kept.
    Kept(QaPair),
}

/// The request for questions about `passage`.
pub fn question_prompt(passage: &Chunk, n: usize) -> Vec<Message> {
    let label = write::label(passage);
    let what = match n {
        1 => "one question".to_string(),
        n => format!("{n} different questions"),
    };
    vec![Message::new(
        "user",
        &format!(
            "{label}\n{}\n\nWrite {what} that a reader could ask and that this text answers, \
             one per line.",
            passage.text.trim()
        ),
    )]
}

/// The request for the answer to `question` from `passage`.
pub fn answer_prompt(passage: &Chunk, question: &str) -> Vec<Message> {
    let label = write::label(passage);
    vec![Message::new(
        "user",
        &format!(
            "{label}\n{}\n\nAnswer from the text above, in one sentence: {question}",
            passage.text.trim()
        ),
    )]
}

/// The model, its tokenizer and where it runs.
pub struct Writer<'a, M: CausalLm> {
    /// The language model that writes the pairs.
    pub model: &'a M,
    /// Its tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// Its end-of-answer ids.
    pub stop_ids: &'a [u32],
    /// The device it runs on.
    pub device: &'a burn::tensor::Device,
}

impl<M: CausalLm> Writer<'_, M> {
    /// `messages` as ids, when they and `max` new tokens fit the model's context.
    fn fitting(&self, messages: &[Message], max: usize) -> Result<Option<Vec<u32>>> {
        let ids = self.tokenizer.encode_chat(messages)?;
        Ok((ids.len() + max <= self.model.context_length()).then_some(ids))
    }

    /// Up to `max` new tokens after the prompt `ids`.
    async fn write(&self, ids: &[u32], max: usize, sampling: Sampling) -> Result<String> {
        let config = GenerateConfig {
            max_new_tokens: max,
            sampling,
            stop_ids: self.stop_ids.to_vec(),
            stop_strings: Vec::new(),
        };
        let out = generate_text(
            self.model,
            self.tokenizer,
            self.device,
            ids,
            &config,
            |_| Flow::Continue,
        )
        .await?;
        Ok(out.text)
    }
}

/// Writes up to `config.questions_per_passage` checked pairs about each of `passages` with
/// `writer`'s model. `on_progress` hears each passage and each kept pair; [`Flow::Stop`] ends
/// the work after the current passage, keeping what was made.
pub async fn generate_pairs<M: CausalLm>(
    writer: &Writer<'_, M>,
    passages: &[Chunk],
    config: &QaConfig,
    mut on_progress: impl FnMut(&QaProgress) -> Flow,
) -> Result<QaReport> {
    config.check()?;
    if passages.iter().all(|p| p.text.trim().is_empty()) {
        return Err(Error::Input {
            problem: "the documents have no text to write questions about".into(),
        });
    }
    let start = seconds_now();
    let passages = &passages[..passages
        .len()
        .min(config.max_passages.unwrap_or(usize::MAX))];
    let mut report = QaReport {
        passages: passages.len(),
        candidates: 0,
        kept: Vec::new(),
        dropped: Vec::new(),
        seconds: 0.0,
        stopped: false,
    };
    let mut seen = filter::Seen::new(config.repeat_similarity);
    for (i, passage) in passages.iter().enumerate() {
        let flow = on_progress(&QaProgress::Passage {
            done: i,
            total: passages.len(),
            kept: report.kept.len(),
        });
        if flow == Flow::Stop {
            report.stopped = true;
            break;
        }
        let mut kept_here = 0;
        // The longest request (all questions wanted) must fit; shorter ones then do too.
        if writer
            .fitting(
                &question_prompt(passage, config.questions_per_passage),
                config.max_question_tokens,
            )?
            .is_none()
        {
            report.dropped.push(DroppedPair {
                question: String::new(),
                answer: String::new(),
                doc_id: passage.doc_id.clone(),
                reason: Dropped::TooLong,
            });
            continue;
        }
        for attempt in 0..config.attempts {
            if kept_here >= config.questions_per_passage {
                break;
            }
            let sampling = match attempt {
                0 => Sampling::default(),
                _ => Sampling {
                    temperature: 0.8,
                    top_p: 0.95,
                    seed: config
                        .seed
                        .wrapping_add((i * config.attempts + attempt) as u64),
                    ..Sampling::default()
                },
            };
            let wanted = config.questions_per_passage - kept_here;
            let ids = writer
                .tokenizer
                .encode_chat(&question_prompt(passage, wanted))?;
            let text = writer
                .write(&ids, config.max_question_tokens, sampling)
                .await?;
            for line in filter::question_lines(&text) {
                if kept_here >= config.questions_per_passage {
                    break;
                }
                report.candidates += 1;
                let drop = |reason, answer: &str| DroppedPair {
                    question: line.clone(),
                    answer: answer.to_string(),
                    doc_id: passage.doc_id.clone(),
                    reason,
                };
                if let Err(reason) = filter::question(&line, &passage.text) {
                    report.dropped.push(drop(reason, ""));
                    continue;
                }
                if seen.repeats(&line) {
                    report.dropped.push(drop(Dropped::Repeat, ""));
                    continue;
                }
                let asked = answer_prompt(passage, &line);
                let Some(ids) = writer.fitting(&asked, config.max_answer_tokens)? else {
                    report.dropped.push(drop(Dropped::TooLong, ""));
                    continue;
                };
                let answer = writer
                    .write(&ids, config.max_answer_tokens, Sampling::default())
                    .await?;
                let answer = filter::first_sentences(&answer);
                match filter::answer(&answer, &line, &passage.text, config.min_overlap) {
                    Ok(overlap) => {
                        seen.add(&line);
                        let pair = QaPair {
                            question: line.clone(),
                            answer,
                            passage: passage.clone(),
                            overlap,
                        };
                        on_progress(&QaProgress::Kept(pair.clone()));
                        report.kept.push(pair);
                        kept_here += 1;
                    }
                    Err(reason) => report.dropped.push(drop(reason, &answer)),
                }
                yield_now().await;
            }
        }
    }
    report.seconds = seconds_now() - start;
    Ok(report)
}

/// Tokens of a request beside its passage: the instructions, the chat template's markers and
/// a question of 40 words.
const REQUEST_TOKENS: usize = 96;

/// Cuts `documents` into passages for [`generate_pairs`] with `config.chunks`, counting tokens
/// with `tokenizer`, no longer than leaves room in a `context` of tokens for the request and
/// the answer.
pub fn passages(
    documents: &[crate::rag::Document],
    tokenizer: &Tokenizer,
    config: &QaConfig,
    context: usize,
) -> Vec<Chunk> {
    let count = |s: &str| tokenizer.encode(s).map_or(usize::MAX, |ids| ids.len());
    let room = context
        .saturating_sub(REQUEST_TOKENS + config.max_question_tokens.max(config.max_answer_tokens));
    let options = &ChunkOptions {
        max_tokens: config.chunks.max_tokens.min(room.max(16)),
        overlap_tokens: config.chunks.overlap_tokens,
    };
    documents
        .iter()
        .flat_map(|d| crate::rag::chunk(&d.id, &d.title, &d.text, options, &count))
        .collect()
}
