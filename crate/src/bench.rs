//! Speed on this machine: a LoRA training step and generated tokens, timed, with the GPU
//! kernels each launches (`webtune doctor --bench`, `Webtune.bench()`, the benches).
//!
//! Launch counts are the proxy for real-GPU speed where no GPU is at hand: every kernel is a
//! dispatch and a round trip of its operands through memory. The CPU tier launches none.

use burn::module::Module;
use burn::tensor::Device;
use serde::Serialize;

use crate::device::{ComputeDevice, KernelCount, LaunchCounter, Tier};
use crate::error::{Error, Result};
use crate::generate::{Flow, GenerateConfig, generate};
use crate::lora::{self, LoraConfig};
use crate::models::{CausalLm, Model};
use crate::platform::seconds_now;
use crate::rng::Rng;
use crate::train::{AdamWConfig, Batch, Schedule, ScheduleKind, Trainer};

/// What to measure.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BenchConfig {
    /// Tokens per training sequence.
    pub seq: usize,
    /// Sequences per training step.
    pub batch: usize,
    /// LoRA rank (on every linear layer).
    pub rank: usize,
    /// Timed training steps (after one untimed warm-up step).
    pub steps: usize,
    /// Prompt tokens before generating.
    pub prompt_tokens: usize,
    /// Tokens generated (greedy) after the first.
    pub new_tokens: usize,
    /// Time every GPU kernel (native only): each launch then waits for its kernel, so the
    /// totals run slower, but the kernels are listed by the seconds they took.
    pub timed: bool,
    /// Run [`warm_up`] first, so the first step shows what a warmed-up run waits for.
    pub warm_up: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            seq: 128,
            batch: 1,
            rank: 16,
            steps: 2,
            prompt_tokens: 64,
            new_tokens: 16,
            timed: false,
            warm_up: false,
        }
    }
}

/// The kernels listed per piece of work (the rest are counted in the totals).
const LISTED: usize = 8;

/// What [`run`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// What was measured.
    pub config: BenchConfig,
    /// Seconds [`warm_up`] took, when asked for.
    pub warm_up_seconds: Option<f64>,
    /// Seconds of the first training step, its kernels compiled on the way (what a run waits
    /// for before its first loss).
    pub first_step_seconds: f64,
    /// Seconds per training step after the first.
    pub step_seconds: f64,
    /// Tokens processed per second of training (every token of every sequence).
    pub train_tokens_per_second: f64,
    /// GPU kernels launched per training step (0 on the CPU tier).
    pub launches_per_step: u64,
    /// The kernels a training step launches most.
    pub step_kernels: Vec<KernelCount>,
    /// Seconds from asking to the first new token the first time the model answers (after
    /// the training steps, which compiled the kernels the two share).
    pub first_token_seconds: f64,
    /// Prompt tokens read per second before the first new token.
    pub prefill_tokens_per_second: f64,
    /// Tokens generated per second after the first.
    pub decode_tokens_per_second: f64,
    /// GPU kernels launched to read the prompt and produce the first token.
    pub launches_per_prefill: u64,
    /// The kernels reading the prompt launches most.
    pub prefill_kernels: Vec<KernelCount>,
    /// GPU kernels launched per generated token after the first.
    pub launches_per_token: f64,
    /// The kernels decoding launches most.
    pub token_kernels: Vec<KernelCount>,
}

/// The most tokens one measured step may hold: a speed check, not a training run.
const MAX_STEP_TOKENS: usize = 8192;

