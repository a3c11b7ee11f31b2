//! Preference data: a prompt with a chosen and a rejected answer, in TRL's format — plain
//! (`{"prompt": "…", "chosen": "…", "rejected": "…"}`) or conversational (lists of
//! `{"role", "content"}` messages; without `prompt`, the turns the two conversations share
//! are the prompt). Each pair becomes two sequences, prompt + chosen and prompt + rejected,
//! tokenized as TRL tokenizes them: the whole text at once (plain answers end with EOS),
//! the answer being every token after the prompt's own tokens stop matching.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Batch, DataFormat, DataOptions, DataReport, EncodeOptions, Encoded, Example, IGNORE, Padding,
    Prepared,
};
use crate::error::{Error, Result};
use crate::tokenizer::{Message, Tokenizer};

/// One preference pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Pair {
    /// Plain text: the answers follow the prompt directly.
    Text {
        /// The context, not scored.
        prompt: String,
        /// The preferred answer.
        chosen: String,
        /// The other answer.
        rejected: String,
    },
    /// Conversations rendered with the model's chat template.
    Chat {
        /// The turns before the answers.
        prompt: Vec<Message>,
        /// The preferred answer's turns.
        chosen: Vec<Message>,
        /// The other answer's turns.
        rejected: Vec<Message>,
    },
}

/// Whether a JSON record is a preference pair (it has `chosen` or `rejected`).
pub fn is_pair(record: &Value) -> bool {
    record.get("chosen").is_some() || record.get("rejected").is_some()
}

/// Reads one record as a pair.
pub fn parse_pair(record: &Value) -> std::result::Result<Pair, String> {
    for key in ["chosen", "rejected"] {
        if record.get(key).is_none_or(Value::is_null) {
            return Err(format!(
                "`{key}` is missing: a preference pair needs `chosen` and `rejected` answers \
                 (and a `prompt`, unless the answers are conversations that share it)"
            ));
        }
    }
    let pair = match (record.get("chosen"), record.get("rejected")) {
        (Some(Value::String(chosen)), Some(Value::String(rejected))) => {
            match record.get("prompt") {
                Some(Value::String(p)) => Pair::Text {
                    prompt: p.clone(),
                    chosen: chosen.clone(),
                    rejected: rejected.clone(),
                },
                Some(_) => return Err("`prompt` is not a string, as the answers are".into()),
                None => implicit_text_prompt(chosen, rejected)?,
            }
        }
        (Some(Value::Array(_)), Some(Value::Array(_))) => {
            let chosen = super::formats::messages(record.get("chosen"), "chosen")?;
            let rejected = super::formats::messages(record.get("rejected"), "rejected")?;
            match record.get("prompt") {
                Some(prompt) => Pair::Chat {
                    prompt: super::formats::messages(Some(prompt), "prompt")?,
                    chosen,
                    rejected,
                },
                None => {
                    // TRL's implicit prompt: the turns both conversations start with.
                    let shared = chosen
                        .iter()
                        .zip(&rejected)
                        .take_while(|(c, r)| c == r)
                        .count();
                    if shared == 0 {
                        return Err("`prompt` is missing and the two conversations share no \
                                    first turn to take as the prompt"
                            .into());
                    }
                    Pair::Chat {
                        prompt: chosen[..shared].to_vec(),
                        chosen: chosen[shared..].to_vec(),
                        rejected: rejected[shared..].to_vec(),
                    }
                }
            }
        }
        _ => {
            return Err(
                "`chosen` and `rejected` must both be strings or both be lists of messages".into(),
            );
        }
    };
    let (chosen, rejected) = pair.answers();
    if chosen.trim().is_empty() || rejected.trim().is_empty() {
        return Err("an answer is empty".into());
    }
    if chosen == rejected {
        return Err("`chosen` and `rejected` are the same answer: the pair teaches nothing".into());
    }
    Ok(pair)
}

