//! Native test tiers. Each test body (from `webtune_tests`) runs once per tier:
//! `cargo test -p webtune-tests --test native cpu::` runs the CPU tier,
//! `… gpu::` the wgpu tier (lavapipe on a machine without a GPU).
//!
//! The GPU tier fails when no adapter exists, so that it cannot pass by not running; set
//! `WEBTUNE_SKIP_GPU=1` to skip it explicitly (it then prints that it skipped).
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod advise;
mod bench;
mod documents;
mod evaluate;
mod export_job;
mod gguf;
mod gguf_export;
mod large;
mod llama;
mod load_errors;
mod lora_export;
mod merged;
mod pairs;
mod plan;
mod preview;
mod retrieval;
mod smollm2;
mod tokenizer;

use webtune::platform::block_on;
use webtune::{ComputeDevice, Tier};

/// The device for `tier`, or `None` when the GPU tier is explicitly skipped.
fn device(tier: Tier) -> Option<ComputeDevice> {
    if tier == Tier::Gpu && std::env::var_os("WEBTUNE_SKIP_GPU").is_some() {
        eprintln!("SKIPPED: GPU tier (WEBTUNE_SKIP_GPU is set)");
        return None;
    }
    match block_on(ComputeDevice::new(tier)) {
        Ok(device) => Some(device),
        Err(err) => panic!("{err} (set WEBTUNE_SKIP_GPU=1 to skip this tier explicitly)"),
    }
}

