//! The other methods through the same trainer: full fine-tuning against PyTorch
//! (`fixtures/full/`, made by its `make_fixture.py`), Half Fine-Tuning's frozen half, packed
//! batches against unpacked ones, and LoRA dropout.

use std::collections::BTreeMap;

use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::data::{Encoded, Padding, batches};
use webtune::device::read_f32;
use webtune::io::MemorySource;
use webtune::io::safetensors::SafetensorsFile;
use webtune::models::{LinearLayers, Model, Placement, load_checkpoint_to};
use webtune::numerics::{Agreement, Tolerance, compare};
use webtune::train::{
    AdamWConfig, Method, Schedule, ScheduleKind, TrainConfig, Trainer, causal_lm_loss, params,
    prepare_model, select_half,
};
use webtune::{ComputeDevice, Result, Tier};

const FULL_REFERENCE: &str = include_str!("../fixtures/full/reference.json");
const FULL_GRADS: &[u8] = include_bytes!("../fixtures/full/grads.safetensors");
const FULL_FINAL: &[u8] = include_bytes!("../fixtures/full/final.safetensors");

/// The tiny Llama on `device`'s autodiff twin, prepared for `config`'s method.
async fn tiny_llama_for(device: &ComputeDevice, config: &TrainConfig) -> Result<Model> {
    let placement = Placement::training(device);
    let mut model = load_checkpoint_to("llama", crate::tiny_files("llama"), &placement)
        .await?
        .model;
    prepare_model(&mut model, config, &placement.device)?;
    Ok(model)
}

fn full() -> TrainConfig {
    TrainConfig {
        method: Method::Full,
        ..TrainConfig::default()
    }
}

/// Every parameter by its transformers name, from our module paths: values (or gradients)
/// flattened in PyTorch's layout (linear weights transposed back to `[out, in]`, row blocks
/// of a vocabulary matrix joined).
fn by_hf_name(model: &Model, tensors: Vec<(String, Vec<f32>)>) -> BTreeMap<String, Vec<f32>> {
    let linear: BTreeMap<String, [usize; 2]> = model
        .linear_layers()
        .into_iter()
        .map(|(path, l)| (format!("{path}.weight"), l.shape()))
        .collect();
    let mut out: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for (path, values) in tensors {
        let rest = path.as_str();
        let name = match rest.split_once(".chunks.") {
            Some(("lm_head", _)) => "lm_head.weight".to_string(),
            Some((matrix, _)) => format!("model.{matrix}.weight"),
            None => format!("model.{rest}"),
        };
        let values = match linear.get(&name) {
            Some(&[inp, o]) => webtune::nn::transpose(&values, inp, o),
            None => values,
        };
        out.entry(name).or_default().extend(values);
    }
    out
}

async fn host(tensors: Vec<(String, Tensor<1>)>) -> Result<Vec<(String, Vec<f32>)>> {
    let mut out = Vec::new();
    for (name, t) in tensors {
        let values = read_f32(t, &name).await?;
        out.push((name, values));
    }
    Ok(out)
}

async fn fixture_tensors(name: &str, bytes: &[u8]) -> Result<BTreeMap<String, Vec<f32>>> {
    let source = MemorySource::new(name, bytes.to_vec());
    let file = SafetensorsFile::open(&source).await?;
    let mut out = BTreeMap::new();
    for key in file.tensors.keys() {
        out.insert(key.clone(), file.read_f32(&source, key).await?);
    }
    Ok(out)
}

/// Full fine-tuning: one backward pass gives PyTorch's gradient for every parameter of the
/// tiny Llama (relative to each tensor's largest entry: 1e-3 on the CPU backend, 1e-2 on GPUs).
pub async fn full_gradients_match_pytorch(device: &ComputeDevice) -> Result<Agreement> {
    let reference: serde_json::Value = serde_json::from_str(FULL_REFERENCE).unwrap();
    let model = tiny_llama_for(device, &full()).await?;
    let trainable = params::trainable(&model);
    let loss = causal_lm_loss(&model, &crate::lora::batches()[0], &device.autodiff())?;
    let grads = loss.clone().backward();
    let loss = read_f32(loss, "loss").await?;
    let want_loss = reference["loss"].as_f64().unwrap() as f32;
    let mut worst = compare("loss", &loss, &[want_loss], Tolerance::new(0.0, 1e-5))?;
    let grads = params::gradients(&model, &grads);
    assert_eq!(grads.len(), trainable.len(), "a gradient per parameter");
    let got = by_hf_name(&model, host(grads).await?);
    let want = fixture_tensors("grads.safetensors", FULL_GRADS).await?;
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same parameters as transformers"
    );
    let tol = crate::lora_tolerance(device);
    for (name, want) in &want {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        worst = worst.worst(compare(
            name,
            &got[name],
            want,
            Tolerance::new(tol * scale, 0.0),
        )?);
    }
    Ok(worst)
}

