//! Loading a model from a broken checkpoint fails with a typed error that names the file and
//! the tensor or key, and never panics; a sound tiny checkpoint loads and runs.

use webtune::io::MemorySource;
use webtune::models::{CausalLm, Loaded, Model, load_checkpoint};
use webtune::platform::block_on;
use webtune::{ComputeDevice, Error};
use webtune_tests::gguf_writer::{Meta, llama_writer, tiny_llama, tiny_shape};
use webtune_tests::tiny_files;

fn load_gguf(bytes: Vec<u8>) -> webtune::Result<Model> {
    let source = MemorySource::new("tiny-llama.gguf", bytes);
    block_on(load_checkpoint(
        "tiny-llama.gguf",
        vec![source],
        &ComputeDevice::cpu(),
    ))
    .map(|loaded| loaded.model)
}

fn load(name: &str, files: Vec<MemorySource>) -> webtune::Result<Loaded> {
    block_on(load_checkpoint(name, files, &ComputeDevice::cpu()))
}

/// The tiny Llama folder with `path`'s bytes replaced by `edit(bytes)` (or the file dropped
/// when it returns `None`).
fn edited(path: &str, edit: impl Fn(Vec<u8>) -> Option<Vec<u8>>) -> Vec<MemorySource> {
    use webtune::io::ByteSource;
    tiny_files("llama")
        .into_iter()
        .filter_map(|f| {
            if f.name() != path {
                return Some(f);
            }
            let bytes = block_on(f.read(0, f.len() as usize)).unwrap();
            edit(bytes).map(|b| MemorySource::new(path, b))
        })
        .collect()
}

fn json_edit(from: &str, to: &str) -> impl Fn(Vec<u8>) -> Option<Vec<u8>> {
    let (from, to) = (from.to_string(), to.to_string());
    move |bytes| {
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(&from), "{from} not in the file");
        Some(text.replace(&from, &to).into_bytes())
    }
}

#[test]
fn a_sound_tiny_llama_loads_and_runs() {
    use webtune::burn::tensor::{Int, Tensor, TensorData};
    let model = load_gguf(tiny_llama(None, None, 2)).unwrap();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(vec![1i32, 5, 7], [1, 3]),
        ComputeDevice::cpu().device(),
    );
    assert_eq!(model.forward(ids).dims(), [1, 3, 16]);
}

