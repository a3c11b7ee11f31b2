//! Writes the adapter webtune trains (20 steps from PEFT's adapter, CPU tier) in PEFT's
//! layout to `tests/artifacts/lora-export/`, with webtune's logits for the fixture's second
//! batch, so that `tests/fixtures/lora/check_export.py` can load it with PEFT and compare.

use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::device::read_f32;
use webtune::lora;
use webtune::models::CausalLm;
use webtune::platform::block_on;
use webtune::train::{AdamWConfig, Batch, Schedule, ScheduleKind, Trainer};

#[test]
fn cpu_trained_adapter_is_written_for_peft() {
    let cpu = webtune::ComputeDevice::cpu();
    let mut model = block_on(webtune_tests::tiny_llama_with_peft_adapter(&cpu)).unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(webtune_tests::LORA_REFERENCE_JSON).unwrap();
    let batches: Vec<Batch> = reference["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_value(b.clone()).unwrap())
        .collect();
    let mut trainer = Trainer::new(
        AdamWConfig {
            lr: 5e-3,
            ..AdamWConfig::default()
        },
        Schedule {
            kind: ScheduleKind::Cosine,
            warmup_steps: 3,
            total_steps: 20,
        },
        Some(1.0),
    );
    let ad = cpu.autodiff();
    for k in 0..20 {
        block_on(trainer.step(&mut model, &batches[k % batches.len()], &ad)).unwrap();
    }
    let info = lora::peft::parse_config(
        "adapter_config.json",
        include_bytes!("../fixtures/lora/adapter/adapter_config.json"),
    )
    .unwrap();
    let (config, weights) = block_on(lora::peft::save(
        &model,
        &info.config,
        "tests/fixtures/tiny/llama",
    ))
    .unwrap();
    let batch = &batches[1];
    let (rows, seq) = batch.shape().unwrap();
    let ids: Vec<i32> = batch.ids.iter().flatten().map(|&i| i as i32).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, seq]), &ad);
    let logits = block_on(read_f32(model.forward(input), "logits")).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/lora-export");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("adapter_config.json"), config).unwrap();
    std::fs::write(dir.join("adapter_model.safetensors"), weights).unwrap();
    let json = serde_json::json!({"ids": batch.ids, "shape": [rows, seq], "logits": logits});
    std::fs::write(dir.join("webtune_logits.json"), json.to_string()).unwrap();

    // A DoRA adapter trained 5 steps from PEFT's DoRA fixture, for PEFT to load.
    let mut dora = block_on(webtune_tests::tiny_llama_with(&cpu, &webtune_tests::DORA)).unwrap();
    let mut trainer = Trainer::new(
        AdamWConfig {
            lr: 5e-3,
            ..AdamWConfig::default()
        },
        Schedule {
            kind: ScheduleKind::Constant,
            warmup_steps: 0,
            total_steps: 5,
        },
        Some(1.0),
    );
    for k in 0..5 {
        block_on(trainer.step(&mut dora, &batches[k % batches.len()], &ad)).unwrap();
    }
    let info = lora::peft::parse_config(
        "adapter_config.json",
        include_bytes!("../fixtures/lora/dora_adapter/adapter_config.json"),
    )
    .unwrap();
    let (config, weights) = block_on(lora::peft::save(
        &dora,
        &info.config,
        "tests/fixtures/tiny/llama",
    ))
    .unwrap();
    let input = Tensor::<2, Int>::from_data(
        TensorData::new(
            batch
                .ids
                .iter()
                .flatten()
                .map(|&i| i as i32)
                .collect::<Vec<_>>(),
            [rows, seq],
        ),
        &ad,
    );
    let logits = block_on(read_f32(dora.forward(input), "logits")).unwrap();
    let dora_dir = dir.join("dora");
    std::fs::create_dir_all(&dora_dir).unwrap();
    std::fs::write(dora_dir.join("adapter_config.json"), config).unwrap();
    std::fs::write(dora_dir.join("adapter_model.safetensors"), weights).unwrap();
    let json = serde_json::json!({"ids": batch.ids, "shape": [rows, seq], "logits": logits});
    std::fs::write(dora_dir.join("webtune_logits.json"), json.to_string()).unwrap();

    // The merged checkpoint, for transformers to load.
    let merged = block_on(webtune_tests::merged_equals_unmerged(&cpu)).unwrap();
    let merged_dir = dir.join("merged");
    std::fs::create_dir_all(&merged_dir).unwrap();
    for (name, bytes) in merged {
        let file = name.rsplit('/').next().unwrap();
        std::fs::write(merged_dir.join(file), bytes).unwrap();
    }
}
