//! The advisor's run: index the documents, train two adapters (one on the plain questions, one
//! on the questions with their retrieved sources), answer the held-out questions with each of
//! the four approaches, change the documents, and answer the changed questions again.

use burn::module::Module;
use burn::tensor::Device;

use super::AdviseConfig;
use super::questions::Question;
use super::report::{Absorb, Arm, ArmReport, Marked, Report, Set, recommend};
use super::score::{Marker, follows, house_format, states_all, states_any, words};
use crate::data::{DataFormat, Dataset, Example, prepare_dataset};
use crate::error::{Error, Result};
use crate::generate::{Flow, GenerateConfig, generate_text};
use crate::models::{CausalLm, Model};
use crate::platform::{seconds_now, yield_now};
use crate::rag::{Document, Index, SearchMode, SentenceEncoder, answer};
use crate::tokenizer::{Message, Tokenizer};
use crate::train::{Event, fine_tune, prepare_model};

/// What the advisor compares on.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The documents as they are first indexed.
    pub documents: &'a [Document],
    /// New versions of some documents (same ids) or new ones: the change to absorb.
    pub changed_documents: &'a [Document],
    /// Labelled examples to fine-tune on (conversations, or prompt/completion pairs).
    pub training: &'a [Example],
    /// More examples both adapters train on beside `training` (pairs written from the
    /// documents, say): they do not shape the house format, and keep their own system prompt
    /// (none, if they have none).
    pub generated: &'a [Example],
    /// Questions to answer; those that are also training questions are left out.
    pub questions: &'a [Question],
    /// Questions whose answers the change altered (asked after it).
    pub changed_questions: &'a [Question],
}

/// The models the advisor runs.
pub struct Engines<'a> {
    /// The language model, on the training (autodiff) device, with no adapter attached.
    pub model: &'a mut Model,
    /// Its tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// Its end-of-answer ids.
    pub stop_ids: &'a [u32],
    /// The device answers are generated on (the inference twin of `train_device`).
    pub device: &'a Device,
    /// The device it trains on.
    pub train_device: &'a Device,
    /// The bytes the model's weights take.
    pub model_bytes: u64,
    /// The sentence encoder retrieval embeds with.
    pub encoder: &'a SentenceEncoder,
}

/// What the advisor is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// A stage of work, `done` of `total` units.
    Stage {
        /// What is being done.
        stage: String,
        /// Units done.
        done: usize,
        /// Units in all.
        total: usize,
    },
    /// A training run's event.
    Training {
        /// The approach being trained.
        arm: Arm,
        /// The event.
        event: Event,
    },
    /// An answer was marked.
    Answer(Marked),
}

/// A training example as the advisor uses it.
struct Pair {
    system: Option<String>,
    question: String,
    answer: String,
}

fn pairs(training: &[Example], what: &str) -> Result<Vec<Pair>> {
    let last = |messages: &[Message], role: &str| {
        messages
            .iter()
            .rev()
            .find(|m| m.role == role)
            .map(|m| m.content.clone())
    };
    let out: Vec<Pair> = training
        .iter()
        .filter_map(|example| match example {
            Example::Chat(messages) => Some(Pair {
                system: last(messages, "system"),
                question: last(messages, "user")?,
                answer: last(messages, "assistant")?,
            }),
            Example::Completion { prompt, completion } => Some(Pair {
                system: None,
                question: prompt.clone(),
                answer: completion.clone(),
            }),
            Example::Text(_) => None,
        })
        .collect();
    if out.is_empty() {
        return Err(Error::Input {
            problem: format!(
                "the {what} has no question/answer pairs (conversations or prompt/completion \
                 records) to fine-tune on"
            ),
        });
    }
    Ok(out)
}

/// The messages that ask `question`: the data's system prompt, then the question alone or
/// with sources from `index`.
async fn ask_messages(
    e: &Engines<'_>,
    system: Option<&str>,
    question: &str,
    index: Option<&Index>,
    config: &AdviseConfig,
) -> Result<Vec<Message>> {
    match index {
        None => {
            let mut messages: Vec<Message> = system
                .map(|s| Message::new("system", s))
                .into_iter()
                .collect();
            messages.push(Message::new("user", question));
            Ok(messages)
        }
        Some(index) => {
            let hits = index
                .search(question, config.k, SearchMode::Hybrid, e.encoder)
                .await?;
            let model = &*e.model;
            Ok(answer::messages(
                model,
                e.tokenizer,
                system,
                question,
                &hits,
                config.max_new_tokens,
            )?
            .0)
        }
    }
}

