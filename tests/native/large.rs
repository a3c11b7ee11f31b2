//! A model whose embedding is larger than the GPU's largest storage binding (lavapipe: 128
//! MiB) loads with its vocabulary matrix split, and computes what the CPU tier computes.

use webtune::Tier;
use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::generate::{Flow, GenerateConfig, generate};
use webtune::io::MemorySource;
use webtune::models::{CausalLm, Model, load_checkpoint};
use webtune::numerics::{Tolerance, compare};
use webtune::platform::block_on;
use webtune_tests::gguf_writer::{LlamaShape, llama_gguf};

#[test]
fn gpu_embedding_larger_than_a_binding_is_split() {
    let Some(gpu) = super::device(Tier::Gpu) else {
        return;
    };
    let cpu = webtune::ComputeDevice::cpu();
    // 33,000 × 1,024 × 4 bytes = 135 MB, over lavapipe's 128 MiB.
    let shape = LlamaShape {
        vocab: 33_000,
        hidden: 1024,
        ffn: 64,
        layers: 1,
        heads: 8,
        kv_heads: 2,
    };
    let bytes = llama_gguf(shape, None, None);
    let embedding_bytes = (shape.vocab * shape.hidden * 4) as u64;
    assert!(
        embedding_bytes > gpu.max_tensor_bytes(),
        "the adapter binds {} bytes: this test needs a smaller limit",
        gpu.max_tensor_bytes()
    );
    let load = |device| {
        let source = MemorySource::new("wide.gguf", bytes.clone());
        block_on(load_checkpoint("wide.gguf", vec![source], device)).unwrap()
    };
    let (on_gpu, on_cpu) = (load(&gpu), load(&cpu));
    let Model::Llama(llama) = &on_gpu.model else {
        panic!("a Llama")
    };
    assert!(
        llama.embed_tokens.chunks.len() >= 2,
        "the embedding was not split"
    );

    let ids = vec![0i32, 32_999, 16_500, 7];
    let logits = |model: &Model, device: &webtune::ComputeDevice| {
        let input =
            Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, 4]), device.device());
        block_on(webtune::device::read_f32(model.forward(input), "logits")).unwrap()
    };
    let agreement = compare(
        "wide logits",
        &logits(&on_gpu.model, &gpu),
        &logits(&on_cpu.model, &cpu),
        Tolerance::new(1e-4, 1e-4),
    )
    .unwrap();
    eprintln!(
        "split embedding ({} pieces): GPU vs CPU max |Δ| {:.1e}",
        llama.embed_tokens.chunks.len(),
        agreement.max_abs_diff
    );
    let prompt = [1u32, 32_998, 5];
    let config = GenerateConfig {
        max_new_tokens: 4,
        ..GenerateConfig::default()
    };
    let run = |model: &Model, device: &webtune::ComputeDevice| {
        block_on(generate(model, device.device(), &prompt, &config, |_| {
            Flow::Continue
        }))
        .unwrap()
    };
    assert_eq!(run(&on_gpu.model, &gpu), run(&on_cpu.model, &cpu));
}
