//! Preference training against TRL (`fixtures/preference/`, made by its `make_fixture.py`):
//! webtune tokenizes TRL's pairs as TRL does; DPO (against the base and against the adapter
//! it started from), robust DPO and ORPO give TRL's loss, rewards and every adapter gradient
//! on one batch; and 20 AdamW steps of DPO and ORPO follow TRL's losses and rewards.

use webtune::data::{Encoded, EncodedPair, IGNORE, Padding, PairBatch, encode_pair, read_pairs};
use webtune::device::read_f32;
use webtune::lora;
use webtune::models::Model;
use webtune::numerics::{Agreement, Tolerance, compare};
use webtune::tokenizer::Tokenizer;
use webtune::train::{
    AdamWConfig, Objective, Reference, Schedule, ScheduleKind, StepReport, Trainer, preference_loss,
};
use webtune::{ComputeDevice, Result, Tier};

const REFERENCE_JSON: &str = include_str!("../fixtures/preference/reference.json");

fn reference() -> serde_json::Value {
    serde_json::from_str(REFERENCE_JSON).unwrap()
}

/// TRL's settings for each run of the fixture.
fn objective(run: &str) -> Objective {
    match run {
        "dpo" | "dpo_base" => Objective::Dpo {
            beta: 0.1,
            label_smoothing: 0.0,
        },
        "robust" => Objective::Dpo {
            beta: 0.1,
            label_smoothing: 0.1,
        },
        _ => Objective::Orpo { beta: 0.1 },
    }
}

/// The eight text pairs as TRL tokenized them.
fn pairs() -> Vec<EncodedPair> {
    let tokenized: Vec<[Vec<u32>; 3]> =
        serde_json::from_value(reference()["tokenized"]["text"].clone()).unwrap();
    tokenized
        .into_iter()
        .enumerate()
        .map(|(i, [prompt, chosen, rejected])| {
            let sequence = |answer: &[u32]| {
                let ids: Vec<u32> = prompt.iter().chain(answer).copied().collect();
                let labels = ids
                    .iter()
                    .enumerate()
                    .map(|(t, &id)| {
                        if t < prompt.len() {
                            IGNORE
                        } else {
                            i64::from(id)
                        }
                    })
                    .collect();
                Encoded {
                    ids,
                    labels,
                    truncated: false,
                    line: i + 1,
                }
            };
            EncodedPair {
                chosen: sequence(&chosen),
                rejected: sequence(&rejected),
            }
        })
        .collect()
}

fn batch(pairs: &[EncodedPair], indices: &[usize]) -> PairBatch {
    let pad = reference()["pad_id"].as_u64().unwrap() as u32;
    let chosen: Vec<&EncodedPair> = indices.iter().map(|&i| &pairs[i]).collect();
    PairBatch::new(&chosen, Padding::to_longest(pad))
}

/// The tiny Llama's tokenizer and chat template.
fn tokenizer() -> Tokenizer {
    Tokenizer::from_hf(
        "tiny",
        include_bytes!("../fixtures/tiny/llama/tokenizer.json"),
        Some(include_bytes!(
            "../fixtures/tiny/llama/tokenizer_config.json"
        )),
        Some(include_str!("../fixtures/tiny/llama/chat_template.jinja").to_string()),
    )
    .unwrap()
}

/// Text pairs (with a prompt, and with the prompt inside the answers) and conversational pairs
/// (explicit and implicit prompt) read from TRL's JSONL records
/// encode to the ids TRL's DPOTrainer gives them.
pub fn preference_pairs_encode_as_trl() {
    let reference = reference();
    let tokenizer = tokenizer();
    let options = webtune::data::EncodeOptions::default();
    for (kind, records) in [
        ("text", "text_pairs"),
        ("implicit", "implicit_pairs"),
        ("chat", "chat_pairs"),
    ] {
        let jsonl: Vec<String> = reference[records]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        let read = read_pairs("pairs.jsonl", &jsonl.join("\n")).unwrap();
        let want: Vec<[Vec<u32>; 3]> =
            serde_json::from_value(reference["tokenized"][kind].clone()).unwrap();
        assert_eq!(read.len(), want.len());
        for ((line, pair), [prompt, chosen, rejected]) in read.iter().zip(want) {
            let got = encode_pair(&tokenizer, pair, *line, &options).unwrap();
            let whole = |answer: &[u32]| [prompt.as_slice(), answer].concat();
            assert_eq!(got.chosen.ids, whole(&chosen), "{kind} line {line}: chosen");
            assert_eq!(
                got.rejected.ids,
                whole(&rejected),
                "{kind} line {line}: rejected"
            );
            let scored = got.chosen.labels.iter().filter(|&&l| l != IGNORE).count();
            assert_eq!(scored, chosen.len(), "{kind} line {line}: answer tokens");
        }
    }
}

/// The tiny Llama on `device`'s autodiff twin with the LoRA fixture's adapter, and the
/// reference `run` measures against.
async fn model_for(device: &ComputeDevice, run: &str) -> Result<(Model, Reference)> {
    let model = crate::tiny_llama_with_peft_adapter(device).await?;
    let reference = match run {
        "dpo" => Reference::starting_from(&model).await?,
        _ => Reference::Base,
    };
    if run == "dpo" {
        assert!(
            matches!(reference, Reference::Adapter(_)),
            "a trained adapter is kept"
        );
    }
    Ok((model, reference))
}

