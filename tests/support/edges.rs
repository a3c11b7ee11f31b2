//! The command line and the JavaScript API are two translations over one session: for the same
//! inputs they must give the same evaluation report and the same exported files.
//! `fixtures/edges/expected.json` records what `webtune eval` and `webtune merge` give for the
//! tiny Llama with PEFT's fixture adapter on `fixtures/edges/held.jsonl`; the CLI test
//! (`crate/tests/cli.rs`, which rewrites it when `WEBTUNE_BLESS=1`) and the browser test
//! (`browser/api.rs`, the JS API in wasm) are both held to it.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use webtune::io::MemorySource;
use webtune::io::safetensors::SafetensorsFile;

/// The dataset both edges evaluate.
pub const EDGES_HELD: &str = include_str!("../fixtures/edges/held.jsonl");

/// What the command line gave (see the module docs).
pub const EDGES_EXPECTED: &str = include_str!("../fixtures/edges/expected.json");

/// Longest sequence both edges encode with.
pub const EDGES_MAX_LEN: usize = 512;

/// A digest of named files that compares across platforms: JSON files as parsed, safetensors
/// files per tensor as shape, sum and sum of squares, other files by length.
pub async fn digest(files: &[(String, Vec<u8>)]) -> Value {
    let mut out = BTreeMap::new();
    for (name, bytes) in files {
        let value = if name.ends_with(".json") {
            serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
        } else if name.ends_with(".safetensors") {
            let source = MemorySource::new(name.as_str(), bytes.clone());
            let file = SafetensorsFile::open(&source).await.unwrap();
            let mut tensors = BTreeMap::new();
            for (key, info) in &file.tensors {
                let values = file.read_f32(&source, key).await.unwrap();
                let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
                let squares: f64 = values.iter().map(|&v| f64::from(v).powi(2)).sum();
                tensors.insert(key.clone(), json!([info.shape, sum, squares]));
            }
            json!(tensors)
        } else {
            json!({ "bytes": bytes.len() })
        };
        out.insert(name.clone(), value);
    }
    json!(out)
}

/// The record both edges are compared by: the evaluation (without its `data` name, which
/// says where the text came from) and the digest of the merged files.
pub fn edges_record(mut evaluation: Value, merged: Value) -> Value {
    if let Some(object) = evaluation.as_object_mut() {
        object.remove("data");
    }
    json!({ "evaluation": evaluation, "merged": merged })
}

/// Fails with the path of the first difference: keys, strings and booleans exactly, numbers
/// within `tolerance` relative (with an absolute floor of `tolerance`).
pub fn assert_same(actual: &Value, expected: &Value, tolerance: f64, path: &str) {
    match (actual, expected) {
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (a.as_f64().unwrap(), e.as_f64().unwrap());
            assert!(
                (a - e).abs() <= tolerance * e.abs().max(1.0),
                "{path}: {a} vs expected {e}"
            );
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{path}: lengths differ");
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert_same(a, e, tolerance, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(a), Value::Object(e)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(e), "{path}: keys differ");
            for (key, e) in e {
                assert_same(&a[key], e, tolerance, &format!("{path}.{key}"));
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

/// PEFT's fixture adapter for the tiny Llama, as the two files a person drops in.
pub fn peft_adapter_files() -> Vec<MemorySource> {
    vec![
        MemorySource::new(
            "adapter/adapter_config.json",
            include_bytes!("../fixtures/lora/adapter/adapter_config.json").to_vec(),
        ),
        MemorySource::new(
            "adapter/adapter_model.safetensors",
            include_bytes!("../fixtures/lora/adapter/adapter_model.safetensors").to_vec(),
        ),
    ]
}
