//! Data preparation: JSONL in the usual formats ([`formats`]), encoded through the model's
//! chat template with assistant-only labels ([`encode`]), a seeded train/validation split, a
//! validation report that says what is wrong with the data before any GPU time is spent, and
//! padded batches for the trainer. Raw documents (text, Markdown, HTML: [`documents`]) are
//! read here too, for retrieval and for domain adaptation ([`corpus`]).

mod batch;
mod corpus;
mod csv;
pub mod documents;
mod encode;
mod formats;
pub mod preference;
mod preview;
pub mod quality;

pub use batch::{Batch, IGNORE, Padding};
pub use corpus::{prepare_documents, windows};
pub use csv::{CsvColumns, read_csv};
pub use documents::{Document, MAX_DOCUMENT_BYTES, read_document};
pub use encode::{EncodeOptions, Encoded, encode};
pub use formats::{DataFormat, Dataset, Example, read_jsonl};
pub use preference::{
    EncodedPair, Pair, PairBatch, PairSplit, encode_pair, holds_pairs, pair_batches, prepare_pairs,
    read_pairs,
};
pub use preview::{Preview, PreviewRow, PreviewStart, Span, Split, preview};
pub use quality::{Answers, Leak, Repeats};

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tokenizer::Tokenizer;

/// How a dataset is prepared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataOptions {
    /// Tokenisation and truncation.
    pub encode: EncodeOptions,
    /// Share of the examples held out for validation (when no validation file is given).
    pub validation_fraction: f64,
    /// Seed of the shuffle before the split.
    pub seed: u64,
    /// How a CSV file's columns map to examples (detected from the header when unset).
    pub csv_columns: Option<CsvColumns>,
    /// Pack several examples into each sequence of up to `encode.max_len` tokens, with no
    /// attention across them (fewer padding tokens; the loss is unchanged).
    pub packing: bool,
    /// Drop training rows that repeat an earlier training row, exactly or nearly (the
    /// report's `repeats`; the first of each group is kept).
    pub drop_repeats: bool,
    /// Drop training rows that a validation row repeats (the report's `leaks`), so that the
    /// validation loss measures unseen rows.
    pub drop_leaked: bool,
    /// When the answers come from a small set (Yes/No, classes) and are imbalanced, repeat
    /// the rarer answers' training rows until each is as frequent as the commonest.
    pub rebalance: bool,
}

impl Default for DataOptions {
    fn default() -> Self {
        Self {
            encode: EncodeOptions::default(),
            validation_fraction: 0.1,
            seed: 0,
            csv_columns: None,
            packing: false,
            drop_repeats: false,
            drop_leaked: false,
            rebalance: false,
        }
    }
}

/// Token lengths in power-of-two buckets: `(up to, rows)`.
pub type Histogram = Vec<(usize, usize)>;

/// What was found in a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataReport {
    /// The file.
    pub file: String,
    /// The detected format.
    pub format: DataFormat,
    /// Records read.
    pub rows: usize,
    /// Blank lines skipped.
    pub blank_lines: usize,
    /// Records with nothing to train on (dropped).
    pub empty_rows: usize,
    /// Records identical to an earlier one (kept, reported).
    pub duplicate_rows: usize,
    /// Records cut to the longest sequence.
    pub truncated_rows: usize,
    /// Records whose trained part was cut away entirely (dropped).
    pub truncated_away_rows: usize,
    /// Token lengths of the kept records.
    pub length_histogram: Histogram,
    /// Longest kept record, in tokens.
    pub max_tokens: usize,
    /// Mean kept record length, in tokens.
    pub mean_tokens: f64,
    /// Trained tokens over the kept records.
    pub trained_tokens: usize,
    /// The most trained tokens in one kept record.
    #[serde(default)]
    pub max_trained_tokens: usize,
    /// Records for training.
    pub train_rows: usize,
    /// Records held out for validation.
    pub validation_rows: usize,
    /// Things to look at before training.
    pub warnings: Vec<String>,
    /// Lines of the records cut to `max_len`.
    #[serde(default)]
    pub truncated_lines: Vec<usize>,
    /// Training rows that repeat each other, exactly or nearly.
    #[serde(default)]
    pub repeats: Vec<Repeats>,
    /// Validation rows that repeat training rows.
    #[serde(default)]
    pub leaks: Vec<Leak>,
    /// The answers' balance, when they come from a small set.
    #[serde(default)]
    pub answers: Option<Answers>,
}

