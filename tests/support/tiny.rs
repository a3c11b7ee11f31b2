//! The tiny random Hugging Face checkpoints of `fixtures/tiny/` (made by its
//! `make_fixture.py` with transformers), embedded so that every tier, the browser included,
//! loads them from bytes, and the checks that they compute what transformers computes.

use webtune::generate::{Flow, GenerateConfig, generate};
use webtune::io::MemorySource;
use webtune::models::{CausalLm, Loaded, Model, Placement, load_checkpoint, load_checkpoint_to};
use webtune::numerics::{Agreement, Tolerance, compare};
use webtune::{ComputeDevice, Result, Tier};

macro_rules! fixture {
    ($($path:literal),* $(,)?) => {
        vec![$(MemorySource::new($path, include_bytes!(concat!("../fixtures/tiny/", $path)).to_vec())),*]
    };
}

/// transformers' outputs for the tiny checkpoints.
pub const TINY_REFERENCE_JSON: &str = include_str!("../fixtures/tiny/reference.json");

/// The files of tiny checkpoint `name` (`llama`, `qwen2`, `gpt2`, `qwen2.gguf`, `gpt2.gguf`).
pub fn tiny_files(name: &str) -> Vec<MemorySource> {
    match name {
        "llama" => fixture![
            "llama/config.json",
            "llama/generation_config.json",
            "llama/model.safetensors.index.json",
            "llama/model-00001-of-00004.safetensors",
            "llama/model-00002-of-00004.safetensors",
            "llama/model-00003-of-00004.safetensors",
            "llama/model-00004-of-00004.safetensors",
            "llama/tokenizer.json",
            "llama/tokenizer_config.json",
            "llama/chat_template.jinja",
        ],
        "qwen2" => fixture!["qwen2/config.json", "qwen2/model.safetensors"],
        "gpt2" => fixture!["gpt2/config.json", "gpt2/model.safetensors"],
        "qwen2.gguf" => fixture!["qwen2.gguf"],
        "gpt2.gguf" => fixture!["gpt2.gguf"],
        other => panic!("no tiny fixture {other}"),
    }
}

/// The tiny checkpoints and the reference entry each must match.
pub const TINY_CHECKPOINTS: [(&str, &str); 5] = [
    ("llama", "llama"),
    ("qwen2", "qwen2"),
    ("gpt2", "gpt2"),
    ("qwen2.gguf", "qwen2"),
    ("gpt2.gguf", "gpt2"),
];

/// How closely the tiny models must match transformers (issue #3: 1e-4 on the CPU backend).
pub fn tiny_tolerance(tier: Tier) -> Tolerance {
    match tier {
        Tier::Cpu => Tolerance::new(1e-4, 0.0),
        Tier::Gpu => Tolerance::new(1e-3, 0.0),
    }
}

/// Loads tiny checkpoint `name` onto `device`.
pub async fn load_tiny(name: &str, device: &ComputeDevice) -> Result<Loaded> {
    load_checkpoint(name, tiny_files(name), device).await
}

/// Every tiny checkpoint loads (safetensors single and sharded, f32 and f16; GGUF for Qwen2
/// and GPT-2) and matches transformers: full logits, the greedy continuation through the KV
/// cache, and per-token losses. Each is loaded twice: as the device allows, and with its
/// vocabulary matrices split into 4 KiB pieces (as a model whose embedding exceeds the
/// device's storage binding is). Returns the worst logits agreement.
pub async fn tiny_models_match_transformers(device: &ComputeDevice) -> Result<Agreement> {
    tiny_models_match_transformers_as(device, true).await
}

/// The same, loaded once as the device allows and, with `split`, again in 4 KiB pieces (the
/// browser tier leaves that out: two other WebGPU tests load split matrices).
pub async fn tiny_models_match_transformers_as(
    device: &ComputeDevice,
    split: bool,
) -> Result<Agreement> {
    let mut worst = Agreement::default();
    let placements = [
        Some(Placement::of(device)),
        split.then(|| Placement::of(device).with_max_tensor_bytes(4096)),
    ];
    for placement in placements.into_iter().flatten() {
        worst = worst.worst(tiny_models_match_on(device.tier(), &placement).await?);
    }
    Ok(worst)
}