fn check(config: &BenchConfig) -> Result<()> {
    if config.batch.saturating_mul(config.seq) > MAX_STEP_TOKENS {
        return Err(Error::Setting {
            setting: "bench.batch".into(),
            problem: format!(
                "batch × seq is {} tokens; a speed check takes at most {MAX_STEP_TOKENS}",
                config.batch.saturating_mul(config.seq)
            ),
        });
    }
    let zero = [
        ("seq", config.seq < 2),
        ("batch", config.batch == 0),
        ("rank", config.rank == 0),
        ("steps", config.steps == 0),
        ("prompt_tokens", config.prompt_tokens == 0),
        ("new_tokens", config.new_tokens == 0),
    ];
    if config.timed && crate::platform::IN_BROWSER {
        return Err(Error::Setting {
            setting: "bench.timed".into(),
            problem: "timing each kernel waits for the GPU, which a browser cannot do".into(),
        });
    }
    match zero.iter().find(|(_, bad)| *bad) {
        Some((setting, _)) => Err(Error::Setting {
            setting: format!("bench.{setting}"),
            problem: "must be at least 1 (2 for seq)".into(),
        }),
        None => Ok(()),
    }
}

/// Measures `model` (on `compute`'s autodiff twin, as a session holds it) — a copy with a
/// fresh LoRA adapter trains on random tokens, then the model without it generates greedily
/// from a random prompt. `model` itself is not changed. `go_on` is asked after every step and
/// token; [`Flow::Stop`] ends the measurement with [`Error::Stopped`] (half a measurement
/// measures nothing).
pub async fn run(
    model: &Model,
    compute: &ComputeDevice,
    config: &BenchConfig,
    mut go_on: impl FnMut() -> Flow,
) -> Result<BenchReport> {
    check(config)?;
    // Whether `go_on` said stop, also where generation only ended early.
    let halted = std::cell::Cell::new(false);
    let said_stop = &halted;
    let mut go_on = move || {
        let flow = go_on();
        said_stop.set(said_stop.get() || flow == Flow::Stop);
        flow
    };
    let stopped = || Error::Stopped {
        what: "the speed check".into(),
    };
    let device = &compute.autodiff();
    let context = model.context_length();
    let too_long = |setting: &str| Error::Setting {
        setting: format!("bench.{setting}"),
        problem: format!("longer than the model's context of {context} tokens"),
    };
    if config.seq > context {
        return Err(too_long("seq"));
    }
    if config.prompt_tokens + config.new_tokens + 1 > context {
        return Err(too_long("prompt_tokens"));
    }
    let lora_config = LoraConfig {
        r: config.rank,
        lora_alpha: 2.0 * config.rank as f64,
        ..LoraConfig::default()
    };
    let warm_up_seconds = match config.warm_up {
        true => {
            let shape = WarmUpShape {
                lora: lora_config.clone(),
                rows: config.batch,
                seq: config.seq,
            };
            Some(warm_up(model, compute, &shape, &mut go_on).await?)
        }
        false => None,
    };
    let mut rng = Rng::new(0);
    let vocab = model.vocab_size();
    let batch = random_batch(vocab, config.batch, config.seq, &mut rng);
    let prompt = random_tokens(vocab, config.prompt_tokens, &mut rng);
    let (mut tuned, mut trainer) = tuned_copy(model, &lora_config, config.steps + 1, device)?;
    let start = seconds_now();
    trainer.step(&mut tuned, &batch, device).await?;
    let first_step_seconds = seconds_now() - start;
    if go_on() == Flow::Stop {
        return Err(stopped());
    }
    // The CPU tier launches no kernels; a counter there would count other threads' GPU work.
    let counter = (compute.tier() == Tier::Gpu).then(|| match config.timed {
        true => LaunchCounter::timed(),
        false => LaunchCounter::start(),
    });
    let count = |c: &Option<LaunchCounter>| c.as_ref().map_or(0, LaunchCounter::total);
    let kernels =
        |c: &Option<LaunchCounter>| c.as_ref().map_or(Vec::new(), LaunchCounter::by_kernel);
    let reset = |c: &Option<LaunchCounter>| c.iter().for_each(LaunchCounter::reset);
    let start = seconds_now();
    for _ in 0..config.steps {
        trainer.step(&mut tuned, &batch, device).await?;
        if go_on() == Flow::Stop {
            return Err(stopped());
        }
    }
    let step_seconds = (seconds_now() - start) / config.steps as f64;
    let launches_per_step = count(&counter) / config.steps as u64;
    let step_kernels = per(kernels(&counter), config.steps as u64);
    drop(tuned);

    let mut plain = model.valid();
    lora::detach(&mut plain);
    let greedy = |n: usize| GenerateConfig {
        max_new_tokens: n,
        ..GenerateConfig::default()
    };
    // Warm-up: the kernels for these shapes are compiled before anything is timed.
    let device = compute.device();
    let start = seconds_now();
    let mut first_token = None;
    generate(&plain, device, &prompt, &greedy(2), |_| {
        first_token.get_or_insert_with(|| seconds_now() - start);
        go_on()
    })
    .await?;
    let first_token_seconds = first_token.unwrap_or(seconds_now() - start);
    if halted.get() {
        return Err(stopped());
    }
    reset(&counter);
    let start = seconds_now();
    generate(&plain, device, &prompt, &greedy(1), |_| go_on()).await?;
    if halted.get() {
        return Err(stopped());
    }
    let prefill_seconds = seconds_now() - start;
    let launches_per_prefill = count(&counter);
    let prefill_kernels = kernels(&counter);
    reset(&counter);
    let mut first = None;
    let out = generate(
        &plain,
        device,
        &prompt,
        &greedy(config.new_tokens + 1),
        |_| {
            first.get_or_insert_with(seconds_now);
            go_on()
        },
    )
    .await?;
    let end = seconds_now();
    if halted.get() {
        return Err(stopped());
    }
    let decoded = out.len().saturating_sub(1).max(1);
    let launches = count(&counter).saturating_sub(launches_per_prefill);
    let token_kernels = decode_only(kernels(&counter), &prefill_kernels, decoded as u64);
    Ok(BenchReport {
        config: config.clone(),
        warm_up_seconds,
        first_step_seconds,
        step_seconds,
        train_tokens_per_second: (config.batch * config.seq) as f64 / step_seconds.max(1e-9),
        launches_per_step,
        step_kernels,
        first_token_seconds,
        prefill_tokens_per_second: config.prompt_tokens as f64 / prefill_seconds.max(1e-9),
        decode_tokens_per_second: decoded as f64 / (end - first.unwrap_or(end)).max(1e-9),
        launches_per_prefill,
        prefill_kernels: per(prefill_kernels, 1),
        launches_per_token: launches as f64 / decoded as f64,
        token_kernels,
    })
}