impl std::fmt::Display for DataReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} records, format {}",
            self.file, self.rows, self.format
        )?;
        writeln!(
            f,
            "  kept {} for training and {} for validation; {} trained tokens",
            self.train_rows, self.validation_rows, self.trained_tokens
        )?;
        writeln!(
            f,
            "  tokens per record: mean {:.1}, max {}; truncated {}, dropped {} empty and {} \
             truncated away; {} duplicates",
            self.mean_tokens,
            self.max_tokens,
            self.truncated_rows,
            self.empty_rows,
            self.truncated_away_rows,
            self.duplicate_rows
        )?;
        let bars: Vec<String> = self
            .length_histogram
            .iter()
            .map(|(up_to, n)| format!("≤{up_to}: {n}"))
            .collect();
        writeln!(f, "  lengths {}", bars.join(", "))?;
        if let Some(answers) = &self.answers {
            let shown = |counts: &[(String, usize)]| -> String {
                let all: usize = counts.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> = counts
                    .iter()
                    .map(|(a, n)| format!("{a:?} {n} ({:.0} %)", 100.0 * *n as f64 / all as f64))
                    .collect();
                parts.join(", ")
            };
            write!(f, "  answers in training: {}", shown(&answers.counts))?;
            if let Some(after) = &answers.rebalanced {
                write!(f, "; rebalanced to {}", shown(after))?;
            }
            writeln!(f)?;
        }
        for warning in &self.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        Ok(())
    }
}

/// A dataset ready for training.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Training examples.
    pub train: Vec<Encoded>,
    /// Validation examples.
    pub validation: Vec<Encoded>,
    /// The validation examples before encoding (for answer-level metrics).
    pub validation_examples: Vec<Example>,
    /// The id that pads batches (the tokenizer's EOS, or 0); its label is ignored.
    pub pad_id: u32,
    /// What was found.
    pub report: DataReport,
    /// With preference data: the pairs (`train` and `validation` then hold their prompt +
    /// chosen sequences).
    pub pairs: Option<PairSplit>,
}

/// Encodes every example of `dataset`, dropping those with nothing to train on; each kept one
/// with the example it came from.
fn encode_all(
    tokenizer: &Tokenizer,
    dataset: &Dataset,
    options: &EncodeOptions,
    report: &mut DataReport,
) -> Result<Vec<(Encoded, Example)>> {
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(dataset.examples.len());
    for (line, example) in &dataset.examples {
        if !seen.insert(format!("{example:?}")) {
            report.duplicate_rows += 1;
        }
        if example.is_empty() {
            report.empty_rows += 1;
            continue;
        }
        let encoded = encode(tokenizer, example, *line, options)?;
        report.truncated_rows += usize::from(encoded.truncated);
        if encoded.truncated {
            report.truncated_lines.push(*line);
        }
        if encoded.trained_tokens() == 0 {
            report.truncated_away_rows += 1;
            continue;
        }
        kept.push((encoded, example.clone()));
    }
    Ok(kept)
}