/// Full fine-tuning: 20 AdamW steps over every parameter follow PyTorch's loss, learning rate
/// and gradient norm at every step, and end at PyTorch's parameter values. Returns the worst
/// relative loss error.
pub async fn full_trajectory_matches_pytorch(device: &ComputeDevice) -> Result<f64> {
    let reference: serde_json::Value = serde_json::from_str(FULL_REFERENCE).unwrap();
    let mut model = tiny_llama_for(device, &full()).await?;
    let worst = crate::lora::follow_trajectory(
        &mut model,
        &reference,
        &crate::lora::batches(),
        device,
        "full",
    )
    .await?;
    let tol = f64::from(crate::lora_tolerance(device));
    let all = params::all(&model)
        .into_iter()
        .map(|(p, v, _)| (p, v))
        .collect();
    let got = by_hf_name(&model, host(all).await?);
    for (name, want) in fixture_tensors("final.safetensors", FULL_FINAL).await? {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        compare(
            &format!("{name} after 20 steps"),
            &got[&name],
            &want,
            Tolerance::new(tol as f32 * scale, 0.0),
        )?;
    }
    Ok(worst)
}

/// Half Fine-Tuning: after one step, exactly the chosen half moved — each chosen parameter
/// to where full fine-tuning's first step (without clipping, which couples parameters) puts
/// it — and every other parameter is bit-identical to the base. Returns how many tensors of
/// how many were trained.
pub async fn half_fine_tuning_trains_only_its_half(
    device: &ComputeDevice,
) -> Result<(usize, usize)> {
    let ad = device.autodiff();
    let batch = &crate::lora::batches()[0];
    let trainer = || {
        Trainer::new(
            AdamWConfig {
                lr: 1e-3,
                ..AdamWConfig::default()
            },
            Schedule {
                kind: ScheduleKind::Constant,
                warmup_steps: 0,
                total_steps: 1,
            },
            None,
        )
    };
    let values = |model: &Model| {
        let all: Vec<(String, Tensor<1>)> = params::all(model)
            .into_iter()
            .map(|(p, v, _)| (p, v))
            .collect();
        host(all)
    };
    let mut whole = tiny_llama_for(device, &full()).await?;
    trainer().step(&mut whole, batch, &ad).await?;
    let whole = values(&whole).await?;

    let half_config = TrainConfig {
        method: Method::Half,
        ..TrainConfig::default()
    };
    let mut half = tiny_llama_for(device, &half_config).await?;
    let before = values(&half).await?;
    let chosen = select_half(&mut half, 11, 0);
    assert_eq!(params::trainable(&half).len(), chosen.len());
    trainer().step(&mut half, batch, &ad).await?;
    let after = values(&half).await?;
    let tol = Tolerance::new(1e-6, 1e-5);
    for (((path, a), (_, b)), (_, w)) in after.iter().zip(&before).zip(&whole) {
        if chosen.contains(path) {
            compare(path, a, w, tol)?;
            assert_ne!(a, b, "{path} was chosen but did not move");
        } else {
            assert!(
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{path} was frozen but changed"
            );
        }
    }
    Ok((chosen.len(), after.len()))
}

/// Examples of several lengths whose labels train their second half.
fn examples() -> Vec<Encoded> {
    let lengths = [7, 3, 11, 5, 9, 4, 6];
    lengths
        .iter()
        .enumerate()
        .map(|(n, &len)| {
            let ids: Vec<u32> = (0..len)
                .map(|t| ((n * 37 + t * 11) % 300 + 3) as u32)
                .collect();
            let labels = ids
                .iter()
                .enumerate()
                .map(|(t, &id)| {
                    if t >= len / 2 {
                        i64::from(id)
                    } else {
                        webtune::train::IGNORE
                    }
                })
                .collect();
            Encoded {
                ids,
                labels,
                truncated: false,
                line: n + 1,
            }
        })
        .collect()
}