/// TRL's logged values beside webtune's.
fn check_metrics(what: &str, report: &webtune::train::PreferenceStats, want: &serde_json::Value) {
    let pairs = [
        ("rewards/chosen", report.rewards_chosen),
        ("rewards/rejected", report.rewards_rejected),
        ("rewards/margins", report.margins),
        ("logps/chosen", report.logps_chosen),
        ("logps/rejected", report.logps_rejected),
        ("nll_loss", report.nll_loss.unwrap_or(f64::NAN)),
        ("log_odds_ratio", report.log_odds_ratio.unwrap_or(f64::NAN)),
        (
            "log_odds_chosen",
            report.log_odds_chosen.unwrap_or(f64::NAN),
        ),
    ];
    for (key, got) in pairs {
        let Some(want) = want[key].as_f64() else {
            continue;
        };
        assert!(
            (got - want).abs() <= 2e-3 * want.abs().max(1.0),
            "{what}: {key} {got} (TRL {want})"
        );
    }
    // Accuracy counts pairs with chosen > rejected: only comparable where rewards differ.
    if want["rewards/margins"].as_f64().unwrap().abs() > 1e-3 {
        let acc = want["rewards/accuracies"].as_f64().unwrap();
        assert!(
            (report.accuracy - acc).abs() < 1e-6,
            "{what}: accuracy {} (TRL {acc})",
            report.accuracy
        );
    }
}

/// For DPO (both references), robust DPO and ORPO: one forward/backward pass on four pairs
/// gives TRL's loss, rewards and every lora_A / lora_B gradient (relative to each tensor's
/// largest entry).
pub async fn preference_gradients_match_trl(device: &ComputeDevice) -> Result<Agreement> {
    let reference = reference();
    let pairs = pairs();
    let ad = device.autodiff();
    let mut worst = Agreement::default();
    for run in ["dpo", "dpo_base", "robust", "orpo"] {
        let want = &reference["runs"][run]["first"];
        let (model, base) = model_for(device, run).await?;
        let objective = objective(run);
        let batch = batch(&pairs, &[0, 1, 2, 3]);
        let (loss, stats) = preference_loss(&model, &batch, &objective, &base, &ad)?;
        let grads = loss.clone().backward();
        let loss = read_f32(loss, "loss").await?;
        let want_loss = want["loss"].as_f64().unwrap() as f32;
        worst = worst.worst(compare(
            &format!("{run} loss"),
            &loss,
            &[want_loss],
            Tolerance::new(0.0, 1e-4),
        )?);
        let stats = read_f32(stats, "stats").await?;
        let report = webtune::train::PreferenceStats::from_values(&objective, &[(4, &stats)]);
        check_metrics(run, &report, &want["metrics"]);
        let want_grads = want["grads"].as_object().unwrap();
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
            let grad = webtune::nn::transpose(&read_f32(grad, &key).await?, rows, cols);
            let want: Vec<Vec<f32>> = serde_json::from_value(want_grads[&key].clone()).unwrap();
            let want = want.concat();
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            worst = worst.worst(compare(
                &format!("{run} {key}"),
                &grad,
                &want,
                Tolerance::new(1e-3 * scale, 0.0),
            )?);
        }
    }
    Ok(worst)
}

/// How closely a trajectory must follow TRL's, relative, per step.
fn trajectory_tolerance(device: &ComputeDevice) -> f64 {
    match device.tier() {
        Tier::Cpu => 1e-3,
        Tier::Gpu => 1e-3,
    }
}

/// DPO (against the adapter it started from) and ORPO: the first `steps` of TRL's 20
/// AdamW steps (cosine schedule, 3 warmup steps, clipping at 1) over the same batches of two
/// pairs: loss, learning rate, gradient norm and rewards at every step. Returns the worst
/// relative loss error.
pub async fn preference_trajectory_matches_trl_for(
    device: &ComputeDevice,
    steps: usize,
) -> Result<f64> {
    let reference = reference();
    let pairs = pairs();
    let ad = device.autodiff();
    let tol = trajectory_tolerance(device);
    let mut worst = 0f64;
    for run in ["dpo", "orpo"] {
        let (mut model, base) = model_for(device, run).await?;
        let objective = objective(run);
        let trajectory = &reference["runs"][run]["trajectory"];
        let mut trainer = Trainer::new(
            AdamWConfig {
                lr: 5e-3,
                betas: (0.9, 0.999),
                eps: 1e-8,
                weight_decay: 0.01,
            },
            Schedule {
                kind: ScheduleKind::Cosine,
                warmup_steps: 3,
                total_steps: 20,
            },
            Some(1.0),
        );
        let batches: Vec<Vec<usize>> =
            serde_json::from_value(trajectory["batches"].clone()).unwrap();
        for (k, want) in trajectory["steps"]
            .as_array()
            .unwrap()
            .iter()
            .take(steps)
            .enumerate()
        {
            let micro = [batch(&pairs, &batches[k])];
            let report: StepReport = trainer
                .step_pairs(&mut model, &micro, &objective, &base, &ad)
                .await?;
            let rel = |got: f64, key: &str| {
                let want = want[key].as_f64().unwrap();
                (got - want).abs() / want.abs().max(1e-12)
            };
            let (loss_err, norm_err) =
                (rel(report.loss, "loss"), rel(report.grad_norm, "grad_norm"));
            assert!(
                loss_err <= tol && norm_err <= tol && rel(report.lr, "lr") < 1e-9,
                "{run} step {k}: loss {} (TRL {}), grad norm {} (TRL {}), lr {} (TRL {})",
                report.loss,
                want["loss"],
                report.grad_norm,
                want["grad_norm"],
                report.lr,
                want["lr"]
            );
            let stats = report.preference.expect("preference steps report rewards");
            check_metrics(&format!("{run} step {k}"), &stats, &want["metrics"]);
            worst = worst.max(loss_err);
        }
    }
    Ok(worst)
}

/// All 20 steps.
pub async fn preference_trajectory_matches_trl(device: &ComputeDevice) -> Result<f64> {
    preference_trajectory_matches_trl_for(device, usize::MAX).await
}
