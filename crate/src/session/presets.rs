//! Starting points for a run on the open model and the loaded data — quick, balanced,
//! thorough — each sized by the memory planner for this device: the largest micro-batch that
//! fits, with gradient accumulation making up the effective batch. And the length of a run:
//! how many steps it takes, and whether its epochs or its `max_steps` end it.

use serde::Serialize;

use super::Session;
use crate::data::DataFormat;
use crate::error::Result;
use crate::lora::LoraConfig;
use crate::train::{AdamWConfig, MemoryPlan, Objective, TrainConfig, planned_steps};

/// How long a run of a config is on the loaded data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLength {
    /// Optimizer steps the run takes.
    pub steps: usize,
    /// Steps in one epoch (the first, with packing).
    pub steps_per_epoch: usize,
    /// Training rows (sequences, or pairs).
    pub train_rows: usize,
    /// Rows each optimizer step takes (batch × accumulation).
    pub rows_per_step: usize,
    /// What ends the run: `"epochs"` or `"max_steps"`.
    pub ended_by: &'static str,
    /// The run in words, saying when the epochs end it before `max_steps` would.
    pub summary: String,
}

/// A planner-sized starting point.
#[derive(Debug, Clone, Serialize)]
pub struct Preset {
    /// `quick`, `balanced` or `thorough`.
    pub name: &'static str,
    /// What it is for, in words.
    pub purpose: &'static str,
    /// Its settings.
    pub config: TrainConfig,
    /// Its length on the loaded data.
    pub length: RunLength,
    /// Its memory plan on this device.
    pub plan: MemoryPlan,
}

/// What sets one preset apart: (name, purpose, rank, epochs, effective batch, learning rate).
/// The learning rates were measured (`benches/presets.sh`: each preset at its rate, a third
/// and three times it, on the demo data and two Q&A sets): a third is worse everywhere; three
/// times is a little better for quick and mixed for balanced, so both stay at or just below the
/// best; thorough's larger batch wanted three times its first 5e-4 on all three sets.
const SHAPES: [(&str, &str, usize, usize, usize, f64); 3] = [
    (
        "quick",
        "a short run to see what fine-tuning does to this model on this data",
        8,
        1,
        2,
        2e-3,
    ),
    (
        "balanced",
        "two passes at a moderate rank: a sound first real run",
        16,
        2,
        4,
        1e-3,
    ),
    (
        "thorough",
        "three passes at a high rank, validated often, stopping early when validation stops improving",
        32,
        3,
        8,
        1.5e-3,
    ),
];

/// Micro-batch sizes tried, largest first.
const BATCHES: [usize; 5] = [16, 8, 4, 2, 1];

impl Session {
    /// How long a run of `config` is on the loaded dataset.
    pub fn run_length(&self, config: &TrainConfig) -> Result<RunLength> {
        let config = self.on_loaded_data(config.clone())?;
        let data = self.dataset()?;
        let steps = planned_steps(data, &config);
        let per_epoch = planned_steps(
            data,
            &TrainConfig {
                epochs: 1,
                max_steps: None,
                ..config.clone()
            },
        );
        let rows_per_step = config.batch_size.max(1) * config.grad_accumulation.max(1);
        let train_rows = data.train.len();
        let epochs = match config.epochs {
            1 => "1 epoch".to_string(),
            n => format!("{n} epochs"),
        };
        let by_epochs = config.max_steps.is_none_or(|max| max > steps);
        let mut summary = format!(
            "{steps} steps: {epochs} of {train_rows} training rows, {rows_per_step} per step"
        );
        if let Some(max) = config.max_steps.filter(|_| by_epochs) {
            summary.push_str(&format!(
                " ({max} steps asked: the epochs end first; more epochs would take them)"
            ));
        }
        Ok(RunLength {
            steps,
            steps_per_epoch: per_epoch,
            train_rows,
            rows_per_step,
            ended_by: if by_epochs { "epochs" } else { "max_steps" },
            summary: summary + ".",
        })
    }

    /// Quick, balanced and thorough runs on the open model and the loaded data, each with the
    /// largest micro-batch whose memory plan fits `budget` (default: the device's, see
    /// [`Session::plan`]) and accumulation making up its effective batch. A preset that does
    /// not fit even one row per micro-batch comes with that plan, which says why.
    pub fn presets(&self, budget: Option<u64>) -> Result<Vec<Preset>> {
        let data = self.dataset()?;
        let objective = match data.report.format {
            DataFormat::Preference => Objective::Dpo {
                beta: 0.1,
                label_smoothing: 0.0,
            },
            _ => Objective::Sft,
        };
        let validated = !data.validation.is_empty();
        let mut presets = Vec::with_capacity(SHAPES.len());
        for (name, purpose, r, epochs, effective, lr) in SHAPES {
            let base = TrainConfig {
                objective,
                lora: LoraConfig {
                    r,
                    lora_alpha: 2.0 * r as f64,
                    ..LoraConfig::default()
                },
                optimizer: AdamWConfig {
                    lr,
                    ..AdamWConfig::default()
                },
                epochs,
                max_steps: None,
                early_stopping_patience: (name == "thorough" && validated).then_some(3),
                ..TrainConfig::default()
            };
            let mut sized = None;
            for batch in BATCHES.into_iter().filter(|&b| b <= effective) {
                let config = TrainConfig {
                    batch_size: batch,
                    grad_accumulation: effective / batch,
                    ..base.clone()
                };
                let plan = self.plan(&config, budget)?;
                let fits = plan.fits;
                sized = Some((config, plan));
                if fits {
                    break;
                }
            }
            let Some((mut config, plan)) = sized else {
                continue;
            };
            // Warmup, validation and checkpoint cadence do not change the run's length.
            let length = self.run_length(&config)?;
            let steps = length.steps;
            config.warmup_steps = steps / 20;
            config.eval_every = match (validated, name) {
                (false, _) => 0,
                (true, "thorough") => (steps / 10).max(1),
                (true, _) => (steps / 5).max(1),
            };
            config.checkpoint_every = (steps / 20).max(1);
            presets.push(Preset {
                name,
                purpose,
                length,
                config,
                plan,
            });
        }
        Ok(presets)
    }
}
