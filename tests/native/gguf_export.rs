//! GGUF export against llama.cpp itself (`fixtures/gguf_export/make_fixture.py` ran llama.cpp
//! on the files webtune writes): for SmolLM2 (llama: Q/K rows permuted), a tiny Qwen2
//! (rsLoRA), a tiny Llama (RoPE scaling as `rope_freqs`) and a tiny GPT-2 (`Conv1D`), webtune writes the same adapter and merged F16/Q8_0 bytes llama.cpp read;
//! base + adapter gives llama.cpp's logits within 1e-3; each merged file, reopened here,
//! tokenizes as llama.cpp did, continues greedily as llama.cpp did, and has a perplexity within
//! 1 % of llama.cpp's. The CPU tier: llama.cpp ran on the CPU in f32.

use serde_json::Value;
use sha2::{Digest, Sha256};
use webtune::ComputeDevice;
use webtune::burn::module::Module;
use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::io::gguf::GgmlType;
use webtune::io::{ByteSource, MemorySource};
use webtune::models::{CausalLm, Loaded};
use webtune::numerics::{Tolerance, compare};
use webtune::platform::{FileSource, block_on};
use webtune::session::{ExportKind, OpenOptions, Purpose, Session};
use webtune_tests::{SMOLLM2_GGUF, argmax, logsumexp, model_path};

const REFERENCE: &str = include_str!("../fixtures/gguf_export/reference.json");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
/// A greedy step whose best logit leads the runner-up by less than this is a near-tie.
const NEAR_TIE: f32 = 0.05;

fn reference(model: &str) -> Value {
    let all: Value = serde_json::from_str(REFERENCE).unwrap();
    all[model].clone()
}

fn ids(value: &Value) -> Vec<u32> {
    serde_json::from_value(value.clone()).unwrap()
}

/// A session on the CPU with `model`'s base open (as the fixture script gave it to the CLI)
/// and its fixture adapter attached.
fn session(model: &str, purpose: Purpose) -> Session {
    let mut session = Session::new(ComputeDevice::cpu());
    let files: Vec<MemorySource> = match model {
        "smollm2" => vec![read(model_path(SMOLLM2_GGUF))],
        "llama" => folder("tiny/llama"),
        _ => [
            format!("tiny/{model}/config.json").as_str(),
            format!("tiny/{model}/model.safetensors").as_str(),
            "tiny/llama/tokenizer.json",
            "tiny/llama/tokenizer_config.json",
        ]
        .iter()
        .map(|f| read(format!("{FIXTURES}/{f}").into()))
        .collect(),
    };
    let options = OpenOptions {
        quantize: false,
        precision: None,
        purpose,
    };
    // Named as the fixture script's CLI runs named it (the files record the name).
    let name = match model {
        "smollm2" => SMOLLM2_GGUF,
        "llama" => "llama_base",
        "gpt2" => "gpt2_base",
        _ => "qwen2_base",
    };
    block_on(session.open_model(name, files, &options)).unwrap();
    import(&mut session, &format!("gguf_export/{model}_adapter"));
    session
}

/// Attaches the PEFT adapter in fixture folder `dir`.
fn import(session: &mut Session, dir: &str) {
    let adapter = format!("{FIXTURES}/{dir}");
    let config = std::fs::read(format!("{adapter}/adapter_config.json")).unwrap();
    let weights = FileSource::open(format!("{adapter}/adapter_model.safetensors")).unwrap();
    block_on(session.import_adapter(&config, &weights)).unwrap();
}

