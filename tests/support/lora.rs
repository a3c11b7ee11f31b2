//! LoRA against PEFT (`fixtures/lora/`, made by its `make_fixture.py`): the adapter PEFT saved
//! loads here and gives PEFT's logits, one step's gradients match, and 20 AdamW steps follow
//! PEFT's loss curve; plus the invariants (a fresh adapter changes nothing, the base stays
//! bit-identical, an exported adapter loads back to the same logits).

use webtune::burn::module::Module;
use webtune::device::read_f32;
use webtune::io::MemorySource;
use webtune::lora;
use webtune::models::{CausalLm, LinearLayers, Model, Placement, load_checkpoint_to};
use webtune::numerics::{Agreement, Tolerance, compare};
use webtune::train::{AdamWConfig, Batch, Schedule, ScheduleKind, Trainer, causal_lm_loss};
use webtune::{ComputeDevice, Result, Tier};

/// PEFT's numbers for the tiny Llama.
pub const LORA_REFERENCE_JSON: &str = include_str!("../fixtures/lora/reference.json");
const ADAPTER_CONFIG: &[u8] = include_bytes!("../fixtures/lora/adapter/adapter_config.json");
const ADAPTER_WEIGHTS: &[u8] = include_bytes!("../fixtures/lora/adapter/adapter_model.safetensors");

/// A PEFT adapter and PEFT's numbers for it.
#[derive(Debug, Clone, Copy)]
pub struct PeftFixture {
    /// What it is, for messages.
    pub name: &'static str,
    /// `reference.json`.
    pub reference: &'static str,
    /// `adapter_config.json`.
    pub config: &'static [u8],
    /// `adapter_model.safetensors`.
    pub weights: &'static [u8],
}

/// LoRA, r=4, alpha=8, all linear layers.
pub const LORA: PeftFixture = PeftFixture {
    name: "LoRA",
    reference: LORA_REFERENCE_JSON,
    config: ADAPTER_CONFIG,
    weights: ADAPTER_WEIGHTS,
};

/// The same with DoRA (`use_dora=True`), magnitudes perturbed from their initial norms.
pub const DORA: PeftFixture = PeftFixture {
    name: "DoRA",
    reference: include_str!("../fixtures/lora/dora_reference.json"),
    config: include_bytes!("../fixtures/lora/dora_adapter/adapter_config.json"),
    weights: include_bytes!("../fixtures/lora/dora_adapter/adapter_model.safetensors"),
};

impl PeftFixture {
    fn reference(&self) -> serde_json::Value {
        serde_json::from_str(self.reference).unwrap()
    }
}

fn reference() -> serde_json::Value {
    LORA.reference()
}

/// The tiny Llama on `device`'s autodiff twin, base frozen, with PEFT's LoRA adapter loaded.
pub async fn tiny_llama_with_peft_adapter(device: &ComputeDevice) -> Result<Model> {
    tiny_llama_with(device, &LORA).await
}

/// The tiny Llama on `device`'s autodiff twin, base frozen, with `fixture`'s adapter loaded.
pub async fn tiny_llama_with(device: &ComputeDevice, fixture: &PeftFixture) -> Result<Model> {
    let placement = Placement::training(device);
    let loaded = load_checkpoint_to("llama", crate::tiny_files("llama"), &placement).await?;
    let mut model = loaded.model.no_grad();
    let weights = MemorySource::new("adapter_model.safetensors", fixture.weights.to_vec());
    lora::peft::load(&mut model, fixture.config, &weights, &placement.device).await?;
    Ok(model)
}

/// The four batches of `fixtures/lora/reference.json` (the full fine-tuning fixture trains on
/// them too).
pub(crate) fn batches() -> Vec<Batch> {
    reference()["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| Batch {
            ids: serde_json::from_value(b["ids"].clone()).unwrap(),
            labels: serde_json::from_value(b["labels"].clone()).unwrap(),
            segments: None,
        })
        .collect()
}

/// How closely LoRA must follow PEFT (issue #4: gradients 1e-3 relative on the CPU backend;
/// losses 1e-3 on the CPU backend, 1e-2 on the GPU tiers, with an f16 base too).
pub fn lora_tolerance(device: &ComputeDevice) -> f32 {
    match device.tier() {
        Tier::Cpu => 1e-3,
        Tier::Gpu => 1e-2,
    }
}

