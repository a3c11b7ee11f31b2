//! Turning examples into token ids and labels: chats through the model's own template with
//! only the assistant's turns trained (by default), raw completions with only the completion
//! trained, truncation to the context with counts.

use serde::{Deserialize, Serialize};

use super::Example;
use super::IGNORE;
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// How examples become sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncodeOptions {
    /// Longest sequence; longer ones are cut at the end (and counted).
    pub max_len: usize,
    /// Train on every token, prompts and system turns included (default: only the
    /// assistant's turns and completions).
    pub train_on_prompt: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            max_len: 512,
            train_on_prompt: false,
        }
    }
}

/// One encoded example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoded {
    /// Token ids.
    pub ids: Vec<u32>,
    /// `ids[t]` where trained, else [`IGNORE`].
    pub labels: Vec<i64>,
    /// Whether it was cut to `max_len`.
    pub truncated: bool,
    /// Its line in the file.
    pub line: usize,
}

impl Encoded {
    /// How many of its tokens are trained (the first never is: nothing predicts it).
    pub fn trained_tokens(&self) -> usize {
        self.labels.iter().skip(1).filter(|&&l| l != IGNORE).count()
    }
}

/// Byte ranges of `text` that are trained.
type Spans = Vec<(usize, usize)>;

/// The rendered text of `example` and its trained byte ranges.
fn render(tokenizer: &Tokenizer, example: &Example) -> Result<(String, Spans)> {
    Ok(match example {
        Example::Chat(messages) => {
            let template = tokenizer.template();
            let text = template.render(messages, false)?;
            let mut spans = Vec::new();
            for (i, message) in messages.iter().enumerate() {
                if message.role != "assistant" {
                    continue;
                }
                let before = template.render(&messages[..i], true)?;
                let through = template.render(&messages[..=i], false)?;
                if !(through.starts_with(&before) && text.starts_with(&through)) {
                    return Err(Error::Template {
                        file: template.file().to_string(),
                        problem: "the chat template does not render a conversation as its \
                                  turns' renderings in order, so the assistant's tokens cannot \
                                  be found; train with train_on_prompt"
                            .into(),
                    });
                }
                spans.push((before.len(), through.len()));
            }
            (text, spans)
        }
        Example::Completion { prompt, completion } => {
            let eos = eos_text(tokenizer);
            let text = format!("{prompt}{completion}{eos}");
            let span = (prompt.len(), text.len());
            (text, vec![span])
        }
        Example::Text(text) => {
            let text = format!("{text}{}", eos_text(tokenizer));
            let len = text.len();
            (text, vec![(0, len)])
        }
    })
}

fn eos_text(tokenizer: &Tokenizer) -> String {
    tokenizer
        .eos_id
        .and_then(|id| tokenizer.token(id))
        .unwrap_or_default()
}

/// Encodes `example` (from line `line`).
pub fn encode(
    tokenizer: &Tokenizer,
    example: &Example,
    line: usize,
    options: &EncodeOptions,
) -> Result<Encoded> {
    let (text, spans) = render(tokenizer, example)?;
    let tokens = tokenizer.encode_with_offsets(&text)?;
    let truncated = tokens.len() > options.max_len;
    let (ids, labels) = tokens
        .into_iter()
        .take(options.max_len)
        .map(|(id, (start, _))| {
            let trained =
                options.train_on_prompt || spans.iter().any(|&(s, e)| start >= s && start < e);
            (id, if trained { i64::from(id) } else { IGNORE })
        })
        .unzip();
    Ok(Encoded {
        ids,
        labels,
        truncated,
        line,
    })
}
