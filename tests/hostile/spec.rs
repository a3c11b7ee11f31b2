//! What an input spec of `cases.jsonl` (see `make_corpus.py`) holds, as bytes: shared by the
//! command-line runner (`crate/tests/hostile.rs`) and the JS API's (`tests/browser/hostile.rs`),
//! which differ only in where a spliced file's bytes come from.

use serde_json::Value;

/// The bytes `spec` describes: inline text, hex, repeated parts, or a splice into the file
/// `base` reads.
pub fn content(spec: &Value, base: impl Fn(&str) -> Vec<u8>) -> Vec<u8> {
    if let Some(text) = spec["text"].as_str() {
        return text.as_bytes().to_vec();
    }
    if let Some(hex) = spec["hex"].as_str() {
        return decode_hex(hex);
    }
    if let Some(parts) = spec["parts"].as_array() {
        let mut out = Vec::new();
        for part in parts {
            let piece = part[0].as_str().unwrap().as_bytes();
            for _ in 0..part[1].as_u64().unwrap() {
                out.extend_from_slice(piece);
            }
        }
        return out;
    }
    let from = base(spec["from"].as_str().unwrap());
    let splice = &spec["splice"];
    let (start, end) = (
        splice[0].as_u64().unwrap() as usize,
        splice[1].as_u64().unwrap() as usize,
    );
    let mut out = from[..start].to_vec();
    out.extend(decode_hex(splice[2].as_str().unwrap()));
    out.extend_from_slice(&from[end..]);
    out
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
