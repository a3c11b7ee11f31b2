//! The memory planner (`train::plan`): its trainable-parameter count is the model's own after
//! `prepare_model` (LoRA, DoRA, full), its prediction grows with batch and sequence length, and
//! when a run does not fit, it says why and every configuration it suggests fits.

use webtune::ComputeDevice;
use webtune::lora::{LoraConfig, Targets};
use webtune::models::{Placement, load_checkpoint_to};
use webtune::platform::block_on;
use webtune::train::{Method, PlanModel, Rows, TrainConfig, params, plan, prepare_model};
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
        let planned = plan(&PlanModel::of(&loaded), &config, Rows::full(16), None, None);
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
        plan(&model, &c, Rows::full(seq), None, None)
    };
    let small = at(1, 64);
    assert!(at(2, 64).total > small.total && at(1, 128).total > small.total);
    assert!(at(1, 128).activations > 2 * small.activations - small.activations / 10);
    assert_eq!(at(1, 64).weights, model.weight_bytes);

    // A budget below the prediction: refused with the reason and what would fit.
    // (A third of the activations less: the tiny model's weights are nothing beside the
    // planner's fixed overhead.)
    let asked = at(8, 256);
    let budget = asked.total - asked.activations / 3;
    let refused = plan(&model, &base, Rows::full(256), Some(budget), None);
    assert!(!refused.fits && refused.problems[0].contains("available"));
    assert!(!refused.suggestions.is_empty(), "{refused:?}");
    for s in &refused.suggestions {
        let again = plan(&model, &s.config, Rows::full(s.seq_len), Some(budget), None);
        assert!(again.fits, "{} does not fit: {again:?}", s.change);
        assert_eq!(again.total, s.total);
    }
    let err = refused.check().unwrap_err();
    assert_eq!(err.kind(), "too_large");
    assert!(err.to_string().contains("These would fit: batch"), "{err}");

    // Attention probabilities over the device's largest binding: a smaller batch fits.
    let limit = asked.largest_tensor / 3;
    let over = plan(&model, &base, Rows::full(256), None, Some(limit));
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
        Rows::full(256),
        Some(model.weight_bytes / 2),
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