/// Packing and padding: the same examples packed several to a row (no attention across
/// them, positions restarting), or padded to a multiple of 8 tokens, give the loss and every
/// gradient that one example per row, as wide as the longest, gives, for the tiny Llama
/// (RoPE) and GPT-2 (learned positions). Returns the worst gradient difference.
pub async fn packed_and_padded_batches_match(device: &ComputeDevice) -> Result<f32> {
    let examples = examples();
    let order: Vec<usize> = (0..examples.len()).collect();
    let n = examples.len();
    let unpacked = batches(&examples, &order, n, Padding::to_longest(0), None);
    let packed = batches(&examples, &order, n, Padding::to_longest(0), Some(16));
    let rounded = Padding {
        id: 0,
        multiple: 8,
        at_most: 64,
    };
    let padded = batches(&examples, &order, n, rounded, None);
    assert_eq!(unpacked.len(), 1);
    assert_eq!(packed.len(), 1);
    assert!(
        packed[0].ids.len() < examples.len() && packed[0].ids[0].len() <= 16,
        "rows really hold several examples"
    );
    assert_eq!(
        (unpacked[0].ids[0].len(), padded[0].ids[0].len()),
        (11, 16),
        "padding really widens the batch"
    );
    assert_eq!(packed[0].trained_tokens(), unpacked[0].trained_tokens());
    assert_eq!(padded[0].trained_tokens(), unpacked[0].trained_tokens());
    let placement = Placement::training(device);
    let mut worst = 0f32;
    for family in ["llama", "gpt2"] {
        let mut run = Vec::new();
        for batch in [&unpacked[0], &packed[0], &padded[0]] {
            let mut model = load_checkpoint_to(family, crate::tiny_files(family), &placement)
                .await?
                .model;
            prepare_model(&mut model, &full(), &placement.device)?;
            let loss = causal_lm_loss(&model, batch, &placement.device)?;
            let grads = loss.clone().backward();
            let loss = read_f32(loss, "loss").await?;
            run.push((loss, host(params::gradients(&model, &grads)).await?));
        }
        let tol = Tolerance::new(2e-6, 1e-4);
        for (layout, other) in [("packed", &run[1]), ("padded", &run[2])] {
            compare(&format!("{family} {layout} loss"), &other.0, &run[0].0, tol)?;
            for ((name, a), (_, b)) in other.1.iter().zip(&run[0].1) {
                let diff = compare(&format!("{family} {layout} {name}"), a, b, tol)?;
                worst = worst.max(diff.max_abs_diff);
            }
        }
    }
    Ok(worst)
}

/// LoRA dropout while training: losses differ from the run without it, repeat exactly from
/// the same seed, and evaluation (`valid()`) applies no dropout.
pub async fn lora_dropout_is_seeded_and_off_in_evaluation(device: &ComputeDevice) -> Result<()> {
    use webtune::burn::module::Module;
    let ad = device.autodiff();
    let batch = &crate::lora::batches()[0];
    let config = |dropout| TrainConfig {
        lora: webtune::lora::LoraConfig {
            r: 4,
            lora_alpha: 8.0,
            lora_dropout: dropout,
            ..Default::default()
        },
        ..TrainConfig::default()
    };
    let mut losses = Vec::new();
    let mut eval = Vec::new();
    for dropout in [0.0, 0.5, 0.5] {
        let mut model = tiny_llama_for(device, &config(dropout)).await?;
        let mut trainer = Trainer::new(
            AdamWConfig {
                lr: 1e-2,
                ..AdamWConfig::default()
            },
            Schedule {
                kind: ScheduleKind::Constant,
                warmup_steps: 0,
                total_steps: 3,
            },
            None,
        );
        trainer.seed = 5;
        let mut run = Vec::new();
        for _ in 0..3 {
            run.push(trainer.step(&mut model, batch, &ad).await?.loss);
        }
        losses.push(run);
        // After B moved, the evaluation copy must be deterministic and dropout-free.
        let inference = model.valid();
        let ids: Vec<i32> = batch.ids[0].iter().map(|&i| i as i32).collect();
        let n = ids.len();
        let input =
            || Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, n]), device.device());
        use webtune::models::CausalLm;
        let first = read_f32(inference.forward(input()), "eval").await?;
        let second = read_f32(inference.forward(input()), "eval").await?;
        assert_eq!(first, second, "evaluation must not drop anything");
        eval.push(first);
    }
    assert_ne!(losses[0][1..], losses[1][1..], "dropout changed nothing");
    let exact = device.tier() == Tier::Cpu;
    for (a, b) in losses[1].iter().zip(&losses[2]) {
        assert!(
            if exact {
                a == b
            } else {
                (a - b).abs() <= 1e-6 * a.abs()
            },
            "the same seed gave other dropout masks: {a} vs {b}"
        );
    }
    Ok(())
}