/// The error for a dataset with no example `what` ("to evaluate"), saying why: records with
/// nothing to train on (the first one's line), records cut to nothing by `max_len`, or a
/// validation share that took every record.
fn nothing_left(
    file: &str,
    what: &str,
    dataset: &Dataset,
    report: &DataReport,
    options: &DataOptions,
) -> Error {
    let first_empty = dataset.examples.iter().find(|(_, e)| e.is_empty());
    let mut reasons = Vec::new();
    if report.empty_rows > 0 {
        reasons.push(format!(
            "{} of {} records have nothing to train on (no assistant answer, or empty text)",
            report.empty_rows, report.rows
        ));
    }
    if report.truncated_away_rows > 0 {
        reasons.push(format!(
            "{} lose every trained token when cut to max_len = {} tokens (raise max_len)",
            report.truncated_away_rows, options.encode.max_len
        ));
    }
    if reasons.is_empty() && report.rows > 0 {
        reasons.push(format!(
            "the validation share ({}) took every record",
            options.validation_fraction
        ));
    }
    Error::Data {
        file: file.to_string(),
        line: first_empty.map_or(0, |(line, _)| *line),
        problem: match reasons.is_empty() {
            true => format!("has no example {what}"),
            false => format!("has no example {what}: {}", reasons.join("; ")),
        },
    }
}

impl DataReport {
    /// A report on `dataset` (from `file`) before anything is counted.
    fn start(file: &str, dataset: &Dataset) -> Self {
        Self {
            format: dataset.format,
            rows: dataset.examples.len(),
            blank_lines: dataset.blank_lines,
            ..Self::empty(file)
        }
    }

    /// Counts the rows kept for training and validation: lengths, trained tokens, splits.
    pub(crate) fn count(&mut self, train: &[Encoded], validation: &[Encoded]) {
        let all = train.iter().chain(validation);
        let lengths: Vec<usize> = all.clone().map(|e| e.ids.len()).collect();
        self.max_tokens = lengths.iter().copied().max().unwrap_or(0);
        self.mean_tokens = lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64;
        let trained: Vec<usize> = all.map(Encoded::trained_tokens).collect();
        self.trained_tokens = trained.iter().sum();
        self.max_trained_tokens = trained.iter().copied().max().unwrap_or(0);
        self.length_histogram = histogram(&lengths);
        self.train_rows = train.len();
        self.validation_rows = validation.len();
    }

    /// A report on nothing yet, of `file`.
    pub(crate) fn empty(file: &str) -> Self {
        Self {
            file: file.to_string(),
            format: DataFormat::Text,
            rows: 0,
            blank_lines: 0,
            empty_rows: 0,
            duplicate_rows: 0,
            truncated_rows: 0,
            truncated_away_rows: 0,
            length_histogram: Vec::new(),
            max_tokens: 0,
            mean_tokens: 0.0,
            trained_tokens: 0,
            max_trained_tokens: 0,
            train_rows: 0,
            validation_rows: 0,
            warnings: Vec::new(),
            truncated_lines: Vec::new(),
            repeats: Vec::new(),
            leaks: Vec::new(),
            answers: None,
        }
    }
}

/// Reads `text` as CSV when `file` ends with `.csv`, as JSONL otherwise.
pub fn read_dataset(file: &str, text: &str, options: &DataOptions) -> Result<Dataset> {
    if file.to_ascii_lowercase().ends_with(".csv") {
        read_csv(file, text, options.csv_columns.as_ref())
    } else {
        read_jsonl(file, text)
    }
}

/// Reads, checks, encodes and splits a JSONL (or CSV) dataset. With `validation` (another file's name
/// and text) that file is the validation set; otherwise a seeded share of `text` is.
pub fn prepare(
    file: &str,
    text: &str,
    validation: Option<(&str, &str)>,
    tokenizer: &Tokenizer,
    options: &DataOptions,
) -> Result<Prepared> {
    if !file.to_ascii_lowercase().ends_with(".csv") && holds_pairs(text) {
        return prepare_pairs(file, text, validation, tokenizer, options);
    }
    let dataset = read_dataset(file, text, options)?;
    let validation = match validation {
        Some((name, text)) => Some((name, read_dataset(name, text, options)?)),
        None => None,
    };
    let validation = validation.as_ref().map(|(name, d)| (*name, d));
    prepare_dataset(file, &dataset, validation, tokenizer, options)
}

