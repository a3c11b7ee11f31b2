//! Browser tier: the shared test bodies in headless Chromium, on WebGPU (SwiftShader) and on
//! the CPU backend compiled to wasm. Run through `wasm-bindgen-test-runner` (see
//! tests/README.md); without `--enable-unsafe-webgpu` in `tests/webdriver.json` the WebGPU
//! tests fail with "webgpu found no adapters", which is how we know they ran on WebGPU.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod big;
mod hostile;
mod rag_api;

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use webtune::ComputeDevice;

wasm_bindgen_test_configure!(run_in_browser);

/// The WebGPU device every browser test uses: asked for WebGPU's default storage binding (128
/// MiB), as a page gets without asking for more, whatever the adapter allows (SwiftShader: 1
/// GiB), so that the tests run within the limits most pages see and the split path is real.
pub(crate) async fn webgpu() -> ComputeDevice {
    match ComputeDevice::gpu_with_binding_limit(WEBGPU_DEFAULT_BINDING).await {
        Ok(device) => device,
        Err(err) => panic!("{err} (is Chromium running with --enable-unsafe-webgpu?)"),
    }
}

/// WebGPU's default `maxStorageBufferBindingSize`.
const WEBGPU_DEFAULT_BINDING: u64 = 128 << 20;

#[wasm_bindgen_test]
async fn webgpu_adapter_is_the_browsers() {
    let gpu = webgpu().await;
    let adapter = gpu.adapter().expect("the GPU tier has an adapter report");
    wasm_bindgen_test::console_log!("browser adapter:\n{adapter}");
    assert_eq!(adapter.backend, "browserwebgpu", "{adapter}");
    assert!(
        !adapter.name.is_empty(),
        "GPUAdapter.info gave no name:\n{adapter}"
    );
    assert!(adapter.limits.max_compute_invocations_per_workgroup >= 256);
}

/// Left to choose, the engine sees that the browser's WebGPU is SwiftShader (a software
/// renderer) and takes the CPU tier, saying why; asked for the GPU, it takes WebGPU anyway.
/// Timed, SwiftShader computes the engine's test products slower than the tab's CPU tier.
#[wasm_bindgen_test]
async fn engine_leaves_a_software_webgpu_for_the_cpu() {
    webgpu().await;
    api::engine_chooses_its_tier().await;
}

#[wasm_bindgen_test]
async fn webgpu_mlp_matches_reference_and_cpu() {
    let gpu = webgpu().await;
    if let Err(err) = webtune_tests::mlp_matches_reference_and_cpu(&gpu).await {
        panic!("WebGPU: {err}");
    }
}

#[wasm_bindgen_test]
async fn webgpu_perturbed_gradient_is_caught() {
    let gpu = webgpu().await;
    webtune_tests::perturbed_gradient_is_caught(&gpu)
        .await
        .expect("self-check runs");
}

/// Tiny Llama (sharded safetensors), Qwen2 (f16 safetensors, GGUF) and GPT-2 (safetensors,
/// GGUF) checkpoints load from bytes and match transformers on WebGPU (unsplit: the native
/// tiers load them split too; here the two large-model tests load split matrices).
#[wasm_bindgen_test]
async fn webgpu_tiny_checkpoints_match_transformers() {
    let gpu = webgpu().await;
    match webtune_tests::tiny_models_match_transformers_as(&gpu, false).await {
        Ok(agreement) => wasm_bindgen_test::console_log!(
            "WebGPU tiny checkpoints vs transformers: max |Δ| {:.1e}",
            agreement.max_abs_diff
        ),
        Err(err) => panic!("WebGPU: {err}"),
    }
}

/// LoRA on WebGPU: PEFT's adapter gives PEFT's logits and gradients, and the first 5 of PEFT's
/// 20 AdamW steps (warmup and the start of cosine decay) follow its losses (the native tiers
/// take all 20).
#[wasm_bindgen_test]
async fn webgpu_lora_matches_peft() {
    let gpu = webgpu().await;
    match webtune_tests::lora_gradients_match_peft(&gpu).await {
        Ok(agreement) => wasm_bindgen_test::console_log!(
            "WebGPU LoRA gradients vs PEFT: max |Δ| {:.1e}",
            agreement.max_abs_diff
        ),
        Err(err) => panic!("WebGPU gradients: {err}"),
    }
    match webtune_tests::lora_trajectory_matches_peft_for(&gpu, 5).await {
        Ok(worst) => wasm_bindgen_test::console_log!(
            "WebGPU 5 AdamW steps vs PEFT: worst relative loss error {worst:.1e}"
        ),
        Err(err) => panic!("WebGPU trajectory: {err}"),
    }
}