/// The dense twin of a quantized model: every 4-bit weight replaced by its dequantized f32
/// values, so that both must compute the same numbers.
fn dequantized_twin(model: &Model) -> Model {
    use webtune::burn::module::Param;
    use webtune::nn::Weight;
    let mut twin = model.clone();
    for (_, linear) in twin.linear_layers_mut() {
        if linear.weight.is_quantized() {
            let values = linear.weight.val();
            linear.weight = Weight::Dense(Param::from_tensor(values).set_require_grad(false));
        }
    }
    twin
}

/// A QLoRA-style base (every linear weight of the tiny Llama in 4-bit blocks): it takes about
/// a fifth of the dense bytes, computes exactly what its dequantized dense twin computes, close
/// to the original model, and LoRA on it gets the twin's gradients; full fine-tuning of it is
/// refused. Returns (quantized bytes, dense bytes, max |Δ| logits vs the original model).
pub async fn quantized_base_trains_lora(device: &ComputeDevice) -> Result<(usize, usize, f32)> {
    use webtune::burn::module::Module;
    use webtune::models::CausalLm;
    let placement = Placement::training(device);
    let files = || crate::tiny_files("llama");
    let dense = load_checkpoint_to("llama", files(), &placement)
        .await?
        .model;
    let quantized = load_checkpoint_to("llama", files(), &placement.clone().quantized())
        .await?
        .model;
    let bytes = |m: &Model| -> usize {
        m.linear_layers()
            .iter()
            .map(|(_, l)| l.weight.bytes())
            .sum()
    };
    let (q_bytes, d_bytes) = (bytes(&quantized), bytes(&dense));
    assert!(
        quantized
            .linear_layers()
            .iter()
            .all(|(_, l)| l.weight.is_quantized()),
        "every projection of the tiny Llama fits 4-bit blocks"
    );
    assert_eq!(q_bytes * 16, d_bytes * 3, "6 bits a weight instead of 32");

    let batch = &crate::lora::batches()[0];
    let (rows, seq) = batch.shape()?;
    let ids: Vec<i32> = batch.ids.iter().flatten().map(|&i| i as i32).collect();
    let input =
        || Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [rows, seq]), device.device());
    let original = read_f32(dense.valid().forward(input()), "dense").await?;
    let q_logits = read_f32(quantized.valid().forward(input()), "quantized").await?;
    let twin_logits = read_f32(
        dequantized_twin(&quantized).valid().forward(input()),
        "twin",
    )
    .await?;
    compare(
        "4-bit vs its dequantized twin",
        &q_logits,
        &twin_logits,
        Tolerance::new(1e-5, 1e-5),
    )?;
    let drift = original
        .iter()
        .zip(&q_logits)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));

    // LoRA on the 4-bit base: the twin's gradients.
    let config = TrainConfig {
        lora: webtune::lora::LoraConfig {
            r: 4,
            lora_alpha: 8.0,
            ..Default::default()
        },
        ..TrainConfig::default()
    };
    let mut grads = Vec::new();
    for base in [quantized.clone(), dequantized_twin(&quantized)] {
        let mut model = base;
        prepare_model(&mut model, &config, &placement.device)?;
        // B non-zero so that A's gradient is not zero either.
        params::map(&mut model, |path, value, trainable| {
            (trainable && path.ends_with("low_rank.b"))
                .then(|| (value.ones_like().mul_scalar(0.05), true))
        });
        let loss = causal_lm_loss(&model, batch, &placement.device)?;
        let g = loss.backward();
        grads.push(host(params::gradients(&model, &g)).await?);
    }
    assert_eq!(
        grads[0].len(),
        28,
        "A and B of 14 layers, nothing of the base"
    );
    for ((name, a), (_, b)) in grads[0].iter().zip(&grads[1]) {
        compare(
            &format!("4-bit base: {name}"),
            a,
            b,
            Tolerance::new(1e-5, 1e-4),
        )?;
    }
    let mut full_on_quantized = quantized;
    let err = prepare_model(&mut full_on_quantized, &full(), &placement.device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("quantized"), "{err}");
    Ok((q_bytes, d_bytes, drift))
}