/// [`prepare`] for a dataset already read (or built in memory; `file` names it in messages).
pub fn prepare_dataset(
    file: &str,
    dataset: &Dataset,
    validation: Option<(&str, &Dataset)>,
    tokenizer: &Tokenizer,
    options: &DataOptions,
) -> Result<Prepared> {
    let mut report = DataReport::start(file, dataset);
    let mut train = encode_all(tokenizer, dataset, &options.encode, &mut report)?;
    let validation = match validation {
        Some((name, held_out)) => {
            let mut scratch = DataReport::start(name, held_out);
            encode_all(tokenizer, held_out, &options.encode, &mut scratch)?
        }
        None => {
            let (kept, held) = split(train, options);
            train = kept;
            held
        }
    };
    if train.is_empty() {
        return Err(nothing_left(
            file,
            "left to train on",
            dataset,
            &report,
            options,
        ));
    }
    let train = improve(train, &validation, options, &mut report);
    let train: Vec<Encoded> = train.into_iter().map(|(e, _)| e).collect();
    let (validation, validation_examples): (Vec<_>, Vec<_>) = validation.into_iter().unzip();
    report.count(&train, &validation);
    if report.rows < 1000 {
        report.warnings.push(format!(
            "only {} records: fine-tuning usually needs about 1,000 or more; with few examples, \
             retrieval (RAG) over the same documents may serve better",
            report.rows
        ));
    }
    if report.truncated_rows > 0 {
        report.warnings.push(format!(
            "{} records are longer than {} tokens and were cut ({})",
            report.truncated_rows,
            options.encode.max_len,
            lines(&report.truncated_lines)
        ));
    }
    if validation.is_empty() {
        report
            .warnings
            .push("no validation examples: the loss on held-out data cannot be watched".into());
    }
    Ok(Prepared {
        train,
        validation,
        validation_examples,
        pad_id: tokenizer.eos_id.unwrap_or(0),
        report,
        pairs: None,
    })
}

/// Reads and encodes every example of a dataset for evaluation (no split): the encoded
/// examples and, in the same order, the examples they came from. Examples with nothing to
/// score are dropped.
pub fn prepare_eval(
    file: &str,
    text: &str,
    tokenizer: &Tokenizer,
    options: &DataOptions,
) -> Result<(Vec<Encoded>, Vec<Example>)> {
    let dataset = read_dataset(file, text, options)?;
    let mut report = DataReport::start(file, &dataset);
    let pairs = encode_all(tokenizer, &dataset, &options.encode, &mut report)?;
    if pairs.is_empty() {
        return Err(nothing_left(
            file,
            "to evaluate",
            &dataset,
            &report,
            options,
        ));
    }
    Ok(pairs.into_iter().unzip())
}

/// `items` split by a seeded shuffle: (kept, held out), `options.validation_fraction` of them
/// held out, each side in its original order.
fn split<T>(items: Vec<T>, options: &DataOptions) -> (Vec<T>, Vec<T>) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    shuffle(&mut order, options.seed);
    let n = ((items.len() as f64) * options.validation_fraction).round() as usize;
    let held: HashSet<usize> = order[..n.min(items.len())].iter().copied().collect();
    let (mut kept, mut out) = (Vec::new(), Vec::new());
    for (i, item) in items.into_iter().enumerate() {
        match held.contains(&i) {
            true => out.push(item),
            false => kept.push(item),
        }
    }
    (kept, out)
}

