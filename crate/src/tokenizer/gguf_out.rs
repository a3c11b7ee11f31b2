//! A Hugging Face byte-level BPE tokenizer as the GGUF metadata llama.cpp reads
//! (`tokenizer.ggml.model = "gpt2"`), the way llama.cpp's `convert_hf_to_gguf.py` writes it:
//! tokens by id (gaps and rows past the tokenizer filled with `[PADn]`, type unused), token
//! types (added special tokens are control tokens, other added tokens user-defined), merges
//! as `"a b"`, and the pre-tokenizer by llama.cpp's name for it.

use serde_json::Value as Json;

use super::Tokenizer;
use super::gguf::{LLAMA3_PATTERN, QWEN2_PATTERN};
use crate::error::Result;
use crate::io::gguf::Value;

/// llama.cpp's token types.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const UNUSED: i32 = 5;

/// llama.cpp's name for a `tokenizer.json` pre-tokenizer, when it has one.
fn pre_name(pre: &Json) -> Option<&'static str> {
    let ty = |v: &Json| v.get("type").and_then(Json::as_str).map(str::to_string);
    let byte_level = |v: &Json, regex: bool| {
        ty(v).as_deref() == Some("ByteLevel")
            && v.get("use_regex").and_then(Json::as_bool).unwrap_or(true) == regex
    };
    if byte_level(pre, true) {
        return Some("gpt-2");
    }
    let parts = pre.get("pretokenizers").and_then(Json::as_array)?;
    match &parts[..] {
        [digits, bl]
            if ty(digits).as_deref() == Some("Digits")
                && digits.get("individual_digits") == Some(&Json::Bool(true))
                && byte_level(bl, true) =>
        {
            Some("smollm")
        }
        [split, bl] if ty(split).as_deref() == Some("Split") && byte_level(bl, false) => {
            match split.pointer("/pattern/Regex").and_then(Json::as_str)? {
                p if p == LLAMA3_PATTERN => Some("llama-bpe"),
                p if p == QWEN2_PATTERN => Some("qwen2"),
                _ => None,
            }
        }
        _ => None,
    }
}

pub(super) fn metadata(t: &Tokenizer, vocab_size: usize) -> Result<Vec<(String, Value)>> {
    let json: Json = t
        .inner
        .to_string(false)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| t.error("cannot be serialised to read its vocabulary".into()))?;
    let refuse = |problem: String| {
        t.error(format!(
            "cannot be written as llama.cpp's tokenizer metadata: {problem}"
        ))
    };
    let model = &json["model"];
    if model.get("type").and_then(Json::as_str) != Some("BPE")
        || json.pointer("/decoder/type").and_then(Json::as_str) != Some("ByteLevel")
    {
        return Err(refuse(
            "only byte-level BPE tokenizers (GPT-2, Llama 3, Qwen2, SmolLM) are converted".into(),
        ));
    }
    let pre = pre_name(&json["pre_tokenizer"]).ok_or_else(|| {
        refuse(format!(
            "llama.cpp has no name for its pre-tokenizer {}",
            json["pre_tokenizer"]
        ))
    })?;

    let mut tokens: Vec<Option<(String, i32)>> = Vec::new();
    let mut put = |id: u64, text: &str, ty: i32| {
        let id = id as usize;
        if id >= tokens.len() {
            tokens.resize(id + 1, None);
        }
        tokens[id] = Some((text.to_string(), ty));
    };
    for (text, id) in model["vocab"].as_object().into_iter().flatten() {
        put(id.as_u64().unwrap_or(u64::MAX), text, NORMAL);
    }
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        let (Some(id), Some(text)) = (added["id"].as_u64(), added["content"].as_str()) else {
            continue;
        };
        let special = added["special"].as_bool().unwrap_or(false);
        put(id, text, if special { CONTROL } else { USER_DEFINED });
    }
    if tokens.len() > vocab_size {
        return Err(refuse(format!(
            "it has {} tokens, more than the model's {vocab_size} embedding rows",
            tokens.len()
        )));
    }
    tokens.resize(vocab_size, None);
    let (texts, types): (Vec<Value>, Vec<Value>) = tokens
        .into_iter()
        .enumerate()
        .map(|(id, token)| {
            let (text, ty) = token.unwrap_or_else(|| (format!("[PAD{id}]"), UNUSED));
            (Value::String(text), Value::I32(ty))
        })
        .unzip();
    let merges = model["merges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| match m {
            Json::String(s) => Some(Value::String(s.clone())),
            Json::Array(pair) => match &pair[..] {
                [Json::String(a), Json::String(b)] => Some(Value::String(format!("{a} {b}"))),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| refuse("a merge is not a pair of tokens".into()))?;

    let mut out = vec![
        (
            "tokenizer.ggml.model".to_string(),
            Value::String("gpt2".into()),
        ),
        ("tokenizer.ggml.pre".into(), Value::String(pre.into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(texts)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.merges".into(), Value::Array(merges)),
    ];
    for (key, id) in [
        ("bos_token_id", t.bos_id),
        ("eos_token_id", t.eos_id),
        ("padding_token_id", t.pad_id),
    ] {
        if let Some(id) = id {
            out.push((format!("tokenizer.ggml.{key}"), Value::U32(id)));
        }
    }
    // Whether encoding puts BOS first (a post-processor does it in a Hugging Face tokenizer).
    let adds_bos = match (t.bos_id, t.inner.encode("a", true)) {
        (Some(bos), Ok(enc)) => enc.get_ids().first() == Some(&bos),
        _ => false,
    };
    out.push(("tokenizer.ggml.add_bos_token".into(), Value::Bool(adds_bos)));
    if let Some(template) = &t.chat_template {
        out.push((
            "tokenizer.chat_template".into(),
            Value::String(template.source().to_string()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_tokenizers_get_llama_cpp_names() {
        let json = |s: &str| serde_json::from_str::<Json>(s).unwrap();
        let bl = |regex: bool| format!(r#"{{"type":"ByteLevel","use_regex":{regex}}}"#);
        assert_eq!(pre_name(&json(&bl(true))), Some("gpt-2"));
        let seq = |a: String, b: String| {
            json(&format!(
                r#"{{"type":"Sequence","pretokenizers":[{a},{b}]}}"#
            ))
        };
        let digits = r#"{"type":"Digits","individual_digits":true}"#.to_string();
        assert_eq!(pre_name(&seq(digits.clone(), bl(true))), Some("smollm"));
        assert_eq!(pre_name(&seq(digits, bl(false))), None);
        let split =
            |p: &str| serde_json::json!({"type": "Split", "pattern": {"Regex": p}}).to_string();
        assert_eq!(
            pre_name(&seq(split(QWEN2_PATTERN), bl(false))),
            Some("qwen2")
        );
        assert_eq!(
            pre_name(&seq(split(LLAMA3_PATTERN), bl(false))),
            Some("llama-bpe")
        );
        assert_eq!(pre_name(&seq(split("\\s+"), bl(false))), None);
    }
}
