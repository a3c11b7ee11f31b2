//! LoRA training speed on the default model (SmolLM2-135M-Instruct, Q4_1 GGUF dequantized):
//! sequence 256, batch 4, rank 16 on all linear layers, AdamW — on each tier, printed beside
//! PyTorch + PEFT on the same machine:
//!
//! ```text
//! python3 benches/peft_train.py    # optional: the reference column
//! cargo bench -p webtune --bench train             # both tiers
//! cargo bench -p webtune --bench train -- cpu q4   # the CPU tier, base kept in 4-bit blocks
//! ```
//!
//! Trained tokens/s over 5 steps after a warm-up step, the cores those steps kept busy (CPU
//! seconds per wall second), and peak resident memory of this process (Linux `VmHWM`; it
//! includes the model and every tier run so far), and on the GPU tier the kernels launched per
//! step (`webtune bench` gives the same at any size). A benchmark, not a test.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "common.rs"]
mod common;

use webtune::bench::random_batch;
use webtune::burn::module::Module;
use webtune::device::LaunchCounter;
use webtune::lora::{self, LoraConfig};
use webtune::models::{Placement, load_checkpoint_to};
use webtune::platform::{FileSource, block_on};
use webtune::rng::Rng;
use webtune::train::{
    AdamWConfig, PlanModel, Rows, Schedule, ScheduleKind, TrainConfig, Trainer, plan,
};
use webtune::{ComputeDevice, Tier};

const SEQ: usize = 256;
const BATCH: usize = 4;
const RANK: usize = 16;
const STEPS: usize = 5;
use common::{Clock, MIB, args, device_name, peak_memory_mib, root, tiers};

/// One tier's measurement.
struct Row {
    device: String,
    tokens_per_second: f64,
    cores: f64,
    peak_mib: f64,
    planned_mib: f64,
    launches_per_step: u64,
}

fn measure(tier: Tier, quantize: bool) -> webtune::Result<Row> {
    let device = block_on(ComputeDevice::new(tier))?;
    let placement = match quantize {
        true => Placement::training(&device).quantized(),
        false => Placement::training(&device),
    };
    let path = root().join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let loaded = block_on(load_checkpoint_to(
        "SmolLM2",
        vec![FileSource::open(&path)?],
        &placement,
    ))?;
    let config = LoraConfig {
        r: RANK,
        lora_alpha: 2.0 * RANK as f64,
        ..LoraConfig::default()
    };
    // What the memory planner predicts for this run, beside what it takes.
    let run = TrainConfig {
        batch_size: BATCH,
        lora: config.clone(),
        ..TrainConfig::default()
    };
    let planned =
        plan(&PlanModel::of(&loaded), &run, Rows::full(SEQ), None, None).total as f64 / MIB;
    let mut model = loaded.model.no_grad();
    lora::attach(&mut model, &config, 0, &placement.device)?;
    let mut rng = Rng::new(0);
    let batch = random_batch(loaded.config.vocab_size(), BATCH, SEQ, &mut rng);
    let mut trainer = Trainer::new(
        AdamWConfig::default(),
        Schedule {
            kind: ScheduleKind::Constant,
            warmup_steps: 0,
            total_steps: STEPS + 1,
        },
        None,
    );
    block_on(trainer.step(&mut model, &batch, &placement.device))?;
    let counter = (tier == Tier::Gpu).then(LaunchCounter::start);
    let clock = Clock::start();
    for _ in 0..STEPS {
        block_on(trainer.step(&mut model, &batch, &placement.device))?;
    }
    let launches = counter.as_ref().map_or(0, LaunchCounter::total);
    let tokens = (BATCH * (SEQ - 1) * STEPS) as f64;
    Ok(Row {
        device: device_name(&device),
        tokens_per_second: tokens / clock.seconds(),
        cores: clock.cores(),
        peak_mib: peak_memory_mib(),
        planned_mib: planned,
        launches_per_step: launches / STEPS as u64,
    })
}

fn main() {
    println!(
        "LoRA training, SmolLM2-135M-Instruct, sequence {SEQ}, batch {BATCH}, rank {RANK}, all linear layers\n"
    );
    println!(
        "| {:<46} | {:<34} | {:>9} | {:>10} | {:>15} | {:>11} | {:>15} |",
        "implementation",
        "device",
        "tokens/s",
        "cores used",
        "peak memory MiB",
        "planned MiB",
        "launches/step"
    );
    println!(
        "|{:-<48}|{:-<36}|{:->11}|{:->12}|{:->17}|{:->13}|{:->17}|",
        "", "", "", "", "", "", ""
    );
    // `… -- cpu q4` keeps the frozen base in 4-bit blocks (QLoRA-style). Peak memory is the
    // process's high-water mark: measure the two bases in separate runs.
    let quantize = args().iter().any(|a| a == "q4");
    // `cargo bench --bench train -- cpu` measures one tier (lavapipe is slow at this size).
    for tier in tiers() {
        match measure(tier, quantize) {
            Ok(row) => println!(
                "| {:<46} | {:<34} | {:>9.1} | {:>10.2} | {:>15.0} | {:>11.0} | {:>15} |",
                format!(
                    "webtune {tier}{}",
                    if quantize { ", 4-bit base" } else { "" }
                ),
                row.device,
                row.tokens_per_second,
                row.cores,
                row.peak_mib,
                row.planned_mib,
                row.launches_per_step
            ),
            Err(err) => eprintln!("{tier}: {err}"),
        }
    }
    let reference = std::fs::read(root().join("target/bench/peft_train.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    match reference {
        Some(r) => println!(
            "| {:<46} | {:<34} | {:>9.1} | {:>10.2} | {:>15.0} | {:>11} | {:>15} |",
            r["implementation"].as_str().unwrap_or("PyTorch + PEFT"),
            r["device"].as_str().unwrap_or("CPU"),
            r["tokens_per_second"].as_f64().unwrap_or(f64::NAN),
            r["cores_used"].as_f64().unwrap_or(f64::NAN),
            r["peak_memory_mib"].as_f64().unwrap_or(f64::NAN),
            "",
            ""
        ),
        None => {
            eprintln!("PyTorch + PEFT: not measured here (run python3 benches/peft_train.py first)")
        }
    }
}