/// For LoRA and DoRA: the adapter PEFT saved gives PEFT's logits and loss, and one backward
/// pass gives PEFT's gradient for every `lora_A`, `lora_B` (and DoRA magnitude), relative to
/// each tensor's largest entry.
pub async fn lora_gradients_match_peft(device: &ComputeDevice) -> Result<Agreement> {
    let mut worst = Agreement::default();
    for fixture in [LORA, DORA] {
        worst = worst.worst(gradients_match(device, &fixture).await?);
    }
    Ok(worst)
}

async fn gradients_match(device: &ComputeDevice, fixture: &PeftFixture) -> Result<Agreement> {
    let reference = fixture.reference();
    let model = tiny_llama_with(device, fixture).await?;
    let ad = device.autodiff();
    let batch = &batches()[0];
    let (rows, seq) = batch.shape()?;

    let ids: Vec<i32> = batch.ids.iter().flatten().map(|&i| i as i32).collect();
    let input = webtune::burn::tensor::Tensor::<2, webtune::burn::tensor::Int>::from_data(
        webtune::burn::tensor::TensorData::new(ids, [rows, seq]),
        &ad,
    );
    let logits = read_f32(model.forward(input), "logits").await?;
    let want: Vec<Vec<Vec<f32>>> = serde_json::from_value(reference["logits"].clone()).unwrap();
    let want: Vec<f32> = want.concat().concat();
    let mut worst = compare(
        "adapted logits",
        &logits,
        &want,
        crate::tiny_tolerance(device.tier()),
    )?;

    let loss = causal_lm_loss(&model, batch, &ad)?;
    let grads = loss.clone().backward();
    let loss = read_f32(loss, "loss").await?;
    let want_loss = reference["loss"].as_f64().unwrap() as f32;
    compare("loss", &loss, &[want_loss], Tolerance::new(0.0, 1e-5))?;
    let tol = lora_tolerance(device).min(1e-3);
    let want_grads = reference["grads"].as_object().unwrap();
    let params = lora::parameters(&model);
    assert_eq!(
        params.len(),
        want_grads.len(),
        "one gradient per PEFT tensor"
    );
    for (key, param) in params {
        let [rows, cols] = param.dims();
        let grad = param
            .val()
            .grad(&grads)
            .expect("adapter tensors get gradients");
        let grad = read_f32(grad, &key).await?;
        // PEFT's layout is the transpose of ours (a magnitude is a vector either way).
        let grad = match rows {
            1 if key.contains("magnitude") => grad,
            _ => webtune::nn::transpose(&grad, rows, cols),
        };
        let want: Vec<f32> = match &want_grads[&key] {
            serde_json::Value::Array(rows) if rows.first().is_some_and(|r| r.is_array()) => {
                let rows: Vec<Vec<f32>> = serde_json::from_value(want_grads[&key].clone()).unwrap();
                rows.concat()
            }
            vector => serde_json::from_value(vector.clone()).unwrap(),
        };
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        worst = worst.worst(compare(
            &key,
            &grad,
            &want,
            Tolerance::new(tol * scale, 0.0),
        )?);
    }
    Ok(worst)
}

/// For LoRA and DoRA: 20 AdamW steps (cosine schedule with warmup, clipping) from PEFT's
/// adapter follow PEFT's trajectory: loss, learning rate and gradient norm at every step. The
/// base weights are bit-identical afterwards, and the exported adapter loads back to the same
/// logits. Returns the worst relative loss error.
pub async fn lora_trajectory_matches_peft(device: &ComputeDevice) -> Result<f64> {
    lora_trajectory_matches_peft_for(device, usize::MAX).await
}

/// The same, for the first `steps` of PEFT's steps (the browser tier takes 5: SwiftShader
/// takes about 5 s a step; the native tiers take all 20).
pub async fn lora_trajectory_matches_peft_for(device: &ComputeDevice, steps: usize) -> Result<f64> {
    let mut worst = 0f64;
    for fixture in [LORA, DORA] {
        worst = worst.max(trajectory_matches(device, &fixture, steps).await?);
    }
    Ok(worst)
}

