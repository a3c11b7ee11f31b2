//! A model whose embedding is larger than the GPU device's largest storage binding loads with
//! its vocabulary matrix split, and computes what the CPU tier computes: natively on lavapipe
//! (128 MiB), in the browser on a WebGPU device asked for WebGPU's default 128 MiB.

use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::generate::{Flow, GenerateConfig, generate};
use webtune::io::MemorySource;
use webtune::models::{CausalLm, Model, load_checkpoint};
use webtune::numerics::{Tolerance, compare};
use webtune::{ComputeDevice, Error, Result};

use crate::gguf_writer::{LlamaShape, llama_gguf};

/// What [`embedding_larger_than_a_binding_is_split`] measured.
#[derive(Debug, Clone, Copy)]
pub struct SplitCheck {
    /// The embedding's bytes.
    pub embedding_bytes: u64,
    /// The device's binding limit.
    pub binding: u64,
    /// Pieces the embedding was split into.
    pub pieces: usize,
    /// Largest |GPU − CPU| logit.
    pub max_abs_diff: f64,
}

fn failed(problem: String) -> Error {
    Error::Input { problem }
}

/// Builds a one-layer Llama with a 33,000 × 1,024 f32 embedding (135 MB, over 128 MiB), loads
/// it on `gpu` and on the CPU, and checks that the embedding was split, that the logits agree
/// and that greedy generation gives the same tokens.
pub async fn embedding_larger_than_a_binding_is_split(gpu: &ComputeDevice) -> Result<SplitCheck> {
    let cpu = ComputeDevice::cpu();
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
    if embedding_bytes <= gpu.max_tensor_bytes() {
        return Err(failed(format!(
            "the device binds {} bytes: this test needs a smaller limit",
            gpu.max_tensor_bytes()
        )));
    }
    let on_gpu = load_checkpoint(
        "wide.gguf",
        vec![MemorySource::new("wide.gguf", bytes.clone())],
        gpu,
    )
    .await?;
    let on_cpu = load_checkpoint(
        "wide.gguf",
        vec![MemorySource::new("wide.gguf", bytes)],
        &cpu,
    )
    .await?;
    let Model::Llama(llama) = &on_gpu.model else {
        return Err(failed("not a Llama".into()));
    };
    let pieces = llama.embed_tokens.chunks.len();
    if pieces < 2 {
        return Err(failed("the embedding was not split".into()));
    }
    let ids = vec![0i32, 32_999, 16_500, 7];
    let input = |device: &ComputeDevice| {
        Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, 4]), device.device())
    };
    let on_gpu_logits =
        webtune::device::read_f32(on_gpu.model.forward(input(gpu)), "logits").await?;
    let on_cpu_logits =
        webtune::device::read_f32(on_cpu.model.forward(input(&cpu)), "logits").await?;
    let agreement = compare(
        "wide logits",
        &on_gpu_logits,
        &on_cpu_logits,
        Tolerance::new(1e-4, 1e-4),
    )?;
    let prompt = [1u32, 32_998, 5];
    let config = GenerateConfig {
        max_new_tokens: 4,
        ..GenerateConfig::default()
    };
    let tokens_gpu = generate(&on_gpu.model, gpu.device(), &prompt, &config, |_| {
        Flow::Continue
    })
    .await?;
    let tokens_cpu = generate(&on_cpu.model, cpu.device(), &prompt, &config, |_| {
        Flow::Continue
    })
    .await?;
    if tokens_gpu != tokens_cpu {
        return Err(failed(format!(
            "greedy tokens differ: GPU {tokens_gpu:?}, CPU {tokens_cpu:?}"
        )));
    }
    Ok(SplitCheck {
        embedding_bytes,
        binding: gpu.max_tensor_bytes(),
        pieces,
        max_abs_diff: f64::from(agreement.max_abs_diff),
    })
}