/// DPO and ORPO on WebGPU: TRL's losses, rewards and adapter gradients on one batch, and
/// TRL's 20-step trajectories (as on the native tiers).
#[wasm_bindgen_test]
async fn webgpu_preference_matches_trl() {
    let gpu = webgpu().await;
    match webtune_tests::preference_gradients_match_trl(&gpu).await {
        Ok(agreement) => wasm_bindgen_test::console_log!(
            "WebGPU DPO/ORPO losses and gradients vs TRL: max |Δ| {:.1e}",
            agreement.max_abs_diff
        ),
        Err(err) => panic!("WebGPU preference gradients: {err}"),
    }
    match webtune_tests::preference_trajectory_matches_trl(&gpu).await {
        Ok(worst) => wasm_bindgen_test::console_log!(
            "WebGPU 20 DPO and ORPO steps vs TRL: worst relative loss error {worst:.1e}"
        ),
        Err(err) => panic!("WebGPU preference trajectory: {err}"),
    }
}

/// The other methods on WebGPU: full fine-tuning's gradients match PyTorch's, Half
/// Fine-Tuning moves exactly its half, packed batches give unpacked gradients, LoRA on a
/// 4-bit base gets its dequantized twin's gradients.
#[wasm_bindgen_test]
async fn webgpu_full_half_and_packing() {
    let gpu = webgpu().await;
    match webtune_tests::full_gradients_match_pytorch(&gpu).await {
        Ok(agreement) => wasm_bindgen_test::console_log!(
            "WebGPU full fine-tuning gradients vs PyTorch: max |Δ| {:.1e}",
            agreement.max_abs_diff
        ),
        Err(err) => panic!("WebGPU full fine-tuning: {err}"),
    }
    match webtune_tests::half_fine_tuning_trains_only_its_half(&gpu).await {
        Ok((chosen, all)) => {
            wasm_bindgen_test::console_log!("WebGPU HFT: trained {chosen} of {all} tensors")
        }
        Err(err) => panic!("WebGPU HFT: {err}"),
    }
    match webtune_tests::packed_and_padded_batches_match(&gpu).await {
        Ok(worst) => {
            wasm_bindgen_test::console_log!("WebGPU packed/padded vs unpacked: {worst:.1e}")
        }
        Err(err) => panic!("WebGPU packing: {err}"),
    }
    match webtune_tests::quantized_base_trains_lora(&gpu).await {
        Ok((q, d, _)) => wasm_bindgen_test::console_log!("WebGPU 4-bit base: {q} of {d} bytes"),
        Err(err) => panic!("WebGPU 4-bit base: {err}"),
    }
}

#[wasm_bindgen_test]
async fn wasm_cpu_tiny_tokenizer_matches_transformers() {
    webtune_tests::tiny_tokenizer_matches_transformers(&ComputeDevice::cpu())
        .await
        .expect("tokenizer.json and chat template load");
}

#[wasm_bindgen_test]
async fn wasm_cpu_mlp_matches_reference() {
    if let Err(err) = webtune_tests::mlp_matches_reference_and_cpu(&ComputeDevice::cpu()).await {
        panic!("CPU in wasm: {err}");
    }
}

#[wasm_bindgen_test]
async fn webgpu_model_matmuls_match_cpu() {
    let gpu = webgpu().await;
    if let Err(err) = webtune_tests::model_matmuls_match_cpu(&gpu).await {
        panic!("WebGPU: {err}");
    }
}

#[wasm_bindgen_test]
fn wasm_cpu_sizes_models_past_4_gib() {
    webtune_tests::sizes_models_past_4_gib();
}

#[wasm_bindgen_test]
async fn webgpu_fused_kernels_match_composite() {
    let gpu = webgpu().await;
    if let Err(err) = webtune_tests::fused_kernels_match_composite(&gpu).await {
        panic!("WebGPU: {err}");
    }
}

/// all-MiniLM-L6-v2 on WebGPU, loaded from bytes: sentence-transformers' ids and embeddings of
/// all 12 sentences (one of 256 tokens among short ones: batches by length keep it alone).
#[wasm_bindgen_test]
async fn webgpu_minilm_matches_sentence_transformers() {
    minilm_matches_sentence_transformers(&webgpu().await).await;
}

/// The same on the CPU backend in wasm: burn-flex's fused attention and webtune's GELU
/// kernel, as the page's documents use them without WebGPU.
#[wasm_bindgen_test]
async fn wasm_cpu_minilm_matches_sentence_transformers() {
    minilm_matches_sentence_transformers(&ComputeDevice::cpu()).await;
}

