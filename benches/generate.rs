//! Generation speed of the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) on each tier,
//! printed beside transformers' on the same machine:
//!
//! ```text
//! python3 benches/transformers_generate.py   # optional: the reference column
//! cargo bench -p webtune --bench generate
//! ```
//!
//! Measures load time (file → model on the device), prefill tokens/s (a 128-token prompt
//! through the model, to the first sampled token) and greedy decode tokens/s (32 tokens with
//! the KV cache), best of three, and the cores the three runs kept busy (CPU seconds per wall
//! second). `-- cpu` or `-- gpu` measures one tier. A benchmark, not a test: it asserts
//! nothing about speed.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

#[path = "common.rs"]
mod common;

use webtune::generate::{Flow, GenerateConfig, generate};
use webtune::models::load_checkpoint;
use webtune::platform::FileSource;
use webtune::platform::block_on;
use webtune::{ComputeDevice, Tier};

const PROMPT_TOKENS: usize = 128;
const NEW_TOKENS: usize = 32;
const REPEATS: usize = 3;

struct Row {
    implementation: String,
    device: String,
    load_s: f64,
    prefill_tok_s: f64,
    decode_tok_s: f64,
    cores: f64,
}

use common::{Clock, device_name, root, tiers};

fn measure(tier: Tier) -> webtune::Result<Row> {
    let device = block_on(ComputeDevice::new(tier))?;
    let path = root().join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let start = Instant::now();
    let loaded = block_on(load_checkpoint(
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        vec![FileSource::open(&path)?],
        &device,
    ))?;
    let load_s = start.elapsed().as_secs_f64();
    let tokenizer = loaded.tokenizer.as_ref().expect("the GGUF has a tokenizer");
    let text = std::fs::read_to_string(root().join("benches/prompt.txt")).unwrap();
    let prompt = &tokenizer.encode(&text)?[..PROMPT_TOKENS];
    let config = GenerateConfig {
        max_new_tokens: NEW_TOKENS + 1,
        ..GenerateConfig::default()
    };
    let run = |config: &GenerateConfig| -> webtune::Result<(f64, f64)> {
        let start = Instant::now();
        let mut first = None;
        let new = block_on(generate(
            &loaded.model,
            device.device(),
            prompt,
            config,
            |_| {
                first.get_or_insert_with(|| start.elapsed().as_secs_f64());
                Flow::Continue
            },
        ))?;
        let total = start.elapsed().as_secs_f64();
        let first = first.unwrap_or(total);
        let decoded = new.len().saturating_sub(1) as f64;
        Ok((
            PROMPT_TOKENS as f64 / first,
            decoded / (total - first).max(1e-9),
        ))
    };
    // Warm-up: kernels compiled, buffers allocated.
    run(&GenerateConfig {
        max_new_tokens: 2,
        ..config.clone()
    })?;
    let (mut prefill, mut decode) = (0f64, 0f64);
    let clock = Clock::start();
    for _ in 0..REPEATS {
        let (p, d) = run(&config)?;
        prefill = prefill.max(p);
        decode = decode.max(d);
    }
    let cores = clock.cores();
    Ok(Row {
        implementation: format!("webtune {tier}"),
        device: device_name(&device),
        cores,
        load_s,
        prefill_tok_s: prefill,
        decode_tok_s: decode,
    })
}

fn reference() -> Option<Row> {
    let path = root().join("target/bench/transformers_generate.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some(Row {
        implementation: json["implementation"].as_str()?.to_string(),
        device: json["device"].as_str()?.to_string(),
        load_s: json["load_s"].as_f64()?,
        prefill_tok_s: json["prefill_tok_s"].as_f64()?,
        decode_tok_s: json["decode_tok_s"].as_f64()?,
        cores: json["cores_used"].as_f64().unwrap_or(f64::NAN),
    })
}

fn main() {
    let mut rows = Vec::new();
    for tier in tiers() {
        match measure(tier) {
            Ok(row) => rows.push(row),
            Err(err) => eprintln!("{tier}: {err}"),
        }
    }
    match reference() {
        Some(row) => rows.push(row),
        None => eprintln!(
            "transformers: not measured here (run python3 benches/transformers_generate.py first)"
        ),
    }
    println!(
        "SmolLM2-135M-Instruct Q4_1, prompt {PROMPT_TOKENS} tokens, {NEW_TOKENS} new tokens (greedy)\n"
    );
    println!(
        "| {:<34} | {:<40} | {:>7} | {:>13} | {:>12} | {:>10} |",
        "implementation", "device", "load s", "prefill tok/s", "decode tok/s", "cores used"
    );
    println!(
        "|{:-<36}|{:-<42}|{:->9}|{:->15}|{:->14}|{:->12}|",
        "", "", "", "", "", ""
    );
    for r in rows {
        println!(
            "| {:<34} | {:<40} | {:>7.2} | {:>13.1} | {:>12.1} | {:>10.2} |",
            r.implementation, r.device, r.load_s, r.prefill_tok_s, r.decode_tok_s, r.cores
        );
    }
}
