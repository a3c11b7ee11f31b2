//! The memory planner (`train::plan`): its trainable-parameter count is the model's own after
//! `prepare_model` (LoRA, DoRA, full), its prediction grows with batch and sequence length, and
//! when a run does not fit, it says why and every configuration it suggests fits.

use webtune::ComputeDevice;
use webtune::lora::{LoraConfig, Targets};
use webtune::models::{Placement, load_checkpoint_to};
use webtune::platform::block_on;
use webtune::train::{Method, PlanModel, TrainConfig, params, plan, prepare_model};
use webtune_tests::{load_tiny, tiny_files};

fn config(method: Method, use_dora: bool) -> TrainConfig {
    TrainConfig {
        method,
        lora: LoraConfig {
            r: 4,
            use_dora,
            target_modules: Targets::Names(vec!["q_proj".into(), "down_proj".into()]),
            ..LoraConfig::default()
        },
        ..TrainConfig::default()
    }
}

#[test]
fn cpu_plan_counts_the_trainable_parameters_the_trainer_trains() {
    let cpu = ComputeDevice::cpu();
    for (method, dora) in [
        (Method::Lora, false),
        (Method::Lora, true),
        (Method::Full, false),
    ] {
        let placement = Placement::training(&cpu);
        let mut loaded =
            block_on(load_checkpoint_to("llama", tiny_files("llama"), &placement)).unwrap();
        let config = config(method, dora);
        let planned = plan(&PlanModel::of(&loaded), &config, 16, None, None);
        prepare_model(&mut loaded.model, &config, &cpu.autodiff()).unwrap();
        let actual: usize = params::trainable(&loaded.model)
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(
            planned.trainable_parameters as usize, actual,
            "{method:?} (DoRA {dora})"
        );
        assert!(planned.fits && planned.suggestions.is_empty());
    }
}

#[test]
fn cpu_plan_grows_with_the_run_and_suggests_what_fits() {
    let loaded = block_on(load_tiny("llama", &ComputeDevice::cpu())).unwrap();
    let model = PlanModel::of(&loaded);
    let base = TrainConfig {
        batch_size: 8,
        ..config(Method::Lora, false)
    };
    let at = |batch: usize, seq: usize| {
        let c = TrainConfig {
            batch_size: batch,
            ..base.clone()
        };
        plan(&model, &c, seq, None, None)
    };
    let small = at(1, 64);
    assert!(at(2, 64).total > small.total && at(1, 128).total > small.total);
    assert!(at(1, 128).activations > 2 * small.activations - small.activations / 10);
    assert_eq!(at(1, 64).weights, model.weight_bytes as u64);

    // A budget below the prediction: refused with the reason and what would fit.
    let asked = at(8, 256);
    let budget = asked.total * 2 / 3;
    let refused = plan(&model, &base, 256, Some(budget), None);
    assert!(!refused.fits && refused.problems[0].contains("available"));
    assert!(!refused.suggestions.is_empty(), "{refused:?}");
    for s in &refused.suggestions {
        let again = plan(&model, &s.config, s.seq_len, Some(budget), None);
        assert!(again.fits, "{} does not fit: {again:?}", s.change);
        assert_eq!(again.total, s.total);
    }
    let err = refused.check().unwrap_err();
    assert_eq!(err.kind(), "too_large");
    assert!(err.to_string().contains("These would fit: batch"), "{err}");

    // Attention probabilities over the device's largest binding: a smaller batch fits.
    let limit = asked.largest_tensor / 3;
    let over = plan(&model, &base, 256, None, Some(limit));
    assert!(
        !over.fits && over.problems[0].contains("largest binding"),
        "{over:?}"
    );
    let first = &over.suggestions[0];
    assert!(first.config.batch_size <= 2 && first.config.grad_accumulation >= 4);

    // Nothing fits a budget below the weights.
    let hopeless = plan(
        &model,
        &base,
        256,
        Some(model.weight_bytes as u64 / 2),
        None,
    );
    assert!(!hopeless.fits && hopeless.suggestions.is_empty());
    assert!(
        hopeless
            .check()
            .unwrap_err()
            .to_string()
            .contains("smaller model")
    );
}

#[test]
fn cpu_weight_estimate_is_what_loaded_models_take() {
    let cpu = ComputeDevice::cpu();
    for name in ["llama", "qwen2", "gpt2"] {
        for quantize in [false, true] {
            let placement = match quantize {
                true => Placement::of(&cpu).quantized(),
                false => Placement::of(&cpu),
            };
            let loaded = block_on(load_checkpoint_to(name, tiny_files(name), &placement)).unwrap();
            let actual = PlanModel::of(&loaded).weight_bytes as f64;
            let estimate = loaded.config.weight_bytes(quantize) as f64;
            assert!(
                (estimate - actual).abs() <= actual * 0.02,
                "{name} (4-bit {quantize}): estimated {estimate} bytes, takes {actual}"
            );
        }
    }
}

#[test]
fn cpu_model_over_the_weight_budget_is_refused_before_loading() {
    let cpu = ComputeDevice::cpu();
    let config = block_on(load_tiny("llama", &cpu)).unwrap().config;
    let (full, four_bit) = (config.weight_bytes(false), config.weight_bytes(true));
    let placement = Placement::of(&cpu).with_max_weight_bytes((full + four_bit) / 2);
    let err = block_on(load_checkpoint_to("llama", tiny_files("llama"), &placement)).unwrap_err();
    assert_eq!(err.kind(), "too_large");
    let text = err.to_string();
    assert!(
        text.starts_with("llama: this model's weights need"),
        "{text}"
    );
    assert!(
        text.contains("4-bit blocks"),
        "a 4-bit base would fit: {text}"
    );
    // With the 4-bit option it fits and loads.
    let quantized = placement.quantized();
    block_on(load_checkpoint_to("llama", tiny_files("llama"), &quantized)).unwrap();
}

#[test]
fn cpu_config_of_a_huge_model_is_refused_before_its_tensors_are_read() {
    use webtune::io::MemorySource;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny/llama");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    for (key, value) in [
        ("hidden_size", 4096),
        ("intermediate_size", 14336),
        ("num_hidden_layers", 32),
        ("num_attention_heads", 32),
        ("num_key_value_heads", 8),
        ("head_dim", 128),
        ("vocab_size", 128256),
    ] {
        config[key] = value.into();
    }
    let files = vec![
        MemorySource::new("config.json", serde_json::to_vec(&config).unwrap()),
        MemorySource::new(
            "model.safetensors",
            std::fs::read(dir.join("model-00001-of-00004.safetensors")).unwrap(),
        ),
    ];
    let placement = Placement::of(&ComputeDevice::cpu()).with_max_weight_bytes(3 << 30);
    let err = block_on(load_checkpoint_to("config.json", files, &placement)).unwrap_err();
    assert_eq!(err.kind(), "too_large", "{err}");
    assert!(err.to_string().contains("choose a smaller model"), "{err}");
}
