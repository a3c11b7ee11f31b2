//! A Hugging Face tokenizer folder: `tokenizer.json` (through the `tokenizers` crate), with the
//! BOS/EOS tokens and chat template from `tokenizer_config.json` or `chat_template.jinja`;
//! read, and written back for a model that came without one.

use serde_json::{Map, Value, json};

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
    tokenizer.pad_id = token_text(config.get("pad_token")).and_then(|t| tokenizer.token_id(t));
    // Errors name the file the template came from, beside tokenizer.json.
    let sibling = |file: &str| match name.strip_suffix("tokenizer.json") {
        Some(folder) => format!("{folder}{file}"),
        None => file.to_string(),
    };
    tokenizer.chat_template = match chat_template {
        Some(source) => Some((source, sibling("chat_template.jinja"))),
        None => config_template(&config).map(|source| (source, sibling("tokenizer_config.json"))),
    }
    .map(|(source, file)| ChatTemplate::new(source, &bos, &eos).from_file(&file));
    Ok(tokenizer)
}

fn pretty(tokenizer: &Tokenizer, name: &str, value: Value) -> Result<(String, Vec<u8>)> {
    let mut bytes = serde_json::to_vec_pretty(&value)
        .map_err(|err| tokenizer.error(format!("cannot write {name}: {err}")))?;
    bytes.push(b'\n');
    Ok((name.to_string(), bytes))
}

pub(super) fn files(
    tokenizer: &Tokenizer,
    model_max_length: usize,
) -> Result<Vec<(String, Vec<u8>)>> {
    let json = tokenizer
        .inner
        .to_string(true)
        .map_err(|err| tokenizer.error(format!("cannot write tokenizer.json: {err}")))?;
    let mut config = Map::new();
    // The generic class reads `tokenizer.json` as it is (pre-tokenizer, added tokens, the BOS
    // post-processor), where a model-specific class would rebuild parts of it.
    config.insert("tokenizer_class".into(), json!("PreTrainedTokenizerFast"));
    let mut generation = Map::new();
    for (key, id) in [
        ("bos", tokenizer.bos_id),
        ("eos", tokenizer.eos_id),
        ("pad", tokenizer.pad_id),
    ] {
        if let Some(id) = id {
            if let Some(text) = tokenizer.token(id) {
                config.insert(format!("{key}_token"), json!(text));
            }
            generation.insert(format!("{key}_token_id"), json!(id));
        }
    }
    if let Some(template) = &tokenizer.chat_template {
        config.insert("chat_template".into(), json!(template.source()));
    }
    config.insert("model_max_length".into(), json!(model_max_length));
    config.insert("clean_up_tokenization_spaces".into(), json!(false));
    Ok(vec![
        ("tokenizer.json".into(), json.into_bytes()),
        pretty(tokenizer, "tokenizer_config.json", Value::Object(config))?,
        pretty(
            tokenizer,
            "generation_config.json",
            Value::Object(generation),
        )?,
    ])
}
