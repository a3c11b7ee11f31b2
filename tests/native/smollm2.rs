//! The real default model, SmolLM2-135M-Instruct Q4_1 GGUF: its header and tensors read as
//! llama.cpp's gguf-py reads them (fixture: `tests/fixtures/smollm2/make_gguf_fixture.py`).

use std::collections::BTreeMap;

use webtune::io::gguf::{GgufFile, Value};
use webtune::platform::FileSource;
use webtune::platform::block_on;
use webtune_tests::{SMOLLM2_GGUF, check_gguf_tensor, model_path};

const REFERENCE: &str = include_str!("../fixtures/smollm2/gguf_reference.json");

#[test]
fn smollm2_gguf_reads_like_gguf_py() {
    let reference: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    let source = FileSource::open(model_path(SMOLLM2_GGUF)).unwrap();
    let file = block_on(GgufFile::open(&source)).unwrap();

    assert_eq!(
        file.tensors.len() as u64,
        reference["tensor_count"].as_u64().unwrap()
    );
    let mut types = BTreeMap::new();
    for t in &file.tensors {
        *types.entry(t.ty.to_string()).or_insert(0u64) += 1;
    }
    let want: BTreeMap<String, u64> = serde_json::from_value(reference["types"].clone()).unwrap();
    assert_eq!(types, want);

    for (key, want) in reference["metadata"].as_object().unwrap() {
        let got = file.get(key).unwrap_or_else(|| panic!("{key} missing"));
        match want {
            serde_json::Value::String(s) => assert_eq!(got.as_str(), Some(s.as_str()), "{key}"),
            n => {
                let n = n.as_f64().unwrap();
                let g = got.as_f64().unwrap();
                assert!((g - n).abs() <= 1e-12 * n.abs(), "{key}: {g} vs {n}");
            }
        }
    }
    let len = |key| match file.get(key) {
        Some(Value::Array(items)) => items.len() as u64,
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(
        len("tokenizer.ggml.tokens"),
        reference["tokens"].as_u64().unwrap()
    );
    assert_eq!(
        len("tokenizer.ggml.merges"),
        reference["merges"].as_u64().unwrap()
    );

    for (name, want) in reference["rows"].as_object().unwrap() {
        check_gguf_tensor(&file, &source, name, want, "first_row");
    }
}
