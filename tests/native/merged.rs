//! A merged checkpoint from a GGUF base is a complete Hugging Face model: `webtune merge` of
//! SmolLM2's GGUF and `fixtures/smollm2/merged_adapter/` writes the tokenizer files rebuilt from
//! the GGUF metadata, byte for byte the ones transformers read in
//! `fixtures/smollm2/make_merged_fixture.py`; webtune reopens the folder and tokenizes, renders
//! the chat template, names the generation ids, computes logits and answers as transformers did.

use sha2::{Digest, Sha256};
use webtune::ComputeDevice;
use webtune::burn::module::Module;
use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::flow::Flow;
use webtune::io::MemorySource;
use webtune::models::CausalLm;
use webtune::numerics::{Tolerance, compare};
use webtune::platform::{FileSource, block_on};
use webtune::session::{ExportKind, GenerateOptions, OpenOptions, Purpose, Session};
use webtune::tokenizer::Message;
use webtune_tests::{SMOLLM2_GGUF, model_path};

const REFERENCE: &str = include_str!("../fixtures/smollm2/merged_reference.json");
const ADAPTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/smollm2/merged_adapter"
);

fn options(purpose: Purpose) -> OpenOptions {
    OpenOptions {
        quantize: false,
        precision: None,
        purpose,
    }
}

/// `webtune merge`'s files for the GGUF base and the fixture adapter.
fn merged_files() -> Vec<(String, Vec<u8>)> {
    let mut session = Session::new(ComputeDevice::cpu());
    let gguf = FileSource::open(model_path(SMOLLM2_GGUF)).unwrap();
    block_on(session.open_model(SMOLLM2_GGUF, vec![gguf], &options(Purpose::Write))).unwrap();
    let config = std::fs::read(format!("{ADAPTER}/adapter_config.json")).unwrap();
    let weights = FileSource::open(format!("{ADAPTER}/adapter_model.safetensors")).unwrap();
    let layers = block_on(session.import_adapter(&config, &weights)).unwrap();
    assert_eq!(layers, 30, "the fixture adapts every layer's v_proj");
    block_on(session.export(ExportKind::Merged)).unwrap()
}

fn ids(value: &serde_json::Value) -> Vec<u32> {
    serde_json::from_value(value.clone()).unwrap()
}

#[test]
fn merged_gguf_checkpoint_loads_like_transformers() {
    let reference: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    let files = merged_files();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for (name, want) in reference["sha256"].as_object().unwrap() {
        let (_, bytes) = files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not written (only {names:?})"));
        let got = format!("{:x}", Sha256::digest(bytes));
        assert_eq!(
            got,
            want.as_str().unwrap(),
            "{name} differs from the bytes transformers read: rerun make_merged_fixture.py"
        );
    }

    // The folder alone, opened again: tokenizer, template, generation ids, logits, answer.
    let sources = files
        .into_iter()
        .map(|(name, bytes)| MemorySource::new(name, bytes))
        .collect();
    let mut session = Session::new(ComputeDevice::cpu());
    let open = options(Purpose::Read);
    block_on(session.open_model("merged", sources, &open)).unwrap();
    let (loaded, tokenizer) = session.text_model("be checked").unwrap();
    for text in reference["texts"].as_array().unwrap() {
        let s = text["text"].as_str().unwrap();
        assert_eq!(tokenizer.encode(s).unwrap(), ids(&text["ids"]), "{s:?}");
    }
    for chat in reference["chats"].as_array().unwrap() {
        let messages: Vec<Message> = serde_json::from_value(chat["messages"].clone()).unwrap();
        let rendered = tokenizer.template().render(&messages, true).unwrap();
        assert_eq!(rendered, chat["rendered"].as_str().unwrap());
        assert_eq!(
            tokenizer.encode_chat(&messages).unwrap(),
            ids(&chat["prompt_ids"])
        );
    }
    let generation = &reference["generation_config"];
    let id = |key: &str| generation[key].as_u64().map(|v| v as u32);
    assert_eq!(
        (tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id),
        (id("bos_token_id"), id("eos_token_id"), id("pad_token_id"))
    );

    let prompt = ids(&reference["chats"][0]["prompt_ids"]);
    let device = session.device().clone();
    let input = Tensor::<2, Int>::from_data(
        TensorData::new(
            prompt.iter().map(|&i| i as i32).collect(),
            [1, prompt.len()],
        ),
        device.device(),
    );
    let logits = block_on(webtune::device::read_f32(
        loaded.model.valid().forward(input),
        "logits",
    ))
    .unwrap();
    let rows: Vec<&[f32]> = logits.chunks_exact(loaded.model.vocab_size()).collect();
    let want = &reference["logits"];
    let argmax: Vec<f32> = rows
        .iter()
        .map(|r| webtune_tests::argmax(r) as f32)
        .collect();
    let want_argmax: Vec<f32> = serde_json::from_value(want["argmax"].clone()).unwrap();
    compare("argmax", &argmax, &want_argmax, Tolerance::new(0.0, 0.0)).unwrap();
    let lse: Vec<f32> = rows.iter().map(|r| webtune_tests::logsumexp(r)).collect();
    let want_lse: Vec<f32> = serde_json::from_value(want["logsumexp"].clone()).unwrap();
    let tol = Tolerance::new(1e-3, 0.0);
    let worst = compare("logsumexp", &lse, &want_lse, tol).unwrap();
    let stride = want["stride"].as_u64().unwrap() as usize;
    let last: Vec<f32> = rows[rows.len() - 1]
        .iter()
        .step_by(stride)
        .copied()
        .collect();
    let want_last: Vec<f32> = serde_json::from_value(want["last"].clone()).unwrap();
    let worst = worst.worst(compare("last logits", &last, &want_last, tol).unwrap());
    eprintln!(
        "merged from GGUF, reopened: logits vs transformers max |Δ| {:.1e}",
        worst.max_abs_diff
    );

    let greedy = &reference["greedy"];
    let config = GenerateOptions {
        config: webtune::generate::GenerateConfig {
            max_new_tokens: ids(&greedy["ids"]).len(),
            ..Default::default()
        },
        ..Default::default()
    };
    let question = reference["chats"][0]["messages"][0]["content"]
        .as_str()
        .unwrap();
    let answer = block_on(session.generate(question, &config, |_| Flow::Continue)).unwrap();
    assert_eq!(answer.text.trim(), greedy["text"].as_str().unwrap().trim());
}