/// The training set as conversations, each question with its sources when `index` is given.
async fn training_set(
    e: &Engines<'_>,
    pairs: &[&Pair],
    index: Option<&Index>,
    config: &AdviseConfig,
) -> Result<Dataset> {
    let mut examples = Vec::with_capacity(pairs.len());
    for (i, pair) in pairs.iter().enumerate() {
        let mut messages =
            ask_messages(e, pair.system.as_deref(), &pair.question, index, config).await?;
        messages.push(Message::new("assistant", &pair.answer));
        examples.push((i + 1, Example::Chat(messages)));
    }
    Ok(Dataset {
        format: DataFormat::Messages,
        examples,
        blank_lines: 0,
    })
}

/// The context the questions of one pass are asked in.
struct Pass<'a> {
    arm: Arm,
    set: Set,
    questions: &'a [Question],
    index: Option<&'a Index>,
}

/// Answers `pass`'s questions with the model as it is now and marks them.
async fn answer_all(
    e: &Engines<'_>,
    pass: &Pass<'_>,
    system: Option<&str>,
    format: &[Marker],
    config: &AdviseConfig,
    on_progress: &mut impl FnMut(&Progress) -> Flow,
) -> Result<Vec<Marked>> {
    let model = e.model.valid();
    let generate = GenerateConfig {
        max_new_tokens: config.max_new_tokens,
        stop_ids: e.stop_ids.to_vec(),
        ..Default::default()
    };
    let mut out = Vec::new();
    for (i, q) in pass.questions.iter().enumerate() {
        let stage = Progress::Stage {
            stage: format!("{}: {} questions", pass.arm.label(), pass.set.label()),
            done: i,
            total: pass.questions.len(),
        };
        if on_progress(&stage) == Flow::Stop {
            return Err(stopped());
        }
        let start = seconds_now();
        let messages = ask_messages(e, system, &q.question, pass.index, config).await?;
        let ids = e.tokenizer.encode_chat(&messages)?;
        let text = generate_text(&model, e.tokenizer, e.device, &ids, &generate, |_| {
            Flow::Continue
        })
        .await?
        .text;
        let marked = Marked {
            arm: pass.arm,
            set: pass.set,
            question: q.question.clone(),
            facts_stated: states_all(&text, &q.facts),
            stale: states_any(&text, &q.old_facts),
            format_followed: follows(&text, format),
            seconds: seconds_now() - start,
            prompt_tokens: ids.len(),
            answer: text,
        };
        let flow = on_progress(&Progress::Answer(marked.clone()));
        if flow == Flow::Stop {
            return Err(stopped());
        }
        out.push(marked);
        yield_now().await;
    }
    Ok(out)
}

/// Indexes `documents` into `index`, returning the seconds it took.
async fn index_all(
    index: &mut Index,
    documents: &[Document],
    encoder: &SentenceEncoder,
    stage: &str,
    on_progress: &mut impl FnMut(&Progress) -> Flow,
) -> Result<f64> {
    let start = seconds_now();
    for (i, doc) in documents.iter().enumerate() {
        let flow = on_progress(&Progress::Stage {
            stage: stage.into(),
            done: i,
            total: documents.len(),
        });
        if flow == Flow::Stop {
            return Err(stopped());
        }
        index
            .upsert(&doc.id, &doc.title, &doc.text, encoder)
            .await?;
    }
    Ok(seconds_now() - start)
}

/// The error for a comparison stopped by its caller: half a comparison recommends nothing.
fn stopped() -> Error {
    Error::Stopped {
        what: "the advisor's comparison".into(),
    }
}