/// `"lines 3, 8, 9"`, the first ten of `of` and how many more.
fn lines(of: &[usize]) -> String {
    let shown: Vec<String> = of.iter().take(10).map(usize::to_string).collect();
    let more = match of.len() > 10 {
        true => format!(" and {} more", of.len() - 10),
        false => String::new(),
    };
    format!(
        "line{} {}{more}",
        if of.len() == 1 { "" } else { "s" },
        shown.join(", ")
    )
}

type Rows = Vec<(Encoded, Example)>;

/// Finds repeated and leaked training rows and the answers' balance (into `report`), and
/// drops or oversamples training rows as `options` ask.
fn improve(train: Rows, validation: &Rows, options: &DataOptions, report: &mut DataReport) -> Rows {
    let examples: Vec<&Example> = train.iter().map(|(_, e)| e).collect();
    let held: Vec<&Example> = validation.iter().map(|(_, e)| e).collect();
    let found = quality::check(&examples, &held);
    let line = |i: usize| train[i].0.line;
    report.repeats = found
        .repeats
        .iter()
        .map(|(group, similarity)| Repeats {
            lines: group.iter().map(|&i| line(i)).collect(),
            similarity: *similarity,
        })
        .collect();
    report.leaks = found
        .leaks
        .iter()
        .map(|&(v, t, similarity)| Leak {
            validation_line: validation[v].0.line,
            training_line: line(t),
            similarity,
        })
        .collect();
    let mut dropped = HashSet::new();
    if !found.repeats.is_empty() {
        let later: Vec<usize> = found
            .repeats
            .iter()
            .flat_map(|(g, _)| &g[1..])
            .copied()
            .collect();
        report.warnings.push(format!(
            "{} an earlier one, exactly or nearly ({}){}",
            match later.len() {
                1 => "1 training row repeats".to_string(),
                n => format!("{n} training rows repeat"),
            },
            lines(&later.iter().map(|&i| line(i)).collect::<Vec<_>>()),
            match options.drop_repeats {
                true => ": dropped",
                false => "; data.drop_repeats drops them",
            }
        ));
        if options.drop_repeats {
            dropped.extend(later);
        }
    }
    if !found.leaks.is_empty() {
        let pairs: Vec<String> = report
            .leaks
            .iter()
            .take(5)
            .map(|l| format!("{} = {}", l.validation_line, l.training_line))
            .collect();
        report.warnings.push(format!(
            "{} training rows (validation line = training line: {}), so the validation loss \
             is optimistic{}",
            match found.leaks.len() {
                1 => "1 validation row repeats".to_string(),
                n => format!("{n} validation rows repeat"),
            },
            pairs.join(", "),
            match options.drop_leaked {
                true => ": the training copies were dropped",
                false => "; data.drop_leaked drops the training copies",
            }
        ));
        if options.drop_leaked {
            dropped.extend(found.leaks.iter().map(|&(_, t, _)| t));
        }
    }
    let mut train: Rows = train
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, row)| row)
        .collect();
    let examples: Vec<&Example> = train.iter().map(|(_, e)| e).collect();
    let Some(labels) = quality::label_set(&examples) else {
        return train;
    };
    let count = |labels: &[(String, Vec<usize>)]| -> Vec<(String, usize)> {
        labels
            .iter()
            .map(|(a, rows)| (a.clone(), rows.len()))
            .collect()
    };
    let imbalanced = quality::imbalanced(&labels);
    let mut answers = Answers {
        counts: count(&labels),
        rebalanced: None,
        imbalanced,
    };
    if imbalanced {
        let total = examples.len() as f64;
        let shares: Vec<String> = labels
            .iter()
            .map(|(a, rows)| {
                format!(
                    "{a:?} {:.0} % ({})",
                    100.0 * rows.len() as f64 / total,
                    rows.len()
                )
            })
            .collect();
        let extra = match options.rebalance {
            true => quality::oversample(&labels, options.seed),
            false => Vec::new(),
        };
        report.warnings.push(format!(
            "the answers are imbalanced: {}{}",
            shares.join(", "),
            match options.rebalance {
                true => format!(
                    "; rebalanced by repeating {} rows of the rarer answers",
                    extra.len()
                ),
                false => "; data.rebalance repeats the rarer answers' rows".into(),
            }
        ));
        let copies: Rows = extra.iter().map(|&i| train[i].clone()).collect();
        train.extend(copies);
        if options.rebalance {
            let examples: Vec<&Example> = train.iter().map(|(_, e)| e).collect();
            answers.rebalanced = quality::label_set(&examples).map(|l| count(&l));
        }
    }
    report.answers = Some(answers);
    train
}

