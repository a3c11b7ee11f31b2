//! Handing a fine-tune to bigger hardware: a folder that runs the same LoRA/DoRA job with
//! Hugging Face TRL + PEFT under `accelerate launch` / `torchrun`, on one GPU or many.
//!
//! The folder holds the data as webtune rendered it (token ids and labels, -100 where nothing
//! is trained), the micro-batches of every epoch in webtune's seeded order, the adapter webtune
//! would start from (PEFT's layout), the tokenizer, `job.json` with the run's settings under
//! transformers' names, `train.py`, accelerate configs (DDP, DeepSpeed ZeRO-2, FSDP) and a
//! README. Run on one process with the same settings, TRL follows webtune's loss trajectory
//! (`tests/fixtures/export_job/`); the adapter it writes comes back as any PEFT adapter.

use burn::module::Module;
use serde_json::json;

use super::{Session, policy};
use crate::data::Encoded;
use crate::error::{Error, Result};
use crate::lora;
use crate::train::{Method, ScheduleKind, TrainConfig, micro_batches, planned_steps};

/// The job's fixed files: the script, its README, what it needs, accelerate configs.
const ASSETS: [(&str, &str); 6] = [
    ("train.py", include_str!("train.py")),
    ("README.md", include_str!("README.md")),
    ("requirements.txt", include_str!("requirements.txt")),
    ("accelerate/multi_gpu.yaml", include_str!("multi_gpu.yaml")),
    (
        "accelerate/deepspeed_zero2.yaml",
        include_str!("deepspeed_zero2.yaml"),
    ),
    ("accelerate/fsdp.yaml", include_str!("fsdp.yaml")),
];

fn refused(problem: String) -> Error {
    Error::Export {
        what: "the training job".into(),
        problem,
    }
}

/// One example per line: `{"input_ids": [...], "labels": [...]}`.
fn jsonl(examples: &[Encoded]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in examples {
        let line = json!({"input_ids": e.ids, "labels": e.labels});
        out.extend(line.to_string().into_bytes());
        out.push(b'\n');
    }
    out
}

/// `{"epochs": [...]}`, an epoch per line.
fn order_json(order: &[Vec<Vec<usize>>]) -> Vec<u8> {
    let epochs: Vec<String> = order.iter().map(|e| json!(e).to_string()).collect();
    format!("{{\"epochs\": [\n{}\n]}}\n", epochs.join(",\n")).into_bytes()
}

/// transformers' `lr_scheduler_type` for a webtune schedule.
fn scheduler(kind: ScheduleKind) -> &'static str {
    match kind {
        ScheduleKind::Constant => "constant_with_warmup",
        ScheduleKind::Linear => "linear",
        ScheduleKind::Cosine => "cosine",
    }
}