async fn trajectory_matches(
    device: &ComputeDevice,
    fixture: &PeftFixture,
    steps: usize,
) -> Result<f64> {
    let mut reference = fixture.reference();
    if let Some(all) = reference["trajectory"]["steps"].as_array_mut() {
        all.truncate(steps);
    }
    let mut model = tiny_llama_with(device, fixture).await?;
    let base_before = read_f32(first_base_weight(&model), "base weight").await?;
    let worst = follow_trajectory(&mut model, &reference, &batches(), device, fixture.name).await?;
    let base_after = read_f32(first_base_weight(&model), "base weight").await?;
    assert!(
        base_before
            .iter()
            .zip(&base_after)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "training changed a base weight"
    );
    exported_adapter_loads_back(&model, device, fixture).await?;
    Ok(worst)
}

fn first_base_weight(model: &Model) -> webtune::burn::tensor::Tensor<2> {
    model.linear_layers()[0].1.weight.val()
}

/// Saves `model`'s adapter in PEFT's layout, loads it into a fresh copy of the base, and
/// checks that both give the same logits.
async fn exported_adapter_loads_back(
    model: &Model,
    device: &ComputeDevice,
    fixture: &PeftFixture,
) -> Result<()> {
    let info = lora::peft::parse_config("adapter_config.json", fixture.config)?;
    let (config, weights) = lora::peft::save(model, &info.config, "tiny/llama").await?;
    // Both forwards on the training device: the same kernels (an inference device chooses
    // its own for a few rows, `nn::matmul`, which rounds an f16 output differently).
    let placement = Placement::training(device);
    let loaded = load_checkpoint_to("llama", crate::tiny_files("llama"), &placement).await?;
    let mut fresh = loaded.model;
    let source = MemorySource::new("exported.safetensors", weights);
    lora::peft::load(&mut fresh, &config, &source, &placement.device).await?;
    let batch = &batches()[1];
    let (rows, seq) = batch.shape()?;
    let ids: Vec<i32> = batch.ids.iter().flatten().map(|&i| i as i32).collect();
    let data = webtune::burn::tensor::TensorData::new(ids, [rows, seq]);
    use webtune::burn::tensor::{Int, Tensor};
    let trained = read_f32(
        model.forward(Tensor::<2, Int>::from_data(
            data.clone(),
            &device.autodiff(),
        )),
        "trained",
    )
    .await?;
    let reloaded = read_f32(
        fresh.forward(Tensor::<2, Int>::from_data(data, &device.autodiff())),
        "reloaded",
    )
    .await?;
    compare(
        &format!("{} exported adapter", fixture.name),
        &reloaded,
        &trained,
        Tolerance::new(1e-5, 1e-5),
    )?;
    Ok(())
}