fn histogram(lengths: &[usize]) -> Histogram {
    let mut buckets: Vec<(usize, usize)> = Vec::new();
    for &len in lengths {
        let up_to = len.next_power_of_two().max(16);
        match buckets.iter_mut().find(|(u, _)| *u == up_to) {
            Some((_, n)) => *n += 1,
            None => buckets.push((up_to, 1)),
        }
    }
    buckets.sort();
    buckets
}

/// Fisher–Yates with the portable generator.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = Rng::new(seed);
    for i in (1..items.len()).rev() {
        let j = ((rng.next_f32() as f64) * (i + 1) as f64) as usize;
        items.swap(i, j.min(i));
    }
}

/// Right-padded batches of `batch_size` rows from `examples` in `order` (as `pad` says, label
/// [`IGNORE`]). With `pack` set, consecutive examples share a row of up to that many tokens
/// (see [`pack`]); otherwise each row holds one example.
pub fn batches(
    examples: &[Encoded],
    order: &[usize],
    batch_size: usize,
    pad: Padding,
    pack: Option<usize>,
) -> Vec<Batch> {
    let rows: Vec<Vec<usize>> = match pack {
        Some(max_len) => self::pack(examples, order, max_len),
        None => order.iter().map(|&i| vec![i]).collect(),
    };
    rows.chunks(batch_size.max(1))
        .map(|chunk| {
            let row_len = |row: &Vec<usize>| row.iter().map(|&i| examples[i].ids.len()).sum();
            let width = pad.width(chunk.iter().map(row_len).max().unwrap_or(0));
            let mut batch = Batch {
                ids: Vec::new(),
                labels: Vec::new(),
                segments: pack.map(|_| Vec::new()),
            };
            for row in chunk {
                let (mut ids, mut labels, mut segments) = (Vec::new(), Vec::new(), Vec::new());
                for (s, &i) in row.iter().enumerate() {
                    let e = &examples[i];
                    let start = labels.len();
                    ids.extend(&e.ids);
                    labels.extend(&e.labels);
                    // Nothing predicts a sequence's first token, least of all the previous one.
                    if pack.is_some()
                        && let Some(first) = labels.get_mut(start)
                    {
                        *first = IGNORE;
                    }
                    segments.extend(std::iter::repeat_n(s as u32, e.ids.len()));
                }
                let pad_len = width - ids.len();
                ids.extend(std::iter::repeat_n(pad.id, pad_len));
                labels.extend(std::iter::repeat_n(IGNORE, pad_len));
                segments.extend(std::iter::repeat_n(row.len() as u32, pad_len));
                batch.ids.push(ids);
                batch.labels.push(labels);
                if let Some(all) = &mut batch.segments {
                    all.push(segments);
                }
            }
            batch
        })
        .collect()
}

/// Groups `examples` (in `order`) into rows of at most `max_len` tokens: each example goes
/// into the current row if it fits, else starts the next one. The order is kept, so a run
/// stays reproducible and resumable.
pub fn pack(examples: &[Encoded], order: &[usize], max_len: usize) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for &i in order {
        let len = examples[i].ids.len();
        match rows.last_mut() {
            Some(row) if used + len <= max_len => {
                row.push(i);
                used += len;
            }
            _ => {
                rows.push(vec![i]);
                used = len;
            }
        }
    }
    rows
}
