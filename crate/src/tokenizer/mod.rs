//! Tokenizers: Hugging Face `tokenizer.json`, or rebuilt from a GGUF file's metadata, both
//! through the `tokenizers` crate (the same code in the page and natively).

pub mod chat;
mod gguf;
mod gguf_out;
mod hf;

pub use chat::{ChatTemplate, Message};

use crate::error::{Error, Result};

/// How deep a `tokenizer.json` may nest objects and arrays.
const MAX_JSON_DEPTH: usize = 32;

/// The deepest nesting of objects and arrays in JSON `bytes` (strings skipped).
fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in bytes {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Text ↔ token ids for one model.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    source: String,
    /// The model's chat template, when it ships one.
    pub chat_template: Option<ChatTemplate>,
    /// Beginning-of-sequence id, when the model has one.
    pub bos_id: Option<u32>,
    /// End-of-sequence id, when the model has one.
    pub eos_id: Option<u32>,
    /// Padding id, when the model names one.
    pub pad_id: Option<u32>,
    /// The `tokenizer.*` metadata of the GGUF file it was rebuilt from, written back as it
    /// was when the model is exported to GGUF.
    gguf: Option<Vec<(String, crate::io::gguf::Value)>>,
}

/// Every BPE merge's second part starts with the model's continuing-subword prefix, when it
/// has one (merges are `"a b"` strings or `["a", "b"]` pairs).
fn check_merges(
    prefix: &serde_json::Value,
    merges: &serde_json::Value,
) -> std::result::Result<(), String> {
    let (Some(prefix), Some(merges)) = (prefix.as_str(), merges.as_array()) else {
        return Ok(());
    };
    if prefix.is_empty() {
        return Ok(());
    }
    for (i, merge) in merges.iter().enumerate() {
        let second = match merge {
            serde_json::Value::String(s) => s.split_once(' ').map(|(_, b)| b),
            serde_json::Value::Array(pair) => pair.get(1).and_then(|b| b.as_str()),
            _ => None,
        };
        if let Some(second) = second.filter(|b| !b.starts_with(prefix)) {
            return Err(format!(
                "merge {i}'s second part `{second}` does not start with the continuing-subword \
                 prefix `{prefix}`"
            ));
        }
    }
    Ok(())
}

impl Tokenizer {
    /// Reads a Hugging Face `tokenizer.json`. `name` is what errors call it.
    pub fn from_json(name: &str, bytes: &[u8]) -> Result<Self> {
        let fail = |err: tokenizers::Error| Error::Tokenizer {
            file: name.to_string(),
            problem: err.to_string(),
        };
        // The tokenizers crate panics on some malformed JSON (a broken or deeply nested
        // `decoder`), which in the page would kill the worker: syntax and depth are checked
        // here first (a real tokenizer.json nests a few levels).
        #[derive(serde::Deserialize)]
        struct Checked {
            // Decoded whole (escapes included); every other field is only skipped.
            #[serde(default, rename = "decoder")]
            _decoder: serde_json::Value,
            #[serde(default)]
            model: Option<Model>,
        }
        // BPE merges are joined by cutting the continuing-subword prefix off the second part,
        // unchecked (a shorter part panics, a longer one can be cut mid-character).
        #[derive(serde::Deserialize)]
        struct Model {
            #[serde(default)]
            continuing_subword_prefix: serde_json::Value,
            #[serde(default)]
            merges: serde_json::Value,
        }
        let checked = serde_json::from_slice::<Checked>(bytes).map_err(|err| Error::Tokenizer {
            file: name.to_string(),
            problem: format!("is not valid JSON: {err}"),
        })?;
        if let Some(model) = checked.model {
            check_merges(&model.continuing_subword_prefix, &model.merges).map_err(|problem| {
                Error::Tokenizer {
                    file: name.to_string(),
                    problem,
                }
            })?;
        }
        if json_depth(bytes) > MAX_JSON_DEPTH {
            return Err(Error::Tokenizer {
                file: name.to_string(),
                problem: format!("nests JSON deeper than {MAX_JSON_DEPTH} levels"),
            });
        }
        let mut inner = tokenizers::Tokenizer::from_bytes(bytes).map_err(fail)?;
        // Plain ids: padding and truncation are the caller's business, not the file's.
        inner.with_padding(None);
        inner.with_truncation(None).map_err(fail)?;
        Ok(Self {
            inner,
            source: name.to_string(),
            chat_template: None,
            bos_id: None,
            eos_id: None,
            pad_id: None,
            gguf: None,
        })
    }