/// `rows` preference pairs in TRL's conversational format ("Hello i" → "Hi." over "Policy?",
/// or the other way round).
pub fn pairs_jsonl(rows: usize) -> String {
    (0..rows)
        .map(|i| {
            let (chosen, rejected) = if i % 3 == 0 {
                ("Hi.", "Policy?")
            } else {
                ("Policy?", "Hi.")
            };
            serde_json::json!({
                "prompt": [{"role": "user", "content": format!("Hello {i}")}],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}]})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `rows` short conversations as `messages` JSONL ("Hello i" → "Hi." or "Policy?").
pub fn chat_jsonl(rows: usize) -> String {
    crate::conversations_jsonl(rows, |i| {
        let answer = if i % 3 == 0 { "Hi." } else { "Policy?" };
        (format!("Hello {i}"), answer.into())
    })
}

/// Takes the optimizer steps of `reference["trajectory"]` (AdamW, cosine schedule with warmup,
/// clipping) on `batches` in turn, checking every step's loss and gradient norm (relative
/// tolerance of the tier) and learning rate against the reference; returns the worst relative
/// loss error.
pub(crate) async fn follow_trajectory(
    model: &mut Model,
    reference: &serde_json::Value,
    batches: &[Batch],
    device: &ComputeDevice,
    what: &str,
) -> Result<f64> {
    let opt = &reference["trajectory"]["optimizer"];
    let f = |k: &str| opt[k].as_f64().unwrap();
    let mut trainer = Trainer::new(
        AdamWConfig {
            lr: f("lr"),
            betas: (
                opt["betas"][0].as_f64().unwrap(),
                opt["betas"][1].as_f64().unwrap(),
            ),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
        },
        Schedule {
            kind: ScheduleKind::Cosine,
            warmup_steps: f("warmup_steps") as usize,
            total_steps: f("steps") as usize,
        },
        Some(f("max_grad_norm")),
    );
    let ad = device.autodiff();
    let tol = f64::from(lora_tolerance(device));
    let mut worst = 0f64;
    for (k, want) in reference["trajectory"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let report = trainer
            .step(model, &batches[k % batches.len()], &ad)
            .await?;
        let rel = |got: f64, key: &str| {
            let want = want[key].as_f64().unwrap();
            (got - want).abs() / want.abs().max(1e-12)
        };
        let (loss_err, norm_err) = (rel(report.loss, "loss"), rel(report.grad_norm, "grad_norm"));
        assert!(
            loss_err <= tol && norm_err <= tol && !report.skipped,
            "{what} step {k}: loss {} (reference {}), grad norm {} (reference {})",
            report.loss,
            want["loss"],
            report.grad_norm,
            want["grad_norm"]
        );
        assert!(
            (report.lr - want["lr"].as_f64().unwrap()).abs() <= 1e-12,
            "{what} step {k} lr"
        );
        worst = worst.max(loss_err);
    }
    Ok(worst)
}

/// A fresh adapter (B = 0) leaves every logit exactly as the base computes it.
pub async fn fresh_adapter_changes_nothing(device: &ComputeDevice) -> Result<()> {
    use webtune::burn::tensor::{Int, Tensor, TensorData};
    let loaded =
        load_checkpoint_to("llama", crate::tiny_files("llama"), &Placement::of(device)).await?;
    let mut model = loaded.model;
    let ids = || {
        Tensor::<2, Int>::from_data(
            TensorData::new(vec![1i32, 5, 9, 200], [1, 4]),
            device.device(),
        )
    };
    let base = read_f32(model.forward(ids()), "base").await?;
    let config = lora::LoraConfig {
        r: 8,
        lora_alpha: 32.0,
        ..lora::LoraConfig::default()
    };
    let attached = lora::attach(&mut model, &config, 7, device.device())?;
    assert_eq!(attached.len(), 14, "all-linear on 2 layers × 7 projections");
    let adapted = read_f32(model.forward(ids()), "adapted").await?;
    match device.tier() {
        Tier::Cpu => assert_eq!(adapted, base, "B = 0 must leave the logits unchanged"),
        // The branch adds exact zeros, but fusion groups the element-wise work around the
        // chosen matmul kernels (`nn::matmul`) differently once the adapter reads the same
        // inputs: the logits move by an ulp or two of f32.
        _ => compare(
            "B = 0 leaves the logits unchanged",
            &adapted,
            &base,
            Tolerance::new(1e-6, 1e-6),
        )
        .map(|_| ())?,
    }
    // A target that names no layer says which layers exist.
    let bad = lora::LoraConfig {
        target_modules: lora::Targets::Names(vec!["qkv".into()]),
        ..config
    };
    let err = lora::attach(&mut model, &bad, 7, device.device())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("matches no layer") && err.contains("q_proj"),
        "{err}"
    );
    Ok(())
}

/// PEFT's Llama adapter on the tiny GPT-2: a clear error (its targets name no GPT-2 layer),
/// nothing attached.
pub async fn adapter_for_another_base_is_refused(device: &ComputeDevice) -> Result<()> {
    let loaded =
        load_checkpoint_to("gpt2", crate::tiny_files("gpt2"), &Placement::of(device)).await?;
    let mut model = loaded.model;
    let weights = MemorySource::new("adapter_model.safetensors", ADAPTER_WEIGHTS.to_vec());
    let err = lora::peft::load(&mut model, ADAPTER_CONFIG, &weights, device.device())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("adapter_config.json") && err.contains("another base model"),
        "{err}"
    );
    assert!(
        lora::parameters(&model).is_empty(),
        "nothing may be attached"
    );
    Ok(())
}

