//! Reading training examples from JSONL in the formats people have, auto-detected from the
//! first record: OpenAI chat `messages`, ShareGPT `conversations`, alpaca
//! `instruction`/`input`/`output`, `prompt`/`completion`, plain `text`, and openai-evals
//! `{"input": [messages], "ideal": ...}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::tokenizer::Message;

/// A dataset format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// `{"messages": [{"role", "content"}, …]}` (OpenAI chat).
    Messages,
    /// `{"conversations": [{"from": "human"|"gpt"|"system", "value"}, …]}` (ShareGPT).
    ShareGpt,
    /// `{"instruction", "input"?, "output"}` (alpaca).
    Alpaca,
    /// `{"prompt", "completion"}`.
    PromptCompletion,
    /// `{"text"}`: every token is trained.
    Text,
    /// `{"input": [messages], "ideal": answer or [answers]}` (openai/evals).
    Evals,
    /// CSV with a header, mapped by column.
    Csv,
    /// Plain text, Markdown or HTML documents, cut into windows (domain adaptation).
    Documents,
    /// `{"prompt", "chosen", "rejected"}` preference pairs (TRL's format, plain or
    /// conversational), for DPO and ORPO.
    Preference,
}

impl std::fmt::Display for DataFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Messages => "messages (OpenAI chat)",
            Self::ShareGpt => "conversations (ShareGPT)",
            Self::Alpaca => "instruction/input/output (alpaca)",
            Self::PromptCompletion => "prompt/completion",
            Self::Text => "text",
            Self::Evals => "input/ideal (openai evals)",
            Self::Csv => "CSV",
            Self::Documents => "documents (domain adaptation)",
            Self::Preference => "prompt/chosen/rejected (preference pairs)",
        })
    }
}

/// One training example, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Example {
    /// A conversation rendered with the model's chat template; assistant turns are trained.
    Chat(Vec<Message>),
    /// Raw text: `completion` is trained, `prompt` is not.
    Completion {
        /// Context, not trained.
        prompt: String,
        /// Trained text.
        completion: String,
    },
    /// Raw text, all trained.
    Text(String),
}

impl Example {
    /// Whether there is nothing to train on.
    pub fn is_empty(&self) -> bool {
        match self {
            Example::Chat(messages) => !messages
                .iter()
                .any(|m| m.role == "assistant" && !m.content.trim().is_empty()),
            Example::Completion { completion, .. } => completion.trim().is_empty(),
            Example::Text(text) => text.trim().is_empty(),
        }
    }
}

impl DataFormat {
    /// The format of a record, by its keys.
    pub fn detect(record: &Value) -> Option<Self> {
        let has = |k: &str| record.get(k).is_some();
        Some(if has("messages") {
            Self::Messages
        } else if has("conversations") {
            Self::ShareGpt
        } else if has("instruction") && has("output") {
            Self::Alpaca
        } else if has("prompt") && has("completion") {
            Self::PromptCompletion
        } else if has("input") && has("ideal") {
            Self::Evals
        } else if has("text") {
            Self::Text
        } else {
            return None;
        })
    }

    /// Reads one JSON record in this format.
    pub fn parse(self, record: &Value) -> Result<Example, String> {
        let text = |key: &str| -> Result<String, String> {
            match record.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Null) | None => Err(format!("`{key}` is missing")),
                Some(other) => Err(format!("`{key}` is {}, not a string", kind(other))),
            }
        };
        Ok(match self {
            Self::Messages => Example::Chat(messages(record.get("messages"), "messages")?),
            Self::ShareGpt => {
                let turns = record
                    .get("conversations")
                    .and_then(Value::as_array)
                    .ok_or("`conversations` is not a list")?;
                let mut out = Vec::with_capacity(turns.len());
                for (i, turn) in turns.iter().enumerate() {
                    let from = turn.get("from").and_then(Value::as_str).unwrap_or_default();
                    let role = match from {
                        "human" | "user" => "user",
                        "gpt" | "assistant" | "chatgpt" | "bing" | "bard" => "assistant",
                        "system" => "system",
                        other => {
                            return Err(format!(
                                "conversations[{i}].from {other:?} is not a known speaker"
                            ));
                        }
                    };
                    let value = turn.get("value").and_then(Value::as_str).ok_or_else(|| {
                        format!("conversations[{i}].value is missing or not a string")
                    })?;
                    out.push(Message::new(role, value));
                }
                Example::Chat(out)
            }
            Self::Alpaca => {
                let input = record
                    .get("input")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let instruction = text("instruction")?;
                let user = if input.trim().is_empty() {
                    instruction
                } else {
                    format!("{instruction}\n\n{input}")
                };
                Example::Chat(vec![
                    Message::new("user", &user),
                    Message::new("assistant", &text("output")?),
                ])
            }
            Self::PromptCompletion => match record.get("prompt") {
                Some(Value::Array(_)) => {
                    let mut chat = messages(record.get("prompt"), "prompt")?;
                    chat.extend(messages(record.get("completion"), "completion")?);
                    Example::Chat(chat)
                }
                _ => Example::Completion {
                    prompt: text("prompt")?,
                    completion: text("completion")?,
                },
            },
            Self::Text => Example::Text(text("text")?),
            Self::Csv => return Err("CSV records are not JSON".into()),
            Self::Documents => return Err("documents are not JSON records".into()),
            Self::Preference => {
                return Err("preference pairs are read by data::read_pairs".into());
            }
            Self::Evals => {
                let mut chat = match record.get("input") {
                    Some(Value::String(s)) => vec![Message::new("user", s)],
                    other => messages(other, "input")?,
                };
                let ideal = match record.get("ideal") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(items)) => items
                        .first()
                        .and_then(Value::as_str)
                        .ok_or("`ideal` is an empty list or not a list of strings")?
                        .to_string(),
                    _ => return Err("`ideal` is missing or not a string".into()),
                };
                chat.push(Message::new("assistant", &ideal));
                Example::Chat(chat)
            }
        })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The roles a conversation's turns may have (OpenAI's and transformers' chat formats).