/// TRL's implicit prompt of plain answers (Anthropic HH's layout): the text both start with,
/// less a space it ends with (which starts the answers). As in TRL's `extract_prompt`, when
/// one answer starts with the whole other, the prompt stops one character short.
fn implicit_text_prompt(chosen: &str, rejected: &str) -> std::result::Result<Pair, String> {
    let (c, r): (Vec<char>, Vec<char>) = (chosen.chars().collect(), rejected.chars().collect());
    let shortest = c.len().min(r.len());
    let diverges = (0..shortest).find(|&i| c[i] != r[i]);
    let mut at = diverges.unwrap_or(shortest.saturating_sub(1));
    if diverges.is_some_and(|i| i > 0 && c[i - 1] == ' ') {
        at -= 1;
    }
    if at == 0 {
        return Err(
            "`prompt` is missing and the two answers share no start to take as the \
                    prompt"
                .into(),
        );
    }
    let text = |chars: &[char]| chars.iter().collect::<String>();
    Ok(Pair::Text {
        prompt: text(&c[..at]),
        chosen: text(&c[at..]),
        rejected: text(&r[at..]),
    })
}

impl Pair {
    /// The two answers' text, chosen first.
    pub fn answers(&self) -> (String, String) {
        let join = |turns: &[Message]| {
            turns
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        match self {
            Pair::Text {
                chosen, rejected, ..
            } => (chosen.clone(), rejected.clone()),
            Pair::Chat {
                chosen, rejected, ..
            } => (join(chosen), join(rejected)),
        }
    }
}

/// A pair as token sequences: prompt + chosen, prompt + rejected, labels on the answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedPair {
    /// Prompt and chosen answer.
    pub chosen: Encoded,
    /// Prompt and rejected answer.
    pub rejected: Encoded,
}

impl EncodedPair {
    /// Its line in the file.
    pub fn line(&self) -> usize {
        self.chosen.line
    }
}

/// Encodes `pair` (from line `line`) as TRL does; sequences longer than `max_len` keep their
/// start (TRL's `keep_start`).
pub fn encode_pair(
    tokenizer: &Tokenizer,
    pair: &Pair,
    line: usize,
    options: &EncodeOptions,
) -> Result<EncodedPair> {
    let (prompt, chosen, rejected) = match pair {
        Pair::Text {
            prompt,
            chosen,
            rejected,
        } => {
            let eos = tokenizer
                .eos_id
                .and_then(|id| tokenizer.token(id))
                .unwrap_or_default();
            let ended = |answer: &str| match answer.ends_with(&eos) {
                true => format!("{prompt}{answer}"),
                false => format!("{prompt}{answer}{eos}"),
            };
            (
                tokenizer.encode_special(prompt)?,
                tokenizer.encode_special(&ended(chosen))?,
                tokenizer.encode_special(&ended(rejected))?,
            )
        }
        Pair::Chat {
            prompt,
            chosen,
            rejected,
        } => {
            let template = tokenizer.template();
            let whole = |answer: &[Message]| -> Result<Vec<u32>> {
                let turns: Vec<Message> = prompt.iter().chain(answer).cloned().collect();
                tokenizer.encode(&template.render(&turns, false)?)
            };
            (
                tokenizer.encode(&template.render(prompt, true)?)?,
                whole(chosen)?,
                whole(rejected)?,
            )
        }
    };
    let shared = |ids: &[u32]| prompt.iter().zip(ids).take_while(|(a, b)| a == b).count();
    let start = shared(&chosen).min(shared(&rejected));
    let sequence = |ids: Vec<u32>| {
        let truncated = ids.len() > options.max_len;
        let ids: Vec<u32> = ids.into_iter().take(options.max_len).collect();
        let labels = ids
            .iter()
            .enumerate()
            .map(|(t, &id)| match t >= start {
                true => i64::from(id),
                false => IGNORE,
            })
            .collect();
        Encoded {
            ids,
            labels,
            truncated,
            line,
        }
    };
    Ok(EncodedPair {
        chosen: sequence(chosen),
        rejected: sequence(rejected),
    })
}

/// Pairs as the trainer takes them: a batch of `n` chosen rows then their `n` rejected rows,
/// right-padded, with each row's length before padding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairBatch {
    /// `2n` rows: chosen sequences, then rejected ones in the same order.
    pub batch: Batch,
    /// Each row's tokens before padding.
    pub lengths: Vec<usize>,
}