/// The Train view's presets through the session: each fits the budget it was sized for, the
/// tighter the budget the smaller the micro-batch (the effective batch kept by accumulation),
/// and a run's length says when its epochs end it before `max_steps`.
#[test]
fn cpu_presets_are_sized_by_the_planner_and_runs_say_their_length() {
    use webtune::data::DataOptions;
    use webtune::session::{OpenOptions, Session};

    let mut session = Session::new(ComputeDevice::cpu());
    let folder = crate::gguf_export::folder("tiny/llama");
    block_on(session.open_model("tiny/llama", folder, &OpenOptions::default())).unwrap();
    let rows: Vec<String> = (1..=40)
        .map(|i| {
            serde_json::json!({"messages": [
                {"role": "user", "content": format!("Which shelf holds box {i}?")},
                {"role": "assistant", "content": format!("Shelf {} of aisle {}.", i % 4, i % 7)},
            ]})
            .to_string()
        })
        .collect();
    let options = DataOptions::default();
    let report = session
        .load_dataset("boxes.jsonl", &rows.join("\n"), None, &options)
        .unwrap();
    let train_rows = report.train_rows;
    // Only the answers are scored: the loss's logits are counted for the most trained tokens
    // of one record, per row, not for every position.
    assert!(0 < report.max_trained_tokens && report.max_trained_tokens < report.max_tokens);
    let c = TrainConfig::default();
    let logits = session.plan(&c, None).unwrap().logits;
    let vocab = 12 * c.batch_size as u64 * session.model_info().unwrap().vocab_size as u64;
    assert_eq!(logits, vocab * report.max_trained_tokens as u64);
    let packed = TrainConfig {
        data: DataOptions {
            packing: true,
            ..options.clone()
        },
        ..c.clone()
    };
    let packed_logits = session.plan(&packed, None).unwrap().logits;
    assert_eq!(packed_logits, vocab * options.encode.max_len as u64);

    // Rows padded to a multiple of 128 tokens are planned that wide; the CPU tier pads to each
    // batch's longest row when the run names no multiple, and the run's command says so.
    assert!(report.max_tokens < 64, "{}", report.max_tokens);
    let padded = |multiple| {
        let c = TrainConfig {
            pad_to_multiple_of: multiple,
            ..c.clone()
        };
        session.plan(&c, None).unwrap()
    };
    let (chosen, exact, wide) = (padded(None), padded(Some(1)), padded(Some(128)));
    assert_eq!(chosen.activations, exact.activations);
    assert!(
        wide.activations > exact.activations * 3 / 2,
        "{wide:?} vs {exact:?}"
    );
    assert_eq!(wide.logits, exact.logits);
    let command = session.run_command(c.clone()).unwrap();
    assert!(
        command.config.contains("\"pad_to_multiple_of\": 1"),
        "{}",
        command.config
    );

    let presets = session.presets(None).unwrap();
    let names: Vec<&str> = presets.iter().map(|p| p.name).collect();
    assert_eq!(names, ["quick", "balanced", "thorough"]);
    for p in &presets {
        let c = &p.config;
        assert!(p.plan.fits, "{}: {:?}", p.name, p.plan.problems);
        assert_eq!(c.lora.lora_alpha, 2.0 * c.lora.r as f64);
        let effective = c.batch_size * c.grad_accumulation;
        let per_epoch = train_rows.div_ceil(effective);
        assert_eq!(p.length.steps, c.epochs * per_epoch, "{}", p.name);
        assert_eq!(p.length.ended_by, "epochs");
        // The presets' runs are valid settings: the command line can repeat them.
        session.run_command(c.clone()).unwrap();
    }
    let (quick, thorough) = (&presets[0].config, &presets[2].config);
    assert!(thorough.lora.r > quick.lora.r && thorough.epochs > quick.epochs);
    assert_eq!(thorough.early_stopping_patience, Some(3));

    // A budget that holds the thorough run at batch 2 but not at 8: its micro-batch shrinks
    // and accumulation keeps 8 rows per step.
    let at = |batch: usize| {
        let c = TrainConfig {
            batch_size: batch,
            grad_accumulation: 8 / batch,
            ..thorough.clone()
        };
        session.plan(&c, None).unwrap().total
    };
    let budget = (at(2) + at(4)) / 2;
    let tight = session.presets(Some(budget)).unwrap();
    let t = &tight[2].config;
    assert_eq!((t.batch_size, t.grad_accumulation), (2, 4), "{t:?}");
    assert!(tight[2].plan.fits && tight[2].plan.total <= budget);

    // 30 steps asked of a one-epoch run shorter than that: the epochs end it, and it says so.
    let asked = TrainConfig {
        max_steps: Some(30),
        batch_size: 2,
        ..TrainConfig::default()
    };
    let length = session.run_length(&asked).unwrap();
    assert_eq!(length.steps, train_rows.div_ceil(2));
    assert_eq!(length.ended_by, "epochs");
    assert!(
        length.summary.contains("30 steps asked"),
        "{}",
        length.summary
    );
    let short = session
        .run_length(&TrainConfig {
            max_steps: Some(5),
            ..asked
        })
        .unwrap();
    assert_eq!((short.steps, short.ended_by), (5, "max_steps"));
    assert!(!short.summary.contains("asked"), "{}", short.summary);
}

/// A model sized from its `config.json` alone (before its weights are fetched) is the model
/// the planner sees once loaded: the same parameters, bytes at rest and linear layers, for
/// each family; and the session's verdict on it says it opens and a LoRA run fits.
#[test]
fn cpu_a_config_alone_sizes_a_model_as_loading_it_does() {
    use webtune::models::ModelConfig;
    use webtune::session::Session;

    let session = Session::new(ComputeDevice::cpu());
    for family in ["llama", "qwen2", "gpt2"] {
        let loaded = block_on(load_tiny(family, &ComputeDevice::cpu())).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny");
        let json = std::fs::read(root.join(family).join("config.json")).unwrap();
        let config = ModelConfig::from_json("config.json", &json).unwrap();
        let sized = PlanModel::from_config(&config, false, 4);
        let measured = PlanModel::of(&loaded);
        assert_eq!(sized.parameters, measured.parameters, "{family}");
        assert_eq!(sized.weight_bytes, measured.weight_bytes, "{family}");
        assert_eq!(sized.linear, measured.linear, "{family}");
        let fit = session.size_up(family, &json, false, 64).unwrap();
        assert!(fit.opens && fit.training.fits, "{family}: {}", fit.summary);
        assert_eq!(fit.parameters, measured.parameters);
        assert!(fit.summary.contains("it fits"), "{}", fit.summary);
    }
    let broken = session.size_up("broken", b"{\"model_type\": \"llama\"}", false, 64);
    assert!(broken.is_err());
}

#[test]
fn sizes_models_past_4_gib() {
    webtune_tests::sizes_models_past_4_gib();
}
