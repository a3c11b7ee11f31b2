//! Tokenizers rebuilt from GGUF metadata: llama.cpp's own test vectors (gpt-2, llama-bpe,
//! starcoder; fetched by scripts/fetch-models.sh) and transformers' ids for SmolLM2.

use webtune::io::gguf::GgufFile;
use webtune::platform::FileSource;
use webtune::platform::block_on;
use webtune::tokenizer::{Message, Tokenizer};
use webtune_tests::{SMOLLM2_GGUF, SMOLLM2_LOGITS_JSON, model_path};

fn vocab_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/vocab");
    assert!(
        dir.join("ggml-vocab-starcoder.gguf.out").is_file(),
        "{} is missing: run scripts/fetch-models.sh",
        dir.display()
    );
    dir
}

fn from_gguf(path: &std::path::Path) -> Tokenizer {
    let source = FileSource::open(path).unwrap();
    let file = block_on(GgufFile::open(&source)).unwrap();
    Tokenizer::from_gguf(&path.display().to_string(), &file).unwrap()
}

/// Every input string of llama.cpp's `ggml-vocab-{name}.gguf.inp` encodes to the ids in `.out`.
fn llama_cpp_vectors(name: &str) {
    let dir = vocab_dir();
    let base = dir.join(format!("ggml-vocab-{name}.gguf"));
    let tokenizer = from_gguf(&base);
    let inputs = std::fs::read_to_string(base.with_extension("gguf.inp")).unwrap();
    let outputs = std::fs::read_to_string(base.with_extension("gguf.out")).unwrap();
    let inputs: Vec<&str> = inputs.split("\n__ggml_vocab_test__\n").collect();
    let outputs: Vec<&str> = outputs.lines().collect();
    assert!(inputs.len() >= 40, "{name}: {} inputs", inputs.len());
    let mut failures = Vec::new();
    for (input, output) in inputs.iter().zip(&outputs) {
        let want: Vec<u32> = output
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect();
        let got = tokenizer.encode(input).unwrap();
        if got != want {
            failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} differ:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn gpt2_vocab_matches_llama_cpp() {
    llama_cpp_vectors("gpt-2");
}

#[test]
fn starcoder_vocab_matches_llama_cpp() {
    llama_cpp_vectors("starcoder");
}

#[test]
fn llama_bpe_vocab_matches_llama_cpp() {
    llama_cpp_vectors("llama-bpe");
}

#[test]
fn smollm2_tokenizer_encodes_like_transformers() {
    let tokenizer = from_gguf(&model_path(SMOLLM2_GGUF));
    assert_eq!((tokenizer.bos_id, tokenizer.eos_id), (Some(1), Some(2)));
    let reference: serde_json::Value = serde_json::from_str(SMOLLM2_LOGITS_JSON).unwrap();
    for prompt in reference["prompts"].as_array().unwrap() {
        let text = prompt["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(prompt["ids"].clone()).unwrap();
        assert_eq!(tokenizer.encode(text).unwrap(), want, "{text:?}");
        assert_eq!(tokenizer.decode(&want, false).unwrap(), text);
    }
    // The model's own chat template, rendered like transformers' apply_chat_template.
    let chat = &reference["chat"];
    let messages: Vec<Message> = serde_json::from_value(chat["messages"].clone()).unwrap();
    let template = tokenizer
        .chat_template
        .as_ref()
        .expect("SmolLM2 ships a template");
    assert_eq!(
        template.render(&messages, true).unwrap(),
        chat["rendered"].as_str().unwrap()
    );
    let want: Vec<u32> = serde_json::from_value(chat["prompt_ids"].clone()).unwrap();
    assert_eq!(tokenizer.encode_chat(&messages).unwrap(), want);

    let answer: Vec<u32> = serde_json::from_value(reference["greedy"]["ids"].clone()).unwrap();
    assert_eq!(
        tokenizer.decode(&answer, true).unwrap(),
        reference["greedy"]["text"].as_str().unwrap()
    );
}