/// A run stopped at a checkpoint and resumed from it continues the same trajectory: the same
/// losses at every later step (bit for bit on the CPU backend, to 1e-6 relative on GPUs) and
/// the same final parameters — for LoRA with dropout (the masks are seeded per step), with
/// packed batches, for Half Fine-Tuning (rounds of 3 steps), DPO and ORPO. Returns the step
/// resumed at.
///
/// The GPU tiers resume LoRA only: what resuming restores (data order, seeds, optimizer
/// state, the DPO reference) is the same code on every tier, checked for all five bit for bit
/// on the CPU; the GPU runs check that the adapter and AdamW's state survive the device's
/// tensors (the five took 6 minutes of lavapipe's launches, most of the GPU tier's time; LoRA
/// and DPO still took 3.7 minutes).
pub async fn resume_continues_the_same_trajectory(device: &ComputeDevice) -> Result<usize> {
    use webtune::train::{Method, TrainConfig};
    let lora_config = TrainConfig {
        lora: lora::LoraConfig {
            r: 4,
            lora_alpha: 8.0,
            lora_dropout: 0.1,
            ..lora::LoraConfig::default()
        },
        ..TrainConfig::default()
    };
    let mut packed = lora_config.clone();
    packed.data.packing = true;
    packed.data.encode.max_len = 40;
    let half = TrainConfig {
        method: Method::Half,
        hft_round_steps: 3,
        ..TrainConfig::default()
    };
    // DPO (its reference, the base, recomputed after the resume) and ORPO.
    let dpo = TrainConfig {
        objective: webtune::train::Objective::Dpo {
            beta: 0.1,
            label_smoothing: 0.0,
        },
        ..lora_config.clone()
    };
    let orpo = TrainConfig {
        objective: webtune::train::Objective::Orpo { beta: 0.1 },
        ..lora_config.clone()
    };
    let on_cpu = device.tier() == Tier::Cpu;
    let mut at = 0;
    for (config, on_gpu) in [
        (lora_config, true),
        (packed, false),
        (half, false),
        (dpo, false),
        (orpo, false),
    ] {
        // An f16 base trains adapters only (HFT is refused there: see `prepare_model`).
        if config.method != Method::Lora && device.precision() == webtune::device::Precision::F16 {
            continue;
        }
        if !on_cpu && !on_gpu {
            continue;
        }
        at = resume_with(device, config).await?;
    }
    Ok(at)
}

async fn resume_with(
    device: &ComputeDevice,
    base_config: webtune::train::TrainConfig,
) -> Result<usize> {
    use webtune::data::{DataOptions, prepare};
    use webtune::generate::Flow;
    use webtune::train::{Checkpoint, Event, TrainConfig, fine_tune, params, prepare_model};

    let tiny = crate::load_tiny("llama", device).await?;
    let tokenizer = tiny.tokenizer.expect("tokenizer.json");
    let text = match base_config.objective.is_preference() {
        true => pairs_jsonl(24),
        false => chat_jsonl(24),
    };
    let data = prepare(
        "chat.jsonl",
        &text,
        None,
        &tokenizer,
        &DataOptions::default(),
    )?;
    let config = TrainConfig {
        optimizer: AdamWConfig {
            lr: 5e-3,
            ..AdamWConfig::default()
        },
        warmup_steps: 2,
        epochs: 5,
        batch_size: 4,
        grad_accumulation: 2,
        eval_every: 4,
        checkpoint_every: 5,
        seed: 3,
        ..base_config
    };
    let placement = Placement::training(device);
    let fresh = || async {
        let loaded = load_checkpoint_to("llama", crate::tiny_files("llama"), &placement).await?;
        let mut model = loaded.model;
        prepare_model(&mut model, &config, &placement.device)?;
        Ok::<_, webtune::Error>(model)
    };
    let losses = |log: &[Event]| -> Vec<(usize, f64)> {
        log.iter()
            .filter_map(|e| match e {
                Event::Step { report, .. } => Some((report.step, report.loss)),
                _ => None,
            })
            .collect()
    };

    let mut model = fresh().await?;
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let log = fine_tune(
        &mut model,
        &data,
        &config,
        &placement.device,
        None,
        |_| Flow::Continue,
        |c| {
            checkpoints.push(c);
            Ok(())
        },
    )
    .await?;
    let full = losses(&log);
    let what = config.objective.name();
    assert!(full.len() > 10, "{what}: {} steps", full.len());
    assert!(
        full.iter().all(|(_, l)| l.is_finite()),
        "{what}: a loss is not finite: {full:?}"
    );
    let checkpoint = checkpoints.get(1).expect("a checkpoint at step 10");
    let at = checkpoint.state()?.step;

    let mut resumed = fresh().await?;
    let log = fine_tune(
        &mut resumed,
        &data,
        &config,
        &placement.device,
        Some(checkpoint),
        |_| Flow::Continue,
        |_| Ok(()),
    )
    .await?;
    let rest = losses(&log);
    assert_eq!(
        rest.first().map(|s| s.0),
        Some(at),
        "resumes at the checkpoint's step"
    );
    let exact = device.tier() == Tier::Cpu;
    for ((step, a), (_, b)) in full[at..].iter().zip(&rest) {
        let same = if exact {
            a.to_bits() == b.to_bits()
        } else {
            (a - b).abs() <= 1e-6 * a.abs()
        };
        assert!(
            same,
            "{what} step {step}: uninterrupted loss {a}, resumed {b}"
        );
    }
    assert_eq!(rest.len(), full.len() - at);
    for ((key, a, _), (_, b, _)) in params::all(&model).into_iter().zip(params::all(&resumed)) {
        let (a, b) = (read_f32(a, &key).await?, read_f32(b, &key).await?);
        let tol = if exact { 0.0 } else { 1e-5 };
        compare(&key, &b, &a, Tolerance::new(tol, tol))?;
    }
    Ok(at)
}