impl PairBatch {
    /// Batches `pairs` (padded as `pad` says).
    pub fn new(pairs: &[&EncodedPair], pad: Padding) -> Self {
        let rows: Vec<&Encoded> = pairs
            .iter()
            .map(|p| &p.chosen)
            .chain(pairs.iter().map(|p| &p.rejected))
            .collect();
        let width = pad.width(rows.iter().map(|e| e.ids.len()).max().unwrap_or(0));
        let padded = |row: &Encoded| {
            let fill = width - row.ids.len();
            let ids = row
                .ids
                .iter()
                .copied()
                .chain(std::iter::repeat_n(pad.id, fill));
            let labels = row
                .labels
                .iter()
                .copied()
                .chain(std::iter::repeat_n(IGNORE, fill));
            (ids.collect::<Vec<_>>(), labels.collect::<Vec<_>>())
        };
        let (ids, labels) = rows.iter().map(|r| padded(r)).unzip();
        Self {
            batch: Batch {
                ids,
                labels,
                segments: None,
            },
            lengths: rows.iter().map(|e| e.ids.len()).collect(),
        }
    }

    /// Pairs in the batch.
    pub fn pairs(&self) -> usize {
        self.lengths.len() / 2
    }
}

/// Micro-batches of `batch_size` pairs of `pairs`, in `order`.
pub fn pair_batches(
    pairs: &[EncodedPair],
    order: &[usize],
    batch_size: usize,
    pad: Padding,
) -> Vec<PairBatch> {
    order
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let chunk: Vec<&EncodedPair> = chunk.iter().map(|&i| &pairs[i]).collect();
            PairBatch::new(&chunk, pad)
        })
        .collect()
}

/// Reads a JSONL file of pairs (named `file` in errors): each with its 1-based line.
pub fn read_pairs(file: &str, text: &str) -> Result<Vec<(usize, Pair)>> {
    let fail = |line: usize, problem: String| Error::Data {
        file: file.to_string(),
        line,
        problem,
    };
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let record: Value =
            serde_json::from_str(line).map_err(|err| fail(n, format!("not valid JSON: {err}")))?;
        if !record.is_object() {
            return Err(fail(n, "is not a JSON object".into()));
        }
        pairs.push((n, parse_pair(&record).map_err(|problem| fail(n, problem))?));
    }
    if pairs.is_empty() {
        return Err(fail(0, "has no records".into()));
    }
    Ok(pairs)
}

/// The pairs of a preference dataset, split.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSplit {
    /// Pairs to train on.
    pub train: Vec<EncodedPair>,
    /// Pairs held out.
    pub validation: Vec<EncodedPair>,
}

/// Reads, encodes and splits a JSONL file of preference pairs (with `validation`, another
/// file's name and text, as the held-out pairs; otherwise a seeded share). The [`Prepared`]
/// it returns holds the pairs, and as its rows the prompt + chosen sequences (what the
/// supervised loss and the answer checks use).
pub fn prepare_pairs(
    file: &str,
    text: &str,
    validation: Option<(&str, &str)>,
    tokenizer: &Tokenizer,
    options: &DataOptions,
) -> Result<Prepared> {
    let mut report = DataReport::empty(file);
    report.format = DataFormat::Preference;
    let read = read_pairs(file, text)?;
    report.rows = read.len();
    let encode_all = |read: &[(usize, Pair)], report: &mut DataReport| -> Result<Vec<_>> {
        let mut kept = Vec::with_capacity(read.len());
        for (line, pair) in read {
            let encoded = encode_pair(tokenizer, pair, *line, &options.encode)?;
            let (c, r) = (&encoded.chosen, &encoded.rejected);
            if c.truncated || r.truncated {
                report.truncated_rows += 1;
                report.truncated_lines.push(*line);
            }
            if c.trained_tokens() == 0 || r.trained_tokens() == 0 {
                report.truncated_away_rows += 1;
                continue;
            }
            kept.push((encoded, pair.clone()));
        }
        Ok(kept)
    };
    let mut train = encode_all(&read, &mut report)?;
    let held = match validation {
        Some((name, held_text)) => {
            let read = read_pairs(name, held_text)?;
            let mut scratch = DataReport::empty(name);
            encode_all(&read, &mut scratch)?
        }
        None => {
            let (kept, held) = super::split(train, options);
            train = kept;
            held
        }
    };
    if train.is_empty() {
        return Err(Error::Data {
            file: file.to_string(),
            line: 0,
            problem: match report.truncated_away_rows {
                0 => "has no pair left to train on: the validation share took every pair".into(),
                n => format!(
                    "has no pair left to train on: {n} lose every answer token when cut to \
                     max_len = {} tokens (raise max_len)",
                    options.encode.max_len
                ),
            },
        });
    }
    let train: Vec<EncodedPair> = train.into_iter().map(|(e, _)| e).collect();
    let validation_examples = held.iter().map(|(_, p)| p.chosen_example()).collect();
    let validation: Vec<EncodedPair> = held.into_iter().map(|(e, _)| e).collect();
    let sequences = |pairs: &[EncodedPair]| -> Vec<Encoded> {
        pairs
            .iter()
            .flat_map(|p| [p.chosen.clone(), p.rejected.clone()])
            .collect()
    };
    report.count(&sequences(&train), &sequences(&validation));
    report.train_rows = train.len();
    report.validation_rows = validation.len();
    if report.rows < 200 {
        report.warnings.push(format!(
            "only {} pairs: preference training usually needs hundreds to thousands",
            report.rows
        ));
    }
    if report.truncated_rows > 0 {
        report.warnings.push(format!(
            "{} pairs are longer than {} tokens and were cut ({})",
            report.truncated_rows,
            options.encode.max_len,
            super::lines(&report.truncated_lines)
        ));
    }
    if validation.is_empty() {
        report
            .warnings
            .push("no held-out pairs: reward accuracy on unseen pairs cannot be measured".into());
    }
    Ok(Prepared {
        train: train.iter().map(|p| p.chosen.clone()).collect(),
        validation: validation.iter().map(|p| p.chosen.clone()).collect(),
        validation_examples,
        pad_id: tokenizer.eos_id.unwrap_or(0),
        report,
        pairs: Some(PairSplit { train, validation }),
    })
}