/// A full fine-tuning checkpoint names every parameter by what it is, not by how a device
/// stored it: written on the CPU tier (vocabulary matrices whole), it resumes on `device`
/// with the embedding and LM head split into four row blocks (a binding limit of 12 KiB) on
/// the uninterrupted run's trajectory, and what the split run saves holds whole matrices
/// again. Returns the worst relative loss difference after resuming.
pub async fn full_checkpoint_resumes_across_layouts(device: &ComputeDevice) -> Result<f64> {
    use webtune::data::{DataOptions, prepare};
    use webtune::flow::Flow;
    use webtune::train::{Checkpoint, Event, fine_tune};

    let cpu = ComputeDevice::cpu();
    let tokenizer = crate::load_tiny("llama", &cpu)
        .await?
        .tokenizer
        .expect("tokenizer");
    let data = prepare(
        "chat.jsonl",
        &crate::chat_jsonl(24),
        None,
        &tokenizer,
        &DataOptions::default(),
    )?;
    let config = TrainConfig {
        method: Method::Full,
        optimizer: AdamWConfig {
            lr: 1e-3,
            ..AdamWConfig::default()
        },
        warmup_steps: 1,
        epochs: 3,
        max_steps: Some(8),
        batch_size: 4,
        eval_every: 0,
        checkpoint_every: 2,
        seed: 5,
        ..TrainConfig::default()
    };
    let losses = |log: &[Event]| -> Vec<f64> {
        log.iter()
            .filter_map(|e| match e {
                Event::Step { report, .. } => Some(report.loss),
                _ => None,
            })
            .collect()
    };
    let run = |placement: Placement, resume: Option<Checkpoint>| {
        let (data, config) = (&data, &config);
        async move {
            let loaded =
                load_checkpoint_to("llama", crate::tiny_files("llama"), &placement).await?;
            let mut model = loaded.model;
            prepare_model(&mut model, config, &placement.device)?;
            let mut saved = Vec::new();
            let log = fine_tune(
                &mut model,
                data,
                config,
                &placement.device,
                resume.as_ref(),
                |_| Flow::Continue,
                |c| {
                    saved.push(c);
                    Ok(())
                },
            )
            .await?;
            Ok::<_, webtune::Error>((log, saved, model))
        }
    };

    let (log, saved, _) = run(Placement::training(&cpu), None).await?;
    let whole = losses(&log);
    assert_eq!(whole.len(), 8);
    let at_4 = saved
        .iter()
        .find(|c| c.state().is_ok_and(|s| s.step == 4))
        .expect("a checkpoint at step 4")
        .clone();

    let split = Placement::training(device).with_max_tensor_bytes(12 << 10);
    let (log, saved, model) = run(split, Some(at_4)).await?;
    let blocks = params::all(&model)
        .iter()
        .filter(|(p, _, _)| p.contains("embed_tokens.chunks."))
        .count();
    assert_eq!(blocks, 4, "the embedding is not split into four blocks");
    let rest = losses(&log);
    assert_eq!(rest.len(), 4, "resumed steps: {rest:?}");
    let mut worst = 0f64;
    for (k, (a, b)) in whole[4..].iter().zip(&rest).enumerate() {
        let error = (a - b).abs() / a.abs();
        assert!(
            error <= 1e-4,
            "step {}: uninterrupted on the CPU {a}, resumed split on {} {b}",
            k + 4,
            device.tier()
        );
        worst = worst.max(error);
    }
    let last = saved.last().expect("a checkpoint of the split run");
    let stored = SafetensorsFile::open(&MemorySource::new(
        "parameters.safetensors",
        last.files["parameters.safetensors"].clone(),
    ))
    .await?;
    assert!(
        stored.tensors.keys().all(|k| !k.contains(".chunks.")),
        "a saved name carries the device's layout: {:?}",
        stored.tensors.keys().collect::<Vec<_>>()
    );
    Ok(worst)
}