/// Merging PEFT's adapter (alpha 8, r 4) into the base gives the adapted logits, and the merged
/// model written as a Hugging Face checkpoint (`config.json` + `model.safetensors`) loads back
/// to the same logits. Returns the merged folder's files.
pub async fn merged_equals_unmerged(device: &ComputeDevice) -> Result<Vec<(String, Vec<u8>)>> {
    use webtune::burn::tensor::{Int, Tensor, TensorData};
    use webtune::models::export;

    let loaded =
        load_checkpoint_to("llama", crate::tiny_files("llama"), &Placement::of(device)).await?;
    let mut model = loaded.model;
    let weights = MemorySource::new("adapter_model.safetensors", ADAPTER_WEIGHTS.to_vec());
    lora::peft::load(&mut model, ADAPTER_CONFIG, &weights, device.device()).await?;
    let ids = || {
        Tensor::<2, Int>::from_data(
            TensorData::new(vec![1i32, 17, 250, 3, 99, 42], [1, 6]),
            device.device(),
        )
    };
    let adapted = read_f32(model.forward(ids()), "adapted").await?;
    let err = export::safetensors(&model).await.unwrap_err().to_string();
    assert!(err.contains("merge it first"), "{err}");
    lora::merge(&mut model);
    assert!(lora::parameters(&model).is_empty());
    let merged = read_f32(model.forward(ids()), "merged").await?;
    // Merged into an f16 base, each weight is rounded to f16 (2^-11 relative), which the
    // adapted model never does; in f32 both compute the same thing.
    let tol = match device.precision() {
        webtune::device::Precision::F16 => Tolerance::new(1e-2, 1e-2),
        webtune::device::Precision::F32 => Tolerance::new(1e-5, 1e-5),
    };
    compare("merged vs adapted", &merged, &adapted, tol)?;

    // DoRA merges too: W' = (W + s·A·B) · m / ‖W + s·A·B‖.
    let mut dora = load_checkpoint_to("llama", crate::tiny_files("llama"), &Placement::of(device))
        .await?
        .model;
    let weights = MemorySource::new("adapter_model.safetensors", DORA.weights.to_vec());
    lora::peft::load(&mut dora, DORA.config, &weights, device.device()).await?;
    let dora_adapted = read_f32(dora.forward(ids()), "DoRA").await?;
    lora::merge(&mut dora);
    let dora_merged = read_f32(dora.forward(ids()), "DoRA merged").await?;
    compare("DoRA merged vs adapted", &dora_merged, &dora_adapted, tol)?;

    let config = serde_json::to_vec_pretty(&export::config_json(&loaded.config)).unwrap();
    let files = vec![
        ("merged/config.json".to_string(), config),
        (
            "merged/model.safetensors".to_string(),
            export::safetensors(&model).await?,
        ),
    ];
    let sources = files
        .iter()
        .map(|(n, b)| MemorySource::new(n.clone(), b.clone()))
        .collect();
    let reloaded = load_checkpoint_to("merged", sources, &Placement::of(device)).await?;
    assert_eq!(reloaded.config, loaded.config, "config.json round trip");
    let again = read_f32(reloaded.model.forward(ids()), "reloaded").await?;
    compare("reloaded merged", &again, &merged, Tolerance::new(0.0, 0.0))?;
    Ok(files)
}