/// Declares each test once per tier, in modules `cpu` and `gpu`.
macro_rules! tiered_tests {
    ($($name:ident => $body:path;)*) => {
        mod cpu { $( #[test] fn $name() { super::run(webtune::Tier::Cpu, |d| Box::pin($body(d))); } )* }
        mod gpu { $( #[test] fn $name() { super::run(webtune::Tier::Gpu, |d| Box::pin($body(d))); } )* }
    };
}

type BoxedTest<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = webtune::Result<()>> + 'a>>;

fn run(tier: Tier, body: impl for<'a> FnOnce(&'a ComputeDevice) -> BoxedTest<'a>) {
    if let Some(device) = device(tier)
        && let Err(err) = block_on(body(&device))
    {
        panic!("{tier}: {err}");
    }
}

tiered_tests! {
    mlp_matches_reference_and_cpu => webtune_tests::mlp_matches_reference_and_cpu;
    perturbed_gradient_is_caught => webtune_tests::perturbed_gradient_is_caught;
    model_matmuls_match_cpu => webtune_tests::model_matmuls_match_cpu;
    fused_kernels_match_composite => webtune_tests::fused_kernels_match_composite;
    tiny_models_match_transformers => super::tiny_models;
    tiny_tokenizer_matches_transformers => webtune_tests::tiny_tokenizer_matches_transformers;
    lora_gradients_match_peft => super::lora_gradients;
    lora_trajectory_matches_peft => super::lora_trajectory;
    preference_gradients_match_trl => super::preference_gradients;
    preference_trajectory_matches_trl => super::preference_trajectory;
    fresh_adapter_changes_nothing => webtune_tests::fresh_adapter_changes_nothing;
    adapter_for_another_base_is_refused => webtune_tests::adapter_for_another_base_is_refused;
    resume_continues_the_same_trajectory => super::resume;
    merged_equals_unmerged => super::merged;
    full_fine_tuning_matches_pytorch => super::full_fine_tuning;
    full_checkpoint_resumes_across_layouts => super::across_layouts;
    half_fine_tuning_trains_only_its_half => super::half_fine_tuning;
    packed_and_padded_batches_match => super::packing;
    lora_dropout_is_seeded_and_off_in_evaluation => webtune_tests::lora_dropout_is_seeded_and_off_in_evaluation;
    quantized_base_trains_lora => super::quantized_base;
    minilm_matches_sentence_transformers => super::minilm;
    tiny_bert_matches_sentence_transformers => super::tiny_bert;
    kept_adapters_compute_as_alone => webtune_tests::kept_adapters_compute_as_alone;
    bench_counts_launches => super::bench::bench_counts_launches;
}

/// An f16 base on the GPU (lavapipe has `shader-f16`), or `None` where there is no GPU.
fn half_gpu() -> Option<ComputeDevice> {
    let device = device(Tier::Gpu)?;
    Some(block_on(device.with_precision(webtune::device::Precision::F16)).unwrap())
}

/// LoRA and DoRA on an f16 base: 20 AdamW steps follow PEFT's f32 trajectory; the adapters
/// stay f32 and export to PEFT's files exactly; a merged model computes what the adapted one
/// does.
#[test]
fn gpu_f16_lora_trajectory_matches_peft() {
    let Some(half) = half_gpu() else {
        return;
    };
    match block_on(webtune_tests::lora_trajectory_matches_peft(&half)) {
        Ok(worst) => {
            eprintln!("GPU f16: LoRA/DoRA losses vs PEFT (f32): worst relative {worst:.1e}")
        }
        Err(err) => panic!("GPU f16: {err}"),
    }
    // Merging folds the f32 branch into the f16 base.
    if let Err(err) = block_on(merged(&half)) {
        panic!("GPU f16 merge: {err}");
    }
}

/// Checkpoints on an f16 base keep the adapter and AdamW's state in f32: a resumed run repeats
/// the losses. (A test of its own: the two took 6 minutes of lavapipe's launches together, the
/// GPU tier's longest test.)
#[test]
fn gpu_f16_resume_continues_the_same_trajectory() {
    let Some(half) = half_gpu() else {
        return;
    };
    if let Err(err) = block_on(resume(&half)) {
        panic!("GPU f16 resume: {err}");
    }
}

async fn tiny_bert(device: &ComputeDevice) -> webtune::Result<()> {
    let files = webtune_tests::tiny_bert_files();
    let check = webtune_tests::encoder_matches_sentence_transformers(
        &webtune_tests::TINY_BERT,
        files,
        device,
    )
    .await?;
    eprintln!(
        "{}: tiny BERT (CLS pooling) vs sentence-transformers: lowest cosine 1 - {:.1e}",
        device.tier(),
        1.0 - check.worst_cosine
    );
    Ok(())
}

async fn minilm(device: &ComputeDevice) -> webtune::Result<()> {
    let files = webtune::rag::FOLDER_FILES
        .iter()
        .map(|f| {
            let path = webtune_tests::model_path(&format!("{}/{f}", webtune_tests::MINILM_DIR));
            webtune::io::MemorySource::new(*f, std::fs::read(path).unwrap())
        })
        .collect();
    let check = webtune_tests::minilm_matches_sentence_transformers(files, device).await?;
    eprintln!(
        "{}: all-MiniLM-L6-v2 vs sentence-transformers: ids equal, lowest cosine 1 - {:.1e} \
         (load {:.1} s, 12 sentences {:.2} s)",
        device.tier(),
        1.0 - check.worst_cosine,
        check.load_seconds,
        check.embed_seconds
    );
    Ok(())
}

async fn quantized_base(device: &ComputeDevice) -> webtune::Result<()> {
    let (q, d, drift) = webtune_tests::quantized_base_trains_lora(device).await?;
    eprintln!(
        "{}: 4-bit base {q} bytes vs dense {d}; logits vs the f32 model max |Δ| {drift:.1e}; \
         LoRA gradients equal the dequantized twin's",
        device.tier()
    );
    Ok(())
}

async fn across_layouts(device: &ComputeDevice) -> webtune::Result<()> {
    let worst = webtune_tests::full_checkpoint_resumes_across_layouts(device).await?;
    eprintln!(
        "{}: a CPU full fine-tuning checkpoint resumed with a split embedding: worst relative \
         loss difference {worst:.1e}",
        device.tier()
    );
    Ok(())
}

async fn full_fine_tuning(device: &ComputeDevice) -> webtune::Result<()> {
    let grads = webtune_tests::full_gradients_match_pytorch(device).await?;
    let worst = webtune_tests::full_trajectory_matches_pytorch(device).await?;
    eprintln!(
        "{}: full fine-tuning vs PyTorch: gradients max |Δ| {:.1e}, 20 AdamW steps worst \
         relative loss error {worst:.1e}",
        device.tier(),
        grads.max_abs_diff
    );
    Ok(())
}

async fn half_fine_tuning(device: &ComputeDevice) -> webtune::Result<()> {
    let (chosen, all) = webtune_tests::half_fine_tuning_trains_only_its_half(device).await?;
    eprintln!(
        "{}: Half Fine-Tuning trained {chosen} of {all} tensors; the rest bit-identical",
        device.tier()
    );
    Ok(())
}

async fn packing(device: &ComputeDevice) -> webtune::Result<()> {
    let worst = webtune_tests::packed_and_padded_batches_match(device).await?;
    eprintln!(
        "{}: packed/padded vs unpacked gradients: max |Δ| {worst:.1e}",
        device.tier()
    );
    Ok(())
}

async fn lora_gradients(device: &ComputeDevice) -> webtune::Result<()> {
    let agreement = webtune_tests::lora_gradients_match_peft(device).await?;
    eprintln!(
        "{}: LoRA logits and gradients vs PEFT: max |Δ| {:.1e}",
        device.tier(),
        agreement.max_abs_diff
    );
    Ok(())
}

async fn lora_trajectory(device: &ComputeDevice) -> webtune::Result<()> {
    let worst = webtune_tests::lora_trajectory_matches_peft(device).await?;
    eprintln!(
        "{}: 20 AdamW steps vs PEFT: worst relative loss error {worst:.1e}",
        device.tier()
    );
    Ok(())
}

async fn preference_gradients(device: &ComputeDevice) -> webtune::Result<()> {
    let agreement = webtune_tests::preference_gradients_match_trl(device).await?;
    eprintln!(
        "{}: DPO/ORPO losses and gradients vs TRL: max |Δ| {:.1e}",
        device.tier(),
        agreement.max_abs_diff
    );
    Ok(())
}

async fn preference_trajectory(device: &ComputeDevice) -> webtune::Result<()> {
    let worst = webtune_tests::preference_trajectory_matches_trl(device).await?;
    eprintln!(
        "{}: 20 DPO and ORPO steps vs TRL: worst relative loss error {worst:.1e}",
        device.tier()
    );
    Ok(())
}

#[test]
fn preference_pairs_encode_as_trl() {
    webtune_tests::preference_pairs_encode_as_trl();
}

async fn tiny_models(device: &ComputeDevice) -> webtune::Result<()> {
    let agreement = webtune_tests::tiny_models_match_transformers(device).await?;
    eprintln!(
        "{}: tiny checkpoints vs transformers: max |Δ| {:.1e}",
        device.tier(),
        agreement.max_abs_diff
    );
    Ok(())
}

#[test]
fn gpu_adapter_reports_its_limits() {
    let Some(gpu) = device(Tier::Gpu) else { return };
    let adapter = gpu.adapter().expect("the GPU tier has an adapter report");
    eprintln!("{adapter}");
    assert!(!adapter.name.is_empty());
    assert!(adapter.limits.max_storage_buffer_binding_size >= 128 << 20);
    assert!(adapter.limits.max_compute_invocations_per_workgroup >= 256);
    assert!(adapter.limits.max_storage_buffers_per_shader_stage >= 8);
}

async fn resume(device: &ComputeDevice) -> webtune::Result<()> {
    let at = webtune_tests::resume_continues_the_same_trajectory(device).await?;
    eprintln!(
        "{}: resumed at step {at}: same losses and adapter",
        device.tier()
    );
    Ok(())
}

async fn merged(device: &ComputeDevice) -> webtune::Result<()> {
    webtune_tests::merged_equals_unmerged(device)
        .await
        .map(|_| ())
}