    /// Reads a Hugging Face tokenizer: `tokenizer.json`, plus `tokenizer_config.json` (BOS/EOS
    /// tokens, chat template) and `chat_template.jinja` (transformers v5's template file) when
    /// the folder has them.
    pub fn from_hf(
        name: &str,
        tokenizer_json: &[u8],
        tokenizer_config: Option<&[u8]>,
        chat_template: Option<String>,
    ) -> Result<Self> {
        hf::build(name, tokenizer_json, tokenizer_config, chat_template)
    }

    /// The tokenizer as a Hugging Face folder's files: `tokenizer.json`,
    /// `tokenizer_config.json` (BOS/EOS/padding tokens and the chat template) and
    /// `generation_config.json`, for a model written without the files it was opened with (a
    /// GGUF base). `model_max_length` is the model's context length.
    pub fn hf_files(&self, model_max_length: usize) -> Result<Vec<(String, Vec<u8>)>> {
        hf::files(self, model_max_length)
    }

    /// The tokenizer as GGUF metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`) that
    /// llama.cpp reads, for a model of `vocab_size` embedding rows: the entries of the GGUF
    /// file it came from, or for a `tokenizer.json` its byte-level BPE vocabulary, merges and
    /// pre-tokenizer as llama.cpp names it. A tokenizer llama.cpp could not rebuild is refused.
    pub fn gguf_metadata(
        &self,
        vocab_size: usize,
    ) -> Result<Vec<(String, crate::io::gguf::Value)>> {
        match &self.gguf {
            Some(entries) => Ok(entries.clone()),
            None => gguf_out::metadata(self, vocab_size),
        }
    }

    /// Rebuilds the tokenizer that a GGUF file describes (`tokenizer.ggml.*`).
    pub fn from_gguf(name: &str, file: &crate::io::gguf::GgufFile) -> Result<Self> {
        gguf::build(name, file)
    }

    /// Encodes `text`. Special tokens written in the text (`<|im_start|>`) become their ids;
    /// no BOS/EOS is added (chat templates write them).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|err| self.error(format!("cannot encode {text:?}: {err}")))
    }

    /// Encodes `text` with the special tokens the tokenizer's post-processor adds (BERT's
    /// `[CLS] … [SEP]`).
    pub fn encode_special(&self, text: &str) -> Result<Vec<u32>> {
        self.inner
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(|err| self.error(format!("cannot encode {text:?}: {err}")))
    }

    /// Encodes `text` like [`Tokenizer::encode`], with each token's byte range in `text`.
    pub fn encode_with_offsets(&self, text: &str) -> Result<Vec<(u32, (usize, usize))>> {
        self.inner
            .encode(text, false)
            .map(|e| {
                e.get_ids()
                    .iter()
                    .copied()
                    .zip(e.get_offsets().iter().copied())
                    .collect()
            })
            .map_err(|err| self.error(format!("cannot encode {text:?}: {err}")))
    }

    /// The model's chat template, or ChatML for a model that ships none.
    pub fn template(&self) -> ChatTemplate {
        let token = |id: Option<u32>| id.and_then(|id| self.token(id)).unwrap_or_default();
        match &self.chat_template {
            Some(t) => t.clone(),
            None => ChatTemplate::new(chat::CHATML, &token(self.bos_id), &token(self.eos_id)),
        }
    }

    /// Decodes ids to text, dropping special tokens when `skip_special` is set.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|err| self.error(format!("cannot decode {ids:?}: {err}")))
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The text of token `id`, if it exists.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Renders `messages` with the model's template (ChatML when it has none) and encodes
    /// them, ready for the assistant's answer.
    pub fn encode_chat(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let template = self.template();
        let text = template.render(messages, true)?;
        if text.is_empty() && !messages.is_empty() {
            return Err(Error::Template {
                file: template.file().to_string(),
                problem: format!("renders nothing for {} messages", messages.len()),
            });
        }
        self.encode(&text)
    }

    /// The highest token id it can produce, added tokens included.
    pub fn max_id(&self) -> Option<u32> {
        self.inner.get_vocab(true).into_values().max()
    }

    /// What it was read from (errors name it).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    fn error(&self, problem: String) -> Error {
        Error::Tokenizer {
            file: self.source.clone(),
            problem,
        }
    }
}