/// `model` with a fresh LoRA adapter (`lora`) on `device` (autodiff), and a trainer for
/// `steps` steps at a constant rate.
fn tuned_copy(
    model: &Model,
    lora: &LoraConfig,
    steps: usize,
    device: &Device,
) -> Result<(Model, Trainer)> {
    let mut tuned = model.clone().no_grad();
    lora::detach(&mut tuned);
    lora::attach(&mut tuned, lora, 0, device)?;
    let schedule = Schedule {
        kind: ScheduleKind::Constant,
        warmup_steps: 0,
        total_steps: steps,
    };
    Ok((tuned, Trainer::new(AdamWConfig::default(), schedule, None)))
}

/// The training step a warm-up takes: the run's adapter and its first step's shape.
#[derive(Debug, Clone)]
pub struct WarmUpShape {
    /// The run's adapter settings.
    pub lora: LoraConfig,
    /// Rows per step.
    pub rows: usize,
    /// Tokens per row.
    pub seq: usize,
}

/// Tokens of the warm-up's prompt.
const WARM_UP_PROMPT: usize = 16;

/// Compiles the GPU kernels a LoRA run and an answer need before a person asks for either:
/// one training step of a throwaway adapter shaped as `shape` on random tokens, then two
/// greedy tokens from a random prompt, on a copy of `model` (unchanged). Returns the seconds
/// it took. Kernels are compiled and buffers sized per shape: measured on lavapipe, a first
/// step of 64 tokens waited 5.7 s longer than the next, after a warm-up of that shape 0.3 s,
/// after one of 32 tokens 7 s. `go_on` can stop it after the step.
pub async fn warm_up(
    model: &Model,
    compute: &ComputeDevice,
    shape: &WarmUpShape,
    mut go_on: impl FnMut() -> Flow,
) -> Result<f64> {
    let start = seconds_now();
    let mut rng = Rng::new(1);
    let vocab = model.vocab_size();
    let seq = shape.seq.clamp(2, model.context_length().max(2));
    let batch = random_batch(vocab, shape.rows.max(1), seq, &mut rng);
    let device = &compute.autodiff();
    let (mut tuned, mut trainer) = tuned_copy(model, &shape.lora, 1, device)?;
    trainer.step(&mut tuned, &batch, device).await?;
    drop(tuned);
    if go_on() == Flow::Stop {
        return Err(Error::Stopped {
            what: "the warm-up".into(),
        });
    }
    let mut plain = model.valid();
    lora::detach(&mut plain);
    let prompt_len = WARM_UP_PROMPT
        .min(model.context_length().saturating_sub(3))
        .max(1);
    let prompt = random_tokens(vocab, prompt_len, &mut rng);
    let greedy = GenerateConfig {
        max_new_tokens: 2,
        ..GenerateConfig::default()
    };
    generate(&plain, compute.device(), &prompt, &greedy, |_| go_on()).await?;
    Ok(seconds_now() - start)
}