#[test]
fn a_missing_gguf_tensor_is_named() {
    let err = load_gguf(tiny_llama(Some("blk.1.ffn_up.weight"), None, 2)).unwrap_err();
    assert!(matches!(err, Error::MissingTensor { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "tiny-llama.gguf: tensor `blk.1.ffn_up.weight` is missing"
    );
}

#[test]
fn a_wrong_gguf_shape_is_named() {
    let err = load_gguf(tiny_llama(
        None,
        Some(("blk.0.attn_k.weight", vec![8, 8])),
        2,
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tiny-llama.gguf: tensor `blk.0.attn_k.weight` has an invalid shape: [8, 8], \
         but the config implies [4, 8]"
    );
}

#[test]
fn a_gguf_config_with_zero_heads_is_refused() {
    let err = load_gguf(tiny_llama(None, None, 0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tiny-llama.gguf: the llama.* metadata describe an impossible model: \
         num_attention_heads is 0"
    );
}

#[test]
fn a_config_json_with_zero_heads_is_refused() {
    let files = edited(
        "llama/config.json",
        json_edit("\"num_attention_heads\": 4", "\"num_attention_heads\": 0"),
    );
    let err = load("llama", files).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "llama/config.json: describes an impossible model: num_attention_heads is 0"
    );
}

#[test]
fn an_unknown_model_type_is_named() {
    let files = edited(
        "llama/config.json",
        json_edit("\"model_type\": \"llama\"", "\"model_type\": \"mamba\""),
    );
    let err = load("llama", files).unwrap_err().to_string();
    assert!(
        err.starts_with("llama/config.json: `model_type` \"mamba\" is not supported"),
        "{err}"
    );
}

#[test]
fn a_wrong_safetensors_shape_is_named() {
    // Claim 64 layers' worth of intermediate width: the MLP weights no longer fit the config.
    let files = edited(
        "llama/config.json",
        json_edit("\"intermediate_size\": 64", "\"intermediate_size\": 48"),
    );
    let err = load("llama", files).unwrap_err();
    assert!(matches!(err, Error::TensorShape { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(".safetensors: tensor `model.layers.0.mlp.") && text.contains("[64, 32]"),
        "{text}"
    );
}

#[test]
fn a_missing_shard_is_named() {
    let files = edited("llama/model-00003-of-00004.safetensors", |_| None);
    let err = load("llama", files).unwrap_err().to_string();
    assert_eq!(
        err,
        "llama: the index lists shard model-00003-of-00004.safetensors, which is missing"
    );
}

#[test]
fn a_truncated_safetensors_shard_is_refused() {
    let files = edited("llama/model-00002-of-00004.safetensors", |b| {
        Some(b[..b.len() - 100].to_vec())
    });
    let err = load("llama", files).unwrap_err();
    assert!(matches!(err, Error::Safetensors { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("llama/model-00002-of-00004.safetensors: tensor `"),
        "{text}"
    );
    assert!(text.contains("outside"), "{text}");
}

#[test]
fn a_safetensors_header_past_the_end_is_refused() {
    let files = edited("llama/model-00001-of-00004.safetensors", |mut b| {
        b[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        Some(b)
    });
    let err = load("llama", files).unwrap_err().to_string();
    assert!(
        err.contains("the header claims 1099511627776 bytes"),
        "{err}"
    );
}

#[test]
fn a_missing_safetensors_tensor_is_named() {
    let files = edited(
        "llama/config.json",
        json_edit(
            "\"tie_word_embeddings\": false",
            "\"tie_word_embeddings\": false, \"num_hidden_layers\": 3",
        ),
    );
    // num_hidden_layers now appears twice; serde_json keeps the last one (3).
    let err = load("llama", files).unwrap_err();
    assert_eq!(
        err.to_string(),
        "llama: tensor `model.layers.2.input_layernorm.weight` is missing"
    );
}

#[test]
fn pickles_are_refused_with_the_reason() {
    let pickle = MemorySource::new("gpt2/pytorch_model.bin", b"\x80\x02}q\x00.".to_vec());
    let err = load("pytorch_model.bin", vec![pickle.clone()]).unwrap_err();
    assert!(matches!(err, Error::Pickle { .. }), "{err:?}");
    // A folder with config.json but only pickled weights.
    let mut files: Vec<MemorySource> = tiny_files("gpt2")
        .into_iter()
        .filter(|f| webtune::io::ByteSource::name(f).ends_with("config.json"))
        .collect();
    files.push(pickle);
    let err = load("gpt2", files).unwrap_err();
    assert!(matches!(err, Error::Pickle { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("gpt2/pytorch_model.bin is a PyTorch pickle"),
        "{text}"
    );
    assert!(
        text.contains("arbitrary code") && text.contains("safetensors"),
        "{text}"
    );
    // Where safetensors belong (an adapter's, an encoder's or a checkpoint's weights): named
    // as a pickle, not as a header of 10^18 bytes.
    for bytes in [
        b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01u.".to_vec(),
        b"PK\x03\x04\x14\x00\x00\x00\x00\x00archive/data.pkl".to_vec(),
    ] {
        let source = MemorySource::new("adapter_model.safetensors", bytes);
        let err = block_on(webtune::io::safetensors::SafetensorsFile::open(&source)).unwrap_err();
        assert!(matches!(err, Error::Pickle { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("adapter_model.safetensors is a PyTorch pickle")
        );
    }
}

#[test]
fn unknown_and_empty_inputs_are_refused() {
    let err = load(
        "notes.txt",
        vec![MemorySource::new("notes.txt", b"hello".to_vec())],
    );
    assert!(err.unwrap_err().to_string().contains("neither a GGUF file"));
    let err = load("empty", Vec::new()).unwrap_err().to_string();
    assert_eq!(err, "empty: has no config.json and no GGUF file");
}

/// The tiny Llama GGUF with metadata `key` set to `value`.
fn tiny_with(key: &str, value: Meta) -> Vec<u8> {
    llama_writer(tiny_shape(2), None, None)
        .meta(key, value)
        .build()
}

#[test]
fn deeply_nested_gguf_arrays_are_refused() {
    // 200,000 arrays, each holding the next: one call per level would overflow the stack.
    let depth = 200_000;
    let mut value = Vec::new();
    for _ in 0..depth {
        value.extend(9u32.to_le_bytes());
        value.extend(1u64.to_le_bytes());
    }
    value.extend(4u32.to_le_bytes());
    value.extend(0u64.to_le_bytes());
    let err = load_gguf(tiny_with(
        "general.nested",
        Meta::Raw(9, value[..].to_vec()),
    ))
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "tiny-llama.gguf: metadata key `general.nested` nests arrays more than 8 deep"
    );
}

#[test]
fn a_gguf_with_duplicate_metadata_keys_is_refused() {
    let mut bytes = llama_writer(tiny_shape(2), None, None)
        .meta("general.name", Meta::Str("a".into()))
        .meta("general.namf", Meta::Str("b".into()))
        .build();
    // Rename the second key to the first, keeping every length.
    let at = bytes
        .windows(12)
        .position(|w| w == b"general.namf")
        .unwrap();
    bytes[at + 11] = b'e';
    let err = load_gguf(bytes).unwrap_err().to_string();
    assert_eq!(
        err,
        "tiny-llama.gguf: metadata key `general.name` appears twice"
    );
}

#[test]
fn layer_counts_beyond_the_file_are_refused_before_allocating() {
    for count in [u64::from(u32::MAX), 1 << 40] {
        let err = load_gguf(tiny_with("llama.block_count", Meta::U64(count)))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tiny-llama.gguf: "), "{err}");
        assert!(err.contains(&count.to_string()), "{err}");
    }
    let files = edited(
        "llama/config.json",
        json_edit(
            "\"num_hidden_layers\": 2",
            "\"num_hidden_layers\": 1000000000000",
        ),
    );
    let err = load("llama", files).unwrap_err().to_string();
    assert!(err.contains("1000000000000"), "{err}");
}

#[test]
fn sizes_beyond_the_file_are_refused_before_allocating() {
    for (key, value) in [
        ("llama.embedding_length", 1u64 << 40),
        ("llama.feed_forward_length", 1 << 40),
        ("llama.vocab_size", 1 << 40),
        ("llama.attention.head_count", 1 << 40),
    ] {
        let err = load_gguf(tiny_with(key, Meta::U64(value)))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tiny-llama.gguf: "), "{key}: {err}");
    }
}

/// The tiny BERT encoder's folder with `config.json`'s `from` replaced by `to`.
fn bert_with(from: &str, to: &str) -> webtune::Result<webtune::rag::SentenceEncoder> {
    use webtune::io::ByteSource;
    let files = webtune_tests::tiny_bert_files()
        .into_iter()
        .map(|f| match f.name() {
            "config.json" => {
                let bytes = block_on(f.read(0, f.len() as usize)).unwrap();
                MemorySource::new("config.json", json_edit(from, to)(bytes).unwrap())
            }
            _ => f,
        })
        .collect();
    block_on(webtune::rag::SentenceEncoder::load(
        "tiny_bert",
        files,
        &ComputeDevice::cpu(),
    ))
}

#[test]
fn impossible_encoder_configs_are_refused() {
    for positions in ["0", "1"] {
        let err = bert_with(
            "\"max_position_embeddings\": 64",
            &format!("\"max_position_embeddings\": {positions}"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains(&format!("max_position_embeddings is {positions}")),
            "{err}"
        );
    }
    let err = bert_with(
        "\"num_hidden_layers\": 2",
        "\"num_hidden_layers\": 1000000000000",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("num_hidden_layers 1000000000000"), "{err}");
}

#[test]
fn non_finite_weights_are_named_by_file_and_tensor() {
    let bytes = llama_writer(tiny_shape(2), None, None)
        .set_value("blk.1.ffn_up.weight", 5, f32::NAN)
        .set_value("blk.1.ffn_up.weight", 7, f32::INFINITY)
        .build();
    let err = load_gguf(bytes).unwrap_err();
    assert_eq!(err.kind(), "non_finite");
    assert_eq!(
        err.to_string(),
        "tiny-llama.gguf: tensor `blk.1.ffn_up.weight` holds 2 NaN or infinite values (the \
         first at index 5): the file is damaged, or was saved from a run that diverged"
    );

    // A safetensors shard: the first tensor's first value made NaN.
    let shard = "llama/model-00001-of-00004.safetensors";
    let files = edited(shard, |mut b| {
        let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
        let (name, entry) = header
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| *k != "__metadata__")
            .unwrap();
        assert_eq!(entry["dtype"], "F32", "{name}");
        let at = 8 + n + entry["data_offsets"][0].as_u64().unwrap() as usize;
        b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        Some(b)
    });
    let err = load("llama", files).unwrap_err();
    assert_eq!(err.kind(), "non_finite");
    assert!(
        err.to_string().starts_with(&format!("{shard}: tensor `")),
        "{err}"
    );
}