async fn minilm_matches_sentence_transformers(device: &ComputeDevice) {
    use webtune::io::MemorySource;
    let start = webtune::platform::seconds_now();
    let mut files = Vec::new();
    for f in webtune::rag::FOLDER_FILES {
        let url = format!("/.cache/models/{}/{f}", webtune_tests::MINILM_DIR);
        files.push(MemorySource::new(f, webtune_tests::fetch_bytes(&url).await));
    }
    let minilm = &webtune_tests::MINILM;
    match webtune_tests::encoder_matches_sentence_transformers(minilm, files, device).await {
        Ok(check) => wasm_bindgen_test::console_log!(
            "{}: all-MiniLM-L6-v2 vs sentence-transformers: lowest cosine 1 - {:.1e} \
             (fetch {:.0} s, load {:.0} s, 12 sentences embedded {:.1} s)",
            device.tier(),
            1.0 - check.worst_cosine,
            webtune::platform::seconds_now() - start - check.load_seconds - check.embed_seconds,
            check.load_seconds,
            check.embed_seconds
        ),
        Err(err) => panic!("{} MiniLM: {err}", device.tier()),
    }
}

/// The JavaScript API end to end on WebGPU and the CPU backend (see `api.rs`).
#[wasm_bindgen_test]
async fn js_api_trains_pauses_resumes_and_exports() {
    api::js_api_trains_pauses_resumes_and_exports().await;
}

/// Two adapters kept on one model: each computes what it computes alone, on WebGPU and the
/// CPU backend in wasm.
#[wasm_bindgen_test]
async fn kept_adapters_compute_as_alone() {
    for device in [webgpu().await, ComputeDevice::cpu()] {
        if let Err(err) = webtune_tests::kept_adapters_compute_as_alone(&device).await {
            panic!("{}: {err}", device.tier());
        }
    }
}

/// Several adapters through the JavaScript API (see `api.rs`).
#[wasm_bindgen_test]
async fn js_api_keeps_several_adapters() {
    api::js_api_keeps_several_adapters().await;
}

/// GGUF from the page is the CLI's GGUF (see `api.rs`).
#[wasm_bindgen_test]
async fn js_api_writes_the_clis_gguf() {
    api::js_api_writes_the_clis_gguf("cpu").await;
    api::js_api_writes_the_clis_gguf("gpu").await;
}

/// The training job from the page is the CLI's job (see `api.rs`).
#[wasm_bindgen_test]
async fn js_api_writes_the_clis_job() {
    api::js_api_writes_the_clis_job("cpu").await;
    api::js_api_writes_the_clis_job("gpu").await;
}

/// The hostile-input corpus through the JavaScript API (see `hostile.rs`).
#[wasm_bindgen_test]
async fn hostile_corpus_through_the_js_api() {
    hostile::corpus_through_the_js_api().await;
}

/// Bad input through the JavaScript API: typed errors, no panic.
#[wasm_bindgen_test]
async fn js_api_refuses_bad_input() {
    api::js_api_refuses_bad_input().await;
}

/// Retrieval and the advisor through the JavaScript API (see `rag_api.rs`).
#[wasm_bindgen_test]
async fn js_api_indexes_asks_and_advises() {
    rag_api::js_api_indexes_asks_and_advises().await;
}

/// A model over 2 GB (a 2.2 GB f32 embedding) loads from an OPFS `File` on WebGPU within
/// wasm32's 4 GiB: its vocabulary matrix is read and uploaded piece by piece, so wasm memory
/// grows by a fraction of the model; lookups and logits match the host's values.
#[wasm_bindgen_test]
async fn webgpu_model_over_2_gb_loads_within_wasm_memory() {
    let gpu = webgpu().await;
    let check = big::model_over_2_gb_loads_within_wasm_memory(&gpu).await;
    let growth = check.memory_after.saturating_sub(check.memory_before);
    wasm_bindgen_test::console_log!(
        "{:.2} GB model in {} pieces: wasm memory {} MiB → {} MiB while loading (+{} MiB); \
         written to OPFS in {:.0} s, loaded in {:.0} s, lookups and logits checked in {:.0} s; \
         logits vs host max |Δ| {:.1e}",
        check.file_bytes as f64 / 1e9,
        check.pieces,
        check.memory_before >> 20,
        check.memory_after >> 20,
        growth >> 20,
        check.seconds_write,
        check.seconds_load,
        check.seconds_check,
        check.max_abs_diff
    );
    assert!(
        growth < 1 << 30,
        "loading grew wasm memory by {growth} bytes: not piece by piece"
    );
    assert!(
        check.memory_after < check.file_bytes,
        "wasm memory reached {} bytes, more than the model's {}",
        check.memory_after,
        check.file_bytes
    );
}

#[wasm_bindgen_test]
async fn js_api_gives_the_edges_record() {
    api::js_api_gives_the_edges_record().await;
}