const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

/// A list of `{"role", "content"}` messages under `key`.
pub(crate) fn messages(value: Option<&Value>, key: &str) -> Result<Vec<Message>, String> {
    let items = value
        .and_then(Value::as_array)
        .ok_or_else(|| format!("`{key}` is missing or not a list"))?;
    if items.is_empty() {
        return Err(format!("`{key}` is an empty list"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = m.get("role").and_then(Value::as_str);
            let content = match m.get("content") {
                Some(Value::String(s)) => Some(s.clone()),
                // OpenAI's content parts: [{"type": "text", "text": ...}, …]
                Some(Value::Array(parts)) => Some(
                    parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join(""),
                ),
                _ => None,
            };
            match (role, content) {
                (Some(role), _) if !ROLES.contains(&role) => Err(format!(
                    "{key}[{i}] has role {role:?}; roles are {}",
                    ROLES.join(", ")
                )),
                (Some(role), Some(content)) => Ok(Message::new(role, &content)),
                _ => Err(format!("{key}[{i}] needs a string `role` and `content`")),
            }
        })
        .collect()
}

/// A parsed JSONL file.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The detected format.
    pub format: DataFormat,
    /// Examples with their 1-based line numbers.
    pub examples: Vec<(usize, Example)>,
    /// Blank lines skipped.
    pub blank_lines: usize,
}

/// Reads JSONL `text` (named `file` in errors). The format is detected from the first record
/// and every record must have it; a malformed line is an error naming its line number.
pub fn read_jsonl(file: &str, text: &str) -> Result<Dataset> {
    let fail = |line: usize, problem: String| Error::Data {
        file: file.to_string(),
        line,
        problem,
    };
    let mut format = None;
    let mut examples = Vec::new();
    let mut blank_lines = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            blank_lines += 1;
            continue;
        }
        let record: Value =
            serde_json::from_str(line).map_err(|err| fail(n, format!("not valid JSON: {err}")))?;
        if !record.is_object() {
            return Err(fail(n, format!("is {}, not a JSON object", kind(&record))));
        }
        let f = match format {
            Some(f) => f,
            None => {
                let f = DataFormat::detect(&record).ok_or_else(|| {
                    fail(
                        n,
                        "has none of the known keys (messages, conversations, \
                         instruction/output, prompt/completion, text, input/ideal)"
                            .into(),
                    )
                })?;
                format = Some(f);
                f
            }
        };
        examples.push((n, f.parse(&record).map_err(|problem| fail(n, problem))?));
    }
    let format = format.ok_or_else(|| fail(0, "has no records".into()))?;
    Ok(Dataset {
        format,
        examples,
        blank_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_detected_and_normalised() {
        let cases = [
            (
                r#"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}"#,
                DataFormat::Messages,
            ),
            (
                r#"{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}"#,
                DataFormat::ShareGpt,
            ),
            (
                r#"{"instruction": "hi", "input": "", "output": "yo"}"#,
                DataFormat::Alpaca,
            ),
            (
                r#"{"input": [{"role": "user", "content": "hi"}], "ideal": ["yo", "hey"]}"#,
                DataFormat::Evals,
            ),
        ];
        let chat = Example::Chat(vec![
            Message::new("user", "hi"),
            Message::new("assistant", "yo"),
        ]);
        for (line, format) in cases {
            let data = read_jsonl("d.jsonl", line).unwrap();
            assert_eq!(data.format, format);
            assert_eq!(data.examples, vec![(1, chat.clone())], "{format}");
        }
        let pc = read_jsonl("d.jsonl", r#"{"prompt": "2+2=", "completion": "4"}"#).unwrap();
        assert_eq!(
            pc.examples[0].1,
            Example::Completion {
                prompt: "2+2=".into(),
                completion: "4".into()
            }
        );
        let text = read_jsonl("d.jsonl", "\n{\"text\": \"abc\"}\n").unwrap();
        assert_eq!((text.format, text.blank_lines), (DataFormat::Text, 1));
        assert_eq!(text.examples[0].0, 2);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = |text| read_jsonl("d.jsonl", text).unwrap_err().to_string();
        assert_eq!(
            err("{\"text\": \"a\"}\n{\"text\": 3}\n"),
            "d.jsonl, line 2: `text` is a number, not a string"
        );
        assert!(err("{\"text\": \"a\"}\n{oops\n").starts_with("d.jsonl, line 2: not valid JSON"));
        assert!(err("[1, 2]").contains("line 1: is a list"));
        assert!(err("{\"foo\": 1}").contains("none of the known keys"));
        assert_eq!(err("\n\n"), "d.jsonl: has no records");
        assert!(err(r#"{"messages": [{"role": "user"}]}"#).contains("messages[0] needs"));
    }
}
