//! Rebuilding a byte-level BPE tokenizer from GGUF metadata, as llama.cpp defines it:
//! `tokenizer.ggml.model = "gpt2"` with `tokens`, `merges`, `token_type`, and a
//! pre-tokenizer named by `tokenizer.ggml.pre`.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

use super::{ChatTemplate, Tokenizer};
use crate::error::{Error, Result};
use crate::io::gguf::{GgufFile, Value};

/// Llama 3's pre-tokenizer pattern (llama.cpp's `llama-bpe`).
pub(super) const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen2's: Llama 3's with every digit on its own (llama.cpp's `qwen2`).
pub(super) const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token types (llama.cpp's `llama_token_type`): control tokens are special.
const TOKEN_TYPE_CONTROL: u64 = 3;
const TOKEN_TYPE_USER_DEFINED: u64 = 4;

fn strings<'a>(file: &'a GgufFile, key: &str) -> Option<Vec<&'a str>> {
    match file.get(key) {
        Some(Value::Array(items)) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

pub(super) fn build(name: &str, file: &GgufFile) -> Result<Tokenizer> {
    let fail = |problem: String| Error::Tokenizer {
        file: name.to_string(),
        problem,
    };
    let model = file
        .get("tokenizer.ggml.model")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("has no tokenizer.ggml.model".into()))?;
    if model != "gpt2" {
        return Err(fail(format!(
            "tokenizer.ggml.model is {model:?}; webtune rebuilds only byte-level BPE (\"gpt2\") \
             tokenizers from GGUF so far — use the model's tokenizer.json"
        )));
    }
    let tokens = strings(file, "tokenizer.ggml.tokens")
        .ok_or_else(|| fail("has no tokenizer.ggml.tokens".into()))?;
    let merges = strings(file, "tokenizer.ggml.merges")
        .ok_or_else(|| fail("has no tokenizer.ggml.merges".into()))?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| fail(format!("merge {m:?} is not two tokens")))
        })
        .collect::<Result<Vec<_>>>()?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| (t.to_string(), id as u32))
        .collect();
    let pre = file
        .get("tokenizer.ggml.pre")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let byte_level = |use_regex| ByteLevel::new(false, true, use_regex);
    let (pre_tokenizer, ignore_merges): (PreTokenizerWrapper, bool) = match pre {
        "default" | "gpt-2" | "gpt2" => (byte_level(true).into(), false),
        // Every digit on its own, then GPT-2's split (SmolLM, StarCoder).
        "smollm" | "starcoder" | "refact" => (
            Sequence::new(vec![Digits::new(true).into(), byte_level(true).into()]).into(),
            false,
        ),
        "llama-bpe" | "llama3" | "qwen2" => {
            // Llama 3 keeps whole vocabulary words unmerged; Qwen2 does not.
            let (pattern, ignore_merges) = match pre {
                "qwen2" => (QWEN2_PATTERN, false),
                _ => (LLAMA3_PATTERN, true),
            };
            let split = Split::new(
                SplitPattern::Regex(pattern.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|err| fail(format!("{pre} pattern: {err}")))?;
            (
                Sequence::new(vec![split.into(), byte_level(false).into()]).into(),
                ignore_merges,
            )
        }
        other => {
            return Err(fail(format!(
                "tokenizer.ggml.pre is {other:?}, which webtune does not know yet \
                 (it knows default, gpt-2, smollm, starcoder, refact, llama-bpe, qwen2)"
            )));
        }
    };
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .ignore_merges(ignore_merges)
        .build()
        .map_err(|err| fail(format!("BPE: {err}")))?;
    let mut inner = tokenizers::Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(pre_tokenizer));
    inner.with_decoder(Some(ByteLevelDecoder::default()));

    let types: Vec<u64> = match file.get("tokenizer.ggml.token_type") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_u64).collect(),
        _ => Vec::new(),
    };
    let special: Vec<AddedToken> = types
        .iter()
        .enumerate()
        .filter(|&(_, &t)| t == TOKEN_TYPE_CONTROL || t == TOKEN_TYPE_USER_DEFINED)
        .filter_map(|(id, &t)| {
            tokens
                .get(id)
                .map(|tok| AddedToken::from(tok.to_string(), t == TOKEN_TYPE_CONTROL))
        })
        .collect();
    inner
        .add_special_tokens(special)
        .map_err(|err| fail(format!("special tokens: {err}")))?;

    let id = |key: &str| {
        file.get(key)
            .and_then(Value::as_u64)
            .map(|v| v as u32)
            .filter(|&v| (v as usize) < tokens.len())
    };
    let token = |id: Option<u32>| {
        id.and_then(|id| tokens.get(id as usize))
            .copied()
            .unwrap_or("")
    };
    let (bos_id, eos_id) = (
        id("tokenizer.ggml.bos_token_id"),
        id("tokenizer.ggml.eos_token_id"),
    );
    // llama.cpp puts BOS first when the file says so: the post-processor that does it in a
    // Hugging Face tokenizer (webtune's `encode` leaves it to the chat template).
    let flag = |key: &str| matches!(file.get(key), Some(Value::Bool(true)));
    if let (true, Some(bos)) = (flag("tokenizer.ggml.add_bos_token"), bos_id) {
        let text = token(Some(bos));
        let processor = TemplateProcessing::builder()
            .try_single(format!("{text} $A"))
            .and_then(|b| b.try_pair(format!("{text} $A {text} $B")))
            .map_err(|err| fail(format!("BOS post-processor: {err}")))?
            .special_tokens(vec![(text.to_string(), bos)])
            .build()
            .map_err(|err| fail(format!("BOS post-processor: {err}")))?;
        inner.with_post_processor(Some(processor));
    }
    let chat_template = file
        .get("tokenizer.chat_template")
        .and_then(Value::as_str)
        .map(|source| ChatTemplate::new(source, token(bos_id), token(eos_id)).from_file(name));
    Ok(Tokenizer {
        inner,
        source: name.to_string(),
        chat_template,
        bos_id,
        eos_id,
        pad_id: id("tokenizer.ggml.padding_token_id"),
        gguf: Some(
            file.metadata
                .iter()
                .filter(|(key, _)| key.starts_with("tokenizer."))
                .cloned()
                .collect(),
        ),
    })
}
