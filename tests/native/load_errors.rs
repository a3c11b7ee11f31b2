//! Loading a model from a broken checkpoint fails with an error that names the file and the
//! tensor or key; a sound tiny checkpoint loads and runs.

use webtune::io::MemorySource;
use webtune::io::gguf::GgufFile;
use webtune::models::CausalLm;
use webtune::models::llama::load_gguf;
use webtune::platform::block_on;
use webtune::{ComputeDevice, Error};
use webtune_tests::gguf_writer::tiny_llama;

fn load(bytes: Vec<u8>) -> webtune::Result<webtune::models::llama::Llama> {
    let source = MemorySource::new("tiny-llama.gguf", bytes);
    let file = block_on(GgufFile::open(&source))?;
    block_on(load_gguf(&file, &source, ComputeDevice::cpu().device())).map(|(_, m)| m)
}

#[test]
fn a_sound_tiny_llama_loads_and_runs() {
    use webtune::burn::tensor::{Int, Tensor, TensorData};
    let model = load(tiny_llama(None, None, 2)).unwrap();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(vec![1i32, 5, 7], [1, 3]),
        ComputeDevice::cpu().device(),
    );
    assert_eq!(model.forward(ids).dims(), [1, 3, 16]);
}

#[test]
fn a_missing_tensor_is_named() {
    let err = load(tiny_llama(Some("blk.1.ffn_up.weight"), None, 2)).unwrap_err();
    assert!(matches!(err, Error::Gguf { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "tiny-llama.gguf: tensor `blk.1.ffn_up.weight` is missing"
    );
}

#[test]
fn a_wrong_shape_is_named() {
    let err = load(tiny_llama(
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
fn a_config_with_zero_heads_is_refused() {
    let err = load(tiny_llama(None, None, 0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tiny-llama.gguf: the llama.* metadata describe an impossible model: \
         num_attention_heads is 0"
    );
}