/// A whole generation's launches less the prefill's, per decoded token, most launched first.
fn decode_only(all: Vec<KernelCount>, prefill: &[KernelCount], tokens: u64) -> Vec<KernelCount> {
    let rows: Vec<KernelCount> = all
        .into_iter()
        .map(|k| {
            let before = prefill.iter().find(|p| p.kernel == k.kernel);
            let launches = k.launches - before.map_or(0, |p| p.launches.min(k.launches));
            let seconds = (k.seconds - before.map_or(0.0, |p| p.seconds)).max(0.0);
            KernelCount {
                launches,
                seconds,
                ..k
            }
        })
        .filter(|k| k.launches > 0)
        .collect();
    per(rows, tokens)
}

/// `n` token ids drawn uniformly from a vocabulary of `vocab`.
fn random_tokens(vocab: usize, n: usize, rng: &mut Rng) -> Vec<u32> {
    (0..n)
        .map(|_| ((rng.next_f32() * vocab as f32) as u32).min(vocab as u32 - 1))
        .collect()
}

/// A batch of `batch` random sequences of `seq` tokens, every token trained: what speed
/// measurements train on (the content does not change the work).
pub fn random_batch(vocab: usize, batch: usize, seq: usize, rng: &mut Rng) -> Batch {
    let ids: Vec<Vec<u32>> = (0..batch).map(|_| random_tokens(vocab, seq, rng)).collect();
    let labels = ids
        .iter()
        .map(|r| r.iter().map(|&t| i64::from(t)).collect())
        .collect();
    Batch {
        ids,
        labels,
        segments: None,
    }
}

/// The kernels that took longest (when timed) or else were launched most, their counts and
/// seconds divided by `runs`.
fn per(mut counts: Vec<KernelCount>, runs: u64) -> Vec<KernelCount> {
    counts.sort_by(|a, b| {
        b.seconds
            .total_cmp(&a.seconds)
            .then(b.launches.cmp(&a.launches))
            .then(a.kernel.cmp(&b.kernel))
    });
    counts
        .into_iter()
        .take(LISTED)
        .map(|k| KernelCount {
            launches: k.launches / runs.max(1),
            seconds: k.seconds / runs.max(1) as f64,
            ..k
        })
        .collect()
}