/// Runs the comparison (see the module docs) and returns the table and the recommendation.
/// `on_progress` hears every stage, training step and marked answer; [`Flow::Stop`] from any
/// of them ends the comparison with [`Error::Stopped`] (within a training step or an answer).
pub async fn advise(
    e: &mut Engines<'_>,
    inputs: &Inputs<'_>,
    config: &AdviseConfig,
    mut on_progress: impl FnMut(&Progress) -> Flow,
) -> Result<Report> {
    let pairs = pairs(inputs.training, "training data")?;
    let generated = match inputs.generated.is_empty() {
        true => Vec::new(),
        false => self::pairs(inputs.generated, "generated data")?,
    };
    let trained: std::collections::HashSet<Vec<String>> =
        pairs.iter().map(|p| words(&p.question)).collect();
    let most = config.max_questions.unwrap_or(usize::MAX);
    let held_out: Vec<Question> = inputs
        .questions
        .iter()
        .filter(|q| !trained.contains(&words(&q.question)))
        .take(most)
        .cloned()
        .collect();
    let changed_questions = &inputs.changed_questions[..inputs.changed_questions.len().min(most)];
    if held_out.is_empty() {
        return Err(Error::Input {
            problem: "every question is also a training question: hold some out, so that the \
                      approaches are compared on questions none of them trained on"
                .into(),
        });
    }
    let answers: Vec<&str> = pairs.iter().map(|p| p.answer.as_str()).collect();
    let format = house_format(&answers, config.format_share);
    let system = pairs.iter().find_map(|p| p.system.clone());
    let system = system.as_deref();

    let mut before = Index::new("advisor", e.encoder.dimension(), config.chunks);
    index_all(
        &mut before,
        inputs.documents,
        e.encoder,
        "indexing the documents",
        &mut on_progress,
    )
    .await?;
    let mut after = before.clone();
    let reindex_seconds = index_all(
        &mut after,
        inputs.changed_documents,
        e.encoder,
        "indexing the changed documents",
        &mut on_progress,
    )
    .await?;
    let retrieval_bytes = e.encoder.weight_bytes() + after.to_bytes().len() as u64;

    let mut marked = Vec::new();
    let mut arms = Vec::new();
    for arm in Arm::ALL {
        let index_before = arm.retrieves().then_some(&before);
        let index_after = arm.retrieves().then_some(&after);
        let mut training_seconds = None;
        let mut adapter_bytes = 0;
        if arm.fine_tunes() {
            let all: Vec<&Pair> = pairs.iter().chain(&generated).collect();
            let dataset = training_set(e, &all, index_before, config).await?;
            // Questions with their sources are long: room for them whole, within the context.
            let mut options = config.train.data.clone();
            options.encode.max_len = options
                .encode
                .max_len
                .max(e.model.context_length().min(2048));
            let data = prepare_dataset(
                &format!("advisor training set ({})", arm.label()),
                &dataset,
                None,
                e.tokenizer,
                &options,
            )?;
            prepare_model(e.model, &config.train, e.train_device)?;
            let start = seconds_now();
            let mut halted = false;
            fine_tune(
                e.model,
                &data,
                &config.train,
                e.train_device,
                None,
                |event| {
                    let flow = on_progress(&Progress::Training {
                        arm,
                        event: event.clone(),
                    });
                    halted |= flow == Flow::Stop;
                    flow
                },
                |_| Ok(()),
            )
            .await?;
            if halted {
                return Err(stopped());
            }
            training_seconds = Some(seconds_now() - start);
            adapter_bytes = crate::lora::parameters(&*e.model)
                .iter()
                .map(|(_, p)| p.val().shape().num_elements() as u64 * 4)
                .sum();
        }
        let mut arm_marked = Vec::new();
        for pass in [
            Pass {
                arm,
                set: Set::HeldOut,
                questions: &held_out,
                index: index_before,
            },
            Pass {
                arm,
                set: Set::Changed,
                questions: inputs.changed_questions,
                index: index_after,
            },
        ] {
            let got = answer_all(e, &pass, system, &format, config, &mut on_progress).await?;
            arm_marked.extend(got);
        }
        if arm.fine_tunes() {
            crate::lora::detach(e.model);
        }
        let absorb = match (arm.retrieves(), training_seconds) {
            (true, _) => Absorb::Reindex {
                documents: inputs.changed_documents.len(),
                seconds: reindex_seconds,
            },
            (false, Some(seconds)) => Absorb::Retrain { seconds },
            (false, None) => Absorb::Never,
        };
        arms.push(ArmReport::new(
            arm,
            &arm_marked,
            !format.is_empty(),
            e.model_bytes + adapter_bytes + if arm.retrieves() { retrieval_bytes } else { 0 },
            training_seconds,
            absorb,
        ));
        marked.extend(arm_marked);
    }
    let recommendation = recommend(&arms, pairs.len(), &format);
    Ok(Report {
        training_examples: pairs.len(),
        generated_examples: generated.len(),
        held_out_questions: held_out.len(),
        changed_questions: changed_questions.len(),
        changed_documents: inputs
            .changed_documents
            .iter()
            .map(|d| d.id.clone())
            .collect(),
        format,
        arms,
        recommendation,
        answers: marked,
    })
}