impl Session {
    /// The files of a job (see the module docs) that trains the open model on the loaded
    /// dataset with `config`, as `train` would; `base_model` is what the job loads as the base
    /// (a Hugging Face id, a folder or a GGUF path; default: what the model was opened as).
    /// Refused, before anything is made, for what TRL would not train the same way: full
    /// fine-tuning or Half Fine-Tuning, packing, and preference data (not exported yet).
    pub async fn export_job(
        &self,
        config: TrainConfig,
        base_model: Option<&str>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let config = self.on_loaded_data(config)?;
        let data = self.dataset()?;
        config.validate()?;
        if config.method != Method::Lora {
            return Err(refused(format!(
                "method {:?} has no PEFT adapter to hand over; export LoRA or DoRA runs",
                config.method
            )));
        }
        if config.objective.is_preference() || data.pairs.is_some() {
            return Err(refused(format!(
                "the job trains with TRL's SFTTrainer; {} on preference pairs is not exported \
                 yet (train it here, then hand over the adapter)",
                config.objective.name()
            )));
        }
        if config.data.packing {
            return Err(refused(
                "packed sequences need flash-attention's padding-free kernels to train the same \
                 way in transformers; turn packing off for the exported job"
                    .into(),
            ));
        }
        let open = self.model()?;
        let device = self.device.autodiff();
        let mut model = open.loaded.model.clone().no_grad();
        lora::detach(&mut model);
        lora::attach(&mut model, &config.lora, config.seed, &device)?;
        let base_model = base_model.unwrap_or(&open.name);
        let (adapter_config, weights) = lora::peft::save(&model, &config.lora, base_model).await?;
        let total_steps = planned_steps(data, &config);
        // The epochs the steps reach into, each as the trainer takes its micro-batches.
        let (mut order, mut steps) = (Vec::new(), 0);
        loop {
            let epoch = micro_batches(data, &config, order.len());
            steps += epoch.len().div_ceil(config.grad_accumulation);
            let empty = epoch.is_empty();
            order.push(epoch);
            if steps >= total_steps || empty {
                break;
            }
        }
        let epochs = order.len();
        let o = &config.optimizer;
        let job = json!({
            "format": "webtune-job",
            "version": 1,
            "webtune": env!("CARGO_PKG_VERSION"),
            "base_model": base_model,
            "adapter": if config.lora.use_dora { "dora" } else { "lora" },
            "seed": config.seed,
            "epochs": epochs,
            "max_steps": total_steps,
            "per_device_train_batch_size": config.batch_size,
            "gradient_accumulation_steps": config.grad_accumulation,
            "learning_rate": o.lr,
            "adam_beta1": o.betas.0,
            "adam_beta2": o.betas.1,
            "adam_epsilon": o.eps,
            "weight_decay": o.weight_decay,
            "lr_scheduler_type": scheduler(config.schedule),
            "warmup_steps": config.warmup_steps,
            "max_grad_norm": config.max_grad_norm.unwrap_or(0.0),
            "eval_steps": config.eval_every,
            "pad_token_id": data.pad_id,
            "train_examples": data.train.len(),
            "validation_examples": data.validation.len(),
            "trained_tokens": data.train.iter().map(Encoded::trained_tokens).sum::<usize>(),
            "webtune_config": settings(&config),
        });
        let pretty = |value: &serde_json::Value| -> Result<Vec<u8>> {
            let mut text =
                serde_json::to_string_pretty(value).map_err(|e| refused(e.to_string()))?;
            text.push('\n');
            Ok(text.into_bytes())
        };
        let mut files = vec![
            ("job.json".to_string(), pretty(&job)?),
            ("data/train.jsonl".into(), jsonl(&data.train)),
            ("data/validation.jsonl".into(), jsonl(&data.validation)),
            ("data/order.json".into(), order_json(&order)),
            ("initial_adapter/adapter_config.json".into(), adapter_config),
            ("initial_adapter/adapter_model.safetensors".into(), weights),
        ];
        for (name, bytes) in policy::tokenizer_files(open)? {
            files.push((format!("tokenizer/{name}"), bytes));
        }
        files.extend(
            ASSETS
                .iter()
                .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec())),
        );
        Ok(files)
    }
}

/// `config` as `job.json` records it: the data-fixing switches (`drop_repeats`,
/// `drop_leaked`, `rebalance`) only when on, and no `objective` (always supervised here), so
/// that a job is byte for byte the one its TRL fixtures ran before these settings existed
/// (the switches' effect is in the data files).
fn settings(config: &TrainConfig) -> serde_json::Value {
    let mut value = serde_json::to_value(config).unwrap_or_default();
    // Jobs are supervised runs (preference runs are refused): the objective goes unsaid; and
    // how webtune padded its batches for its kernels changes no number a job computes.
    if let Some(fields) = value.as_object_mut() {
        fields.remove("objective");
        fields.remove("pad_to_multiple_of");
    }
    if let Some(data) = value.get_mut("data").and_then(|d| d.as_object_mut()) {
        data.retain(|key, on| {
            !matches!(key.as_str(), "drop_repeats" | "drop_leaked" | "rebalance")
                || on.as_bool() != Some(false)
        });
    }
    value
}