/// A file as a named source (its file name).
pub(crate) fn read(path: std::path::PathBuf) -> MemorySource {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    MemorySource::new(name, std::fs::read(&path).unwrap())
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Every position's logits for `ids`, one row each.
fn logits(loaded: &Loaded, ids: &[u32]) -> Vec<Vec<f32>> {
    let input = Tensor::<2, Int>::from_data(
        TensorData::new(ids.iter().map(|&i| i as i32).collect(), [1, ids.len()]),
        &loaded_device(loaded),
    );
    let values = block_on(webtune::device::read_f32(
        loaded.model.valid().forward(input),
        "logits",
    ))
    .unwrap();
    values
        .chunks_exact(loaded.model.vocab_size())
        .map(<[f32]>::to_vec)
        .collect()
}

fn loaded_device(loaded: &Loaded) -> webtune::burn::tensor::Device {
    loaded.model.devices()[0].clone()
}

/// Exports `kind`, checks that `file` is the bytes llama.cpp read, and returns it and the
/// `Modelfile` beside it.
fn export(session: &Session, kind: ExportKind, file: &str, want: &Value) -> (Vec<u8>, String) {
    let files = block_on(session.export(kind)).unwrap();
    let find = |name: &str| files.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let bytes = find(file);
    assert_eq!(
        sha256(&bytes),
        want.as_str().unwrap(),
        "{file} differs from the bytes llama.cpp read: rerun make_fixture.py"
    );
    (bytes, String::from_utf8(find("Modelfile")).unwrap())
}

fn adapter_matches_llama_cpp(model: &str) {
    let want = reference(model);
    let session = session(model, Purpose::Read);
    let (_, modelfile) = export(
        &session,
        ExportKind::GgufAdapter,
        "adapter.gguf",
        &want["adapter_sha256"],
    );
    // Ollama's: the base beside the adapter; ChatML's template (SmolLM2), or the GGUF's own.
    assert!(
        modelfile.contains("\nADAPTER ./adapter.gguf\n"),
        "{modelfile}"
    );
    match model {
        "smollm2" => {
            assert!(modelfile.contains(&format!("\nFROM ./{SMOLLM2_GGUF}\n")));
            assert!(modelfile.contains("TEMPLATE \"\"\"{{- if .System }}<|im_start|>system"));
            assert!(modelfile.contains("SYSTEM \"\"\"You are a helpful AI assistant named SmolLM"));
            assert!(modelfile.contains("PARAMETER stop \"<|im_end|>\""));
        }
        _ => {
            assert!(!modelfile.contains("TEMPLATE \"\"\""), "{modelfile}");
            assert!(modelfile.contains("PARAMETER stop \"</s>\""), "{modelfile}");
        }
    }
    let (loaded, _) = session.text_model("be checked").unwrap();
    let mut worst = webtune::numerics::Agreement::default();
    for prompt in want["prompts"].as_array().unwrap() {
        assert!(
            prompt["adapter_effect"].as_f64().unwrap() > 0.5,
            "the adapter must move llama.cpp's logits for the comparison to mean anything"
        );
        let rows = logits(loaded, &ids(&prompt["ids"]));
        let stride = prompt["stride"].as_u64().unwrap() as usize;
        let got: Vec<f32> = rows
            .iter()
            .flat_map(|r| r.iter().step_by(stride).copied())
            .collect();
        let expected: Vec<Vec<f32>> = serde_json::from_value(prompt["columns"].clone()).unwrap();
        let expected: Vec<f32> = expected.concat();
        // llama.cpp's CPU GELU (GPT-2) looks its input up, rounded to f16, in a table.
        let tol = Tolerance::new(if model == "gpt2" { 3e-3 } else { 1e-3 }, 0.0);
        worst = worst.worst(compare("base + GGUF adapter logits", &got, &expected, tol).unwrap());
        let top: Vec<u32> = rows.iter().map(|r| argmax(r) as u32).collect();
        assert_eq!(top, ids(&prompt["argmax"]));
    }
    eprintln!(
        "{model}: base + adapter vs llama.cpp's base + adapter.gguf: max |Δ| {:.1e}",
        worst.max_abs_diff
    );
}

fn merged_matches_llama_cpp(model: &str) {
    let want = reference(model);
    let session = session(model, Purpose::Write);
    for (name, ty) in [("f16", GgmlType::F16), ("q8_0", GgmlType::Q8_0)] {
        let want = &want["merged"][name];
        let file = format!("model-{name}.gguf");
        let (bytes, modelfile) =
            export(&session, ExportKind::GgufMerged(ty), &file, &want["sha256"]);
        assert!(
            modelfile.contains(&format!("\nFROM ./{file}\n")),
            "{modelfile}"
        );
        let mut reopened = Session::new(ComputeDevice::cpu());
        let source = MemorySource::new(file.clone(), bytes);
        block_on(reopened.open_model(&file, vec![source], &OpenOptions::default())).unwrap();
        let (loaded, tokenizer) = reopened.text_model("be checked").unwrap();
        for text in want["texts"].as_array().unwrap() {
            let s = text["text"].as_str().unwrap();
            assert_eq!(
                tokenizer.encode(s).unwrap(),
                ids(&text["ids"]),
                "{file}: {s:?}"
            );
        }
        // llama.cpp's greedy continuation, fed back: at every step where its choice was clear
        // (a lead of at least NEAR_TIE over the runner-up) webtune chooses the same token.
        let greedy = &want["greedy"];
        let margins: Vec<f32> = serde_json::from_value(greedy["margins"].clone()).unwrap();
        let (prompt, answer) = (ids(&greedy["prompt_ids"]), ids(&greedy["ids"]));
        let rows = logits(loaded, &[&prompt[..], &answer[..answer.len() - 1]].concat());
        let chosen: Vec<u32> = rows[prompt.len() - 1..]
            .iter()
            .map(|r| argmax(r) as u32)
            .collect();
        let clear: Vec<usize> = (0..answer.len())
            .filter(|&i| margins[i] >= NEAR_TIE)
            .collect();
        for &i in &clear {
            assert_eq!(chosen[i], answer[i], "{file}: greedy step {i}");
        }
        eprintln!(
            "{model} {file}: greedy as llama.cpp at all {} of {} clear steps",
            clear.len(),
            answer.len()
        );
        if model == "smollm2" {
            assert_eq!(
                clear.len(),
                answer.len(),
                "SmolLM2's answer has no near-tie"
            );
        }
        let text = ids(&want["perplexity"]["ids"]);
        let rows = logits(loaded, &text);
        let nll: f32 = rows[..text.len() - 1]
            .iter()
            .zip(&text[1..])
            .map(|(r, &next)| logsumexp(r) - r[next as usize])
            .sum::<f32>()
            / (text.len() - 1) as f32;
        // The F16 file computes the same in both; for Q8_0, llama.cpp also rounds the
        // activations to 8 bits (≈3 % on SmolLM2): what the file itself costs is measured
        // against llama.cpp's f32 merge.
        let (theirs, against) = match ty {
            GgmlType::Q8_0 => (reference(model)["f32_perplexity"].clone(), "f32 merge"),
            _ => (want["perplexity"]["value"].clone(), "same file"),
        };
        let (ours, theirs) = (nll.exp(), theirs.as_f64().unwrap() as f32);
        eprintln!(
            "{model} {file}: perplexity {ours:.3} here, {theirs:.3} in llama.cpp ({against}; \
             llama.cpp on this file: {:.3})",
            want["perplexity"]["value"].as_f64().unwrap()
        );
        compare(
            "merged GGUF perplexity",
            &[ours],
            &[theirs],
            Tolerance::new(0.0, 0.01),
        )
        .unwrap();
    }
}

#[test]
fn smollm2_gguf_adapter_matches_llama_cpp() {
    adapter_matches_llama_cpp("smollm2");
}

#[test]
fn qwen2_gguf_adapter_matches_llama_cpp() {
    adapter_matches_llama_cpp("qwen2");
}

#[test]
fn tiny_llama_gguf_adapter_matches_llama_cpp() {
    adapter_matches_llama_cpp("llama");
}

#[test]
fn tiny_llama_merged_gguf_matches_llama_cpp() {
    merged_matches_llama_cpp("llama");
}

#[test]
fn tiny_gpt2_gguf_adapter_matches_llama_cpp() {
    adapter_matches_llama_cpp("gpt2");
}

#[test]
fn tiny_gpt2_merged_gguf_matches_llama_cpp() {
    merged_matches_llama_cpp("gpt2");
}

#[test]
fn smollm2_merged_gguf_matches_llama_cpp() {
    merged_matches_llama_cpp("smollm2");
}

#[test]
fn qwen2_merged_gguf_matches_llama_cpp() {
    merged_matches_llama_cpp("qwen2");
}

/// A fixture folder's files (`path` under `tests/fixtures/`), sorted by name, as the page
/// would hand them over.
pub(crate) fn folder(path: &str) -> Vec<MemorySource> {
    let mut files: Vec<_> = std::fs::read_dir(format!("{FIXTURES}/{path}"))
        .unwrap()
        .map(|e| read(e.unwrap().path()))
        .collect();
    files.sort_by(|a, b| a.name().cmp(b.name()));
    files
}

fn open(files: Vec<MemorySource>, name: &str) -> Session {
    let mut session = Session::new(ComputeDevice::cpu());
    let options = OpenOptions {
        purpose: Purpose::Write,
        ..OpenOptions::default()
    };
    block_on(session.open_model(name, files, &options)).unwrap();
    session
}

fn export_error(session: &Session, kind: ExportKind) -> webtune::Error {
    match block_on(session.export(kind)) {
        Ok(files) => panic!(
            "{kind:?} was written: {:?}",
            files.iter().map(|f| &f.0).collect::<Vec<_>>()
        ),
        Err(err) => err,
    }
}

/// What llama.cpp cannot take is refused, with the reason, before any file exists.
#[test]
fn exports_llama_cpp_cannot_take_are_refused() {
    // A DoRA adapter: llama.cpp's adapters have no magnitude vector.
    let mut session = open(folder("tiny/llama"), "llama");
    import(&mut session, "lora/dora_adapter");
    let err = export_error(&session, ExportKind::GgufAdapter);
    assert_eq!(err.kind(), "export");
    assert!(err.to_string().contains("DoRA"), "{err}");

    // Q8_0 blocks of 32 do not divide rows of 8 values; F16 has no such limit, and is then
    // refused only because the file has no tokenizer.
    let tiny = webtune_tests::gguf_writer::tiny_llama(None, None, 2);
    let session = open(vec![MemorySource::new("tiny.gguf", tiny)], "tiny.gguf");
    let err = export_error(&session, ExportKind::GgufMerged(GgmlType::Q8_0));
    assert_eq!(err.kind(), "export");
    assert!(
        err.to_string().contains("not whole Q8_0 blocks of 32"),
        "{err}"
    );
    let err = export_error(&session, ExportKind::GgufMerged(GgmlType::F16));
    assert!(err.to_string().contains("has no tokenizer"), "{err}");
    assert!(ExportKind::gguf_merged("q4_k_m").is_err());
}

/// The tiny Llama (Llama 3.1 RoPE scaling, written as `rope_freqs`; Q/K permuted; a DoRA
/// adapter merged) as an F32 GGUF reopens here with the logits it had before.
#[test]
fn a_merged_gguf_reopens_with_the_same_logits() {
    let mut session = open(folder("tiny/llama"), "llama");
    import(&mut session, "lora/dora_adapter");
    let ids = [1, 17, 250, 3, 99, 42, 300, 7];
    let (loaded, _) = session.text_model("be checked").unwrap();
    let before = logits(loaded, &ids).concat();
    let files = block_on(session.export(ExportKind::GgufMerged(GgmlType::F32))).unwrap();
    let (name, bytes) = files.into_iter().next().unwrap();
    assert_eq!(name, "model-f32.gguf");
    let reopened = open(vec![MemorySource::new(name.clone(), bytes)], &name);
    let (loaded, tokenizer) = reopened.text_model("be checked").unwrap();
    let after = logits(loaded, &ids).concat();
    compare(
        "reopened logits",
        &after,
        &before,
        Tolerance::new(1e-5, 0.0),
    )
    .unwrap();
    let (_, original) = session.text_model("be checked").unwrap();
    let text = "Hello world! The policy changes on 2025-01-01.";
    assert_eq!(
        tokenizer.encode(text).unwrap(),
        original.encode(text).unwrap()
    );
    assert_eq!(
        tokenizer.template().source(),
        original.template().source(),
        "the chat template travels in the file"
    );
}
