//! A Hugging Face tokenizer folder: `tokenizer.json` (through the `tokenizers` crate), with the
//! BOS/EOS tokens and chat template from `tokenizer_config.json` or `chat_template.jinja`.

use serde_json::Value;

use super::{ChatTemplate, Tokenizer};
use crate::error::{Error, Result};

/// A special token in `tokenizer_config.json`: a string, or an `AddedToken` object.
fn token_text(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("content").and_then(Value::as_str),
        _ => None,
    }
}

/// The chat template in `tokenizer_config.json`: a string, or a list of named templates
/// (the one named `default` is used).
fn config_template(config: &Value) -> Option<String> {
    match config.get("chat_template")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template")?.as_str().map(str::to_string)),
        _ => None,
    }
}

pub(super) fn build(
    name: &str,
    tokenizer_json: &[u8],
    tokenizer_config: Option<&[u8]>,
    chat_template: Option<String>,
) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_json(name, tokenizer_json)?;
    let config: Value = match tokenizer_config {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|err| Error::Tokenizer {
            file: name.to_string(),
            problem: format!("tokenizer_config.json is not valid JSON: {err}"),
        })?,
        None => Value::Null,
    };
    let bos = token_text(config.get("bos_token"))
        .unwrap_or_default()
        .to_string();
    let eos = token_text(config.get("eos_token"))
        .unwrap_or_default()
        .to_string();
    tokenizer.bos_id = tokenizer.token_id(&bos);
    tokenizer.eos_id = tokenizer.token_id(&eos);
    tokenizer.chat_template = chat_template
        .or_else(|| config_template(&config))
        .map(|source| ChatTemplate::new(source, &bos, &eos));
    Ok(tokenizer)
}