impl Pair {
    /// The prompt and chosen answer as one training example.
    pub fn chosen_example(&self) -> Example {
        match self {
            Pair::Text { prompt, chosen, .. } => Example::Completion {
                prompt: prompt.clone(),
                completion: chosen.clone(),
            },
            Pair::Chat { prompt, chosen, .. } => {
                Example::Chat(prompt.iter().chain(chosen).cloned().collect())
            }
        }
    }
}

/// Whether `text` (JSONL) holds preference pairs: its first record has `chosen`/`rejected`.
pub fn holds_pairs(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .is_some_and(|record| is_pair(&record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_bad_pairs() {
        let pairs = read_pairs(
            "p.jsonl",
            "{\"prompt\": \"2+2=\", \"chosen\": \"4\", \"rejected\": \"5\"}\n\n\
             {\"chosen\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \
             \"content\": \"hello\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"hi\"}, \
             {\"role\": \"assistant\", \"content\": \"go\"}]}\n",
        )
        .unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1].0, 3);
        match &pairs[1].1 {
            Pair::Chat { prompt, chosen, .. } => {
                assert_eq!((prompt.len(), chosen[0].content.as_str()), (1, "hello"));
            }
            other => panic!("{other:?}"),
        }
        // TRL's implicit prompt of plain answers: the shared start, a space going to the
        // answers; one answer the other's start: one character short.
        let implicit = |chosen: &str, rejected: &str| {
            let record = serde_json::json!({"chosen": chosen, "rejected": rejected});
            match parse_pair(&record).unwrap() {
                Pair::Text {
                    prompt,
                    chosen,
                    rejected,
                } => (prompt, chosen, rejected),
                other => panic!("{other:?}"),
            }
        };
        let owned = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            implicit("Q: x A: yes", "Q: x A: no"),
            owned("Q: x A:", " yes", " no")
        );
        assert_eq!(implicit("abc", "abcd"), owned("ab", "c", "cd"));
        let err = |text| read_pairs("p.jsonl", text).unwrap_err().to_string();
        assert!(
            err("{\"prompt\": \"a\", \"chosen\": \"b\"}")
                .starts_with("p.jsonl, line 1: `rejected` is missing")
        );
        assert!(
            err("{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"b\"}")
                .contains("the same answer")
        );
        assert!(err("{\"chosen\": \"b\", \"rejected\": \"c\"}").contains("share no start"));
        assert!(
            err("{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": [1]}").contains("both be")
        );
        assert!(err("\n").contains("has no records"));
    }
}