async fn tiny_models_match_on(tier: Tier, placement: &Placement) -> Result<Agreement> {
    use webtune::burn::tensor::{Int, Tensor, TensorData};

    let reference: serde_json::Value = serde_json::from_str(TINY_REFERENCE_JSON).unwrap();
    let tol = tiny_tolerance(tier);
    let device = &placement.device;
    let mut worst = Agreement::default();
    for (name, family) in TINY_CHECKPOINTS {
        let loaded = load_checkpoint_to(name, tiny_files(name), placement).await?;
        assert_eq!(loaded.architecture().name(), family, "{name}");
        let pieces = match &loaded.model {
            Model::Llama(m) => m.embed_tokens.chunks.len(),
            Model::Gpt2(m) => m.wte.chunks.len(),
        };
        // 320 rows × 32 columns × 4 bytes: one piece, or ten of 4 KiB.
        let want_pieces = if placement.max_tensor_bytes <= 4096 {
            10
        } else {
            1
        };
        assert_eq!(pieces, want_pieces, "{name}: embedding pieces");
        let model = &loaded.model;
        let want = &reference[family];
        let ids: Vec<u32> = serde_json::from_value(want["ids"].clone()).unwrap();
        let logits_want: Vec<Vec<f32>> = serde_json::from_value(want["logits"].clone()).unwrap();
        let seq = ids.len();
        let input: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
        let input = Tensor::<2, Int>::from_data(TensorData::new(input, [1, seq]), device);
        let got = webtune::device::read_f32(model.forward(input), "logits").await?;
        let flat: Vec<f32> = logits_want.concat();
        worst = worst.worst(compare(&format!("{name} logits"), &got, &flat, tol)?);

        let greedy: Vec<u32> = serde_json::from_value(want["greedy"].clone()).unwrap();
        let config = GenerateConfig {
            max_new_tokens: greedy.len(),
            ..GenerateConfig::default()
        };
        let new = generate(model, device, &ids, &config, |_| Flow::Continue).await?;
        assert_eq!(
            new, greedy,
            "{name}: greedy tokens differ from transformers'"
        );

        // Per-token loss: -log_softmax(reference logits)[next id].
        let losses_want: Vec<f32> = logits_want[..seq - 1]
            .iter()
            .zip(&ids[1..])
            .map(|(row, &next)| {
                let max = row.iter().fold(f32::MIN, |m, &v| m.max(v));
                let lse = max + row.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
                lse - row[next as usize]
            })
            .collect();
        let scores = webtune::eval::score(model, device, &ids).await?;
        compare(&format!("{name} losses"), &scores.losses, &losses_want, tol)?;
    }
    Ok(worst)
}

/// The tiny Llama folder's `tokenizer.json` encodes and decodes like transformers, and its
/// chat template (`chat_template.jinja`) renders and encodes like `apply_chat_template`.
pub async fn tiny_tokenizer_matches_transformers(device: &ComputeDevice) -> Result<()> {
    use webtune::tokenizer::Message;

    let reference: serde_json::Value = serde_json::from_str(TINY_REFERENCE_JSON).unwrap();
    let loaded = load_tiny("llama", device).await?;
    let tokenizer = loaded.tokenizer.expect("the tiny Llama has tokenizer.json");
    for case in reference["tokenizer"]["texts"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let ids = tokenizer.encode(text)?;
        assert_eq!(ids, want, "ids of {text:?}");
        assert_eq!(
            tokenizer.decode(&ids, false)?,
            case["decoded"].as_str().unwrap()
        );
    }
    let chat = &reference["tokenizer"]["chat"];
    let messages: Vec<Message> = serde_json::from_value(chat["messages"].clone()).unwrap();
    let template = tokenizer
        .chat_template
        .as_ref()
        .expect("chat_template.jinja");
    assert_eq!(
        template.render(&messages, true)?,
        chat["rendered"].as_str().unwrap()
    );
    let want: Vec<u32> = serde_json::from_value(chat["ids"].clone()).unwrap();
    assert_eq!(tokenizer.encode_chat(&messages)?, want);
    assert_eq!((tokenizer.bos_id, tokenizer.eos_id), (Some(1), Some(2)));
    assert_eq!(loaded.stop_ids, vec![2]);

    // Training encoding: the conversation plus an answer renders through the same template,
    // begins with transformers' prompt ids, and only the assistant turns are trained.
    let mut conversation = messages.clone();
    conversation.push(Message::new("assistant", "Yes."));
    let example = webtune::data::Example::Chat(conversation);
    let options = webtune::data::EncodeOptions::default();
    let encoded = webtune::data::encode(&tokenizer, &example, 1, &options)?;
    assert_eq!(encoded.ids[..want.len()], want[..], "prompt ids");
    let trained: Vec<u32> = encoded
        .labels
        .iter()
        .filter(|&&l| l >= 0)
        .map(|&l| l as u32)
        .collect();
    assert_eq!(tokenizer.decode(&trained, false)?, "Hi.</s>\nYes.</s>\n");
    Ok(())
}
