//! The real default model on each native tier against transformers' logits.

use webtune::Tier;
use webtune::io::gguf::GgufFile;
use webtune::models::{Model, Placement};
use webtune::platform::FileSource;
use webtune::platform::block_on;
use webtune_tests::{
    SMOLLM2_GGUF, llama_greedy_matches_transformers, llama_logits_match_transformers, model_path,
};

fn check(tier: Tier) {
    let Some(device) = super::device(tier) else {
        return;
    };
    check_on(&device, true);
}

/// The logits and greedy checks on `device`; with `quantized`, again with the 4-bit base.
fn check_on(device: &webtune::ComputeDevice, quantized: bool) {
    let (device, tier) = (
        device.clone(),
        format!("{} {}", device.tier(), device.precision()),
    );
    let source = FileSource::open(model_path(SMOLLM2_GGUF)).unwrap();
    let file = block_on(GgufFile::open(&source)).unwrap();
    let start = std::time::Instant::now();
    let (config, model) =
        block_on(Model::load_gguf(&file, &source, &Placement::of(&device))).unwrap();
    eprintln!("{tier}: loaded {config:?} in {:.1?}", start.elapsed());
    let start = std::time::Instant::now();
    match block_on(llama_logits_match_transformers(&model, &device)) {
        Ok(agreement) => eprintln!(
            "{tier}: logits vs transformers: max |Δ| {:.1e}; forward passes in {:.1?}",
            agreement.max_abs_diff,
            start.elapsed()
        ),
        Err(err) => panic!("{tier}: {err}"),
    }
    let start = std::time::Instant::now();
    if let Err(err) = block_on(llama_greedy_matches_transformers(&model, &device)) {
        panic!("{tier}: {err}");
    }
    eprintln!("{tier}: greedy generation in {:.1?}", start.elapsed());
    if !quantized {
        return;
    }

    // Kept in 4-bit blocks on the device (QLoRA-style): the Q4_1 blocks come back, so the
    // numbers stay transformers'.
    let (_, quantized) = block_on(Model::load_gguf(
        &file,
        &source,
        &Placement::of(&device).quantized(),
    ))
    .unwrap();
    let bytes = |m: &Model| -> usize {
        use webtune::models::LinearLayers;
        m.linear_layers()
            .iter()
            .map(|(_, l)| l.weight.bytes())
            .sum()
    };
    match block_on(llama_logits_match_transformers(&quantized, &device)) {
        Ok(agreement) => eprintln!(
            "{tier}: 4-bit base ({} MiB of projections instead of {} MiB) vs transformers: max \
             |Δ| {:.1e}",
            bytes(&quantized) >> 20,
            bytes(&model) >> 20,
            agreement.max_abs_diff
        ),
        Err(err) => panic!("{tier} quantized: {err}"),
    }
}

#[test]
fn cpu_smollm2_matches_transformers() {
    check(Tier::Cpu);
}

#[test]
fn gpu_smollm2_matches_transformers() {
    check(Tier::Gpu);
}

/// SmolLM2 in f16 on an adapter with `shader-f16` (lavapipe has it; SwiftShader does not):
/// the same checks, within f16's tolerance.
#[test]
fn gpu_f16_smollm2_matches_transformers() {
    let Some(device) = super::device(Tier::Gpu) else {
        return;
    };
    assert!(device.supports_f16(), "this adapter has no shader-f16");
    let half = block_on(device.with_precision(webtune::device::Precision::F16)).unwrap();
    eprintln!(
        "transformers' own f16 logits vs its f32 ones: max |Δ| {:.1e}",
        webtune_tests::transformers_f16_deviation()
    );
    check_on(&half, false);
}
