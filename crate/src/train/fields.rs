//! Every setting of a run as a form shows it: its path in the `TrainConfig` JSON, a name, what
//! it does, the kind of value, and when it applies. The page builds its Train view's
//! "advanced" area (and the Data view's options) from this table, so that each setting the
//! command line's config file takes can also be set in the page; a test checks that the table
//! names every field the config serializes.

use serde::Serialize;
use serde_json::{Value, json};

use super::TrainConfig;

/// The kind of value a setting takes, with what a form needs to offer it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// A whole number of at least `min`.
    Integer {
        /// The smallest value.
        min: u64,
    },
    /// A number; `validate` checks the exact range, `min` and `max` are for the form.
    Number {
        /// The smallest value.
        min: f64,
        /// The largest, when there is one.
        max: Option<f64>,
        /// A step for the form's arrows.
        step: f64,
    },
    /// On or off.
    Bool,
    /// One of `options` (their JSON names).
    Choice {
        /// The values.
        options: Vec<&'static str>,
    },
    /// A list of names (a form writes them separated by commas).
    List,
    /// Two numbers (a form writes them separated by a comma).
    Pair,
    /// A CSV file's columns: one name (raw text) or a question, an answer and optionally a
    /// system column, separated by commas.
    Columns,
}

/// Where a setting is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// With the run.
    Run,
    /// With the data: it is read when the data is loaded (a run takes the data's).
    Data,
}

/// A setting that applies only while another one has one of some values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// The other setting's path.
    pub path: &'static str,
    /// The values for which this one applies.
    pub values: Vec<&'static str>,
}

/// One setting of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Its path in the config's JSON (`optimizer.lr`).
    pub path: &'static str,
    /// Its name, a few words.
    pub label: &'static str,
    /// What it does, one sentence.
    pub help: &'static str,
    /// Its kind of value.
    pub kind: FieldKind,
    /// Whether it may be left unset (`null`).
    pub optional: bool,
    /// Where it is set.
    pub stage: Stage,
    /// When it applies (always, when `None`).
    pub when: Option<Condition>,
    /// Its default value.
    pub default: Value,
}

/// The default config as JSON, with the preference objectives' settings at their defaults
/// beside `objective.kind` (they apply only to those objectives).
pub fn defaults() -> Value {
    let mut config = serde_json::to_value(TrainConfig::default()).unwrap_or(Value::Null);
    if let Some(objective) = config.get_mut("objective") {
        *objective = json!({"kind": "sft", "beta": 0.1, "label_smoothing": 0.0});
    }
    config
}

/// The value at `path` (dot-separated) in `value`.
fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

fn when(path: &'static str, values: &[&'static str]) -> Option<Condition> {
    Some(Condition {
        path,
        values: values.to_vec(),
    })
}

const fn int(min: u64) -> FieldKind {
    FieldKind::Integer { min }
}

fn num(min: f64, max: Option<f64>, step: f64) -> FieldKind {
    FieldKind::Number { min, max, step }
}

fn choice(options: &[&'static str]) -> FieldKind {
    FieldKind::Choice {
        options: options.to_vec(),
    }
}

type Row = (
    &'static str,
    &'static str,
    &'static str,
    FieldKind,
    Option<Condition>,
);

/// The run's settings (each applies to the run).
fn run_rows() -> Vec<Row> {
    let lora = || when("method", &["lora"]);
    vec![
        (
            "method",
            "Method",
            "What trains: LoRA branches on a frozen base (an adapter), every parameter (full), or half of them per round (Half Fine-Tuning).",
            choice(&["lora", "full", "half"]),
            None,
        ),
        (
            "objective.kind",
            "Objective",
            "Supervised loss on the answers, or DPO / ORPO on preference pairs.",
            choice(&["sft", "dpo", "orpo"]),
            None,
        ),
        (
            "objective.beta",
            "Beta",
            "How far from the reference the model may move (DPO), or the odds-ratio term's weight (ORPO).",
            num(0.001, None, 0.01),
            when("objective.kind", &["dpo", "orpo"]),
        ),
        (
            "objective.label_smoothing",
            "Label smoothing",
            "The share of pairs taken to be labelled the wrong way round (DPO's robust loss), from 0 up to 0.5.",
            num(0.0, Some(0.49), 0.01),
            when("objective.kind", &["dpo"]),
        ),
        (
            "hft_round_steps",
            "Steps per round",
            "Half Fine-Tuning: optimizer steps before the trained half changes (0: a round per epoch).",
            int(0),
            when("method", &["half"]),
        ),
        (
            "lora.r",
            "Rank",
            "Rank of the adapter's two matrices: more learns more and takes more memory.",
            int(1),
            lora(),
        ),
        (
            "lora.lora_alpha",
            "Alpha",
            "The adapter's output is scaled by alpha / rank (or alpha / √rank with rsLoRA).",
            num(0.01, None, 1.0),
            lora(),
        ),
        (
            "lora.lora_dropout",
            "Dropout",
            "Dropout on the adapter's input while training, from 0 up to 1.",
            num(0.0, Some(0.99), 0.05),
            lora(),
        ),
        (
            "lora.target_modules",
            "Layers to adapt",
            "Module names, separated by commas (q_proj, v_proj), or all-linear for every linear layer.",
            FieldKind::List,
            lora(),
        ),
        (
            "lora.use_rslora",
            "rsLoRA",
            "Scale by alpha / √rank, which keeps high ranks learning.",
            FieldKind::Bool,
            lora(),
        ),
        (
            "lora.use_dora",
            "DoRA",
            "Train a magnitude per output beside the low-rank direction (weight-decomposed LoRA).",
            FieldKind::Bool,
            lora(),
        ),
        (
            "optimizer.lr",
            "Learning rate",
            "The peak learning rate (the schedule scales it).",
            num(0.0, Some(10.0), 0.0001),
            None,
        ),
        (
            "optimizer.betas",
            "AdamW betas",
            "Decay of AdamW's first and second moments, two numbers below 1.",
            FieldKind::Pair,
            None,
        ),
        (
            "optimizer.eps",
            "AdamW epsilon",
            "Added to the second moment's square root.",
            num(0.0, None, 1e-8),
            None,
        ),
        (
            "optimizer.weight_decay",
            "Weight decay",
            "Decoupled weight decay on the trained parameters.",
            num(0.0, None, 0.01),
            None,
        ),
        (
            "schedule",
            "Schedule",
            "How the learning rate moves after warmup.",
            choice(&["cosine", "linear", "constant"]),
            None,
        ),
        (
            "warmup_steps",
            "Warmup steps",
            "Steps of linear warmup from 0 to the learning rate.",
            int(0),
            None,
        ),
        (
            "epochs",
            "Epochs",
            "Passes over the training data.",
            int(1),
            None,
        ),
        (
            "max_steps",
            "Steps",
            "Stop after this many optimizer steps (empty: the epochs decide).",
            int(1),
            None,
        ),
        (
            "batch_size",
            "Batch",
            "Sequences per micro-batch: more is faster per example and takes more memory.",
            int(1),
            None,
        ),
        (
            "grad_accumulation",
            "Accumulation",
            "Micro-batches per optimizer step (the effective batch is batch × accumulation).",
            int(1),
            None,
        ),
        (
            "pad_to_multiple_of",
            "Pad to a multiple of",
            "Pad each batch to a multiple of this many tokens, so that a GPU takes its vectorised kernels and meets few widths (empty: 32 on a GPU, none on the CPU).",
            int(1),
            None,
        ),
        (
            "max_grad_norm",
            "Clip gradients at",
            "Clip the gradients' global norm to this (empty: no clipping).",
            num(0.0, None, 0.1),
            None,
        ),
        (
            "eval_every",
            "Validate every",
            "Steps between validation losses (0: only at the end).",
            int(0),
            None,
        ),
        (
            "early_stopping_patience",
            "Early stopping",
            "Stop when the validation loss has not improved for this many validations (empty: never).",
            int(1),
            None,
        ),
        (
            "checkpoint_every",
            "Checkpoint every",
            "Steps between checkpoints a run can resume from (0: only when stopped).",
            int(0),
            None,
        ),
        (
            "seed",
            "Seed",
            "Seed of the data order and the adapter's initialisation.",
            int(0),
            None,
        ),
        (
            "data.packing",
            "Packing",
            "Pack several examples into each sequence (fewer padding tokens; the loss is the same).",
            FieldKind::Bool,
            None,
        ),
    ]
}

/// The data's settings (read when the data is loaded).
fn data_rows() -> Vec<Row> {
    vec![
        (
            "data.encode.max_len",
            "Longest sequence",
            "Tokens per sequence; longer examples are cut at the end (and counted).",
            int(1),
            None,
        ),
        (
            "data.encode.train_on_prompt",
            "Train on prompts",
            "Train on every token, prompts and system turns included, not only the answers.",
            FieldKind::Bool,
            None,
        ),
        (
            "data.validation_fraction",
            "Validation share",
            "Share of the examples held out for validation (when no validation file is given).",
            num(0.0, Some(0.9), 0.05),
            None,
        ),
        (
            "data.seed",
            "Split seed",
            "Seed of the shuffle before the validation split.",
            int(0),
            None,
        ),
        (
            "data.csv_columns",
            "CSV columns",
            "For a CSV file: a question, an answer and optionally a system column, or one text column, separated by commas (empty: from the header).",
            FieldKind::Columns,
            None,
        ),
        (
            "data.drop_repeats",
            "Drop repeats",
            "Drop training rows that repeat an earlier one, exactly or nearly.",
            FieldKind::Bool,
            None,
        ),
        (
            "data.drop_leaked",
            "Drop leaked rows",
            "Drop training rows that a validation row repeats, so that validation measures unseen rows.",
            FieldKind::Bool,
            None,
        ),
        (
            "data.rebalance",
            "Rebalance answers",
            "When the answers come from a small set and are imbalanced, repeat the rarer ones' rows.",
            FieldKind::Bool,
            None,
        ),
    ]
}

/// Every setting of a run, in the order a form shows them: the run's, then the data's.
pub fn fields() -> Vec<Field> {
    let defaults = defaults();
    let staged = |rows: Vec<Row>, stage| {
        rows.into_iter()
            .map(move |(path, label, help, kind, when)| (path, label, help, kind, when, stage))
    };
    staged(run_rows(), Stage::Run)
        .chain(staged(data_rows(), Stage::Data))
        .map(|(path, label, help, kind, when, stage)| {
            let default = at(&defaults, path).cloned().unwrap_or(Value::Null);
            Field {
                path,
                label,
                help,
                optional: default.is_null(),
                kind,
                stage,
                when,
                default,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths of `value`'s leaves (objects descended; arrays and `null` are leaves).
    fn leaves(value: &Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (key, inner) in fields {
                    let at = match path {
                        "" => key.clone(),
                        _ => format!("{path}.{key}"),
                    };
                    leaves(inner, &at, out);
                }
            }
            _ => out.push(path.to_string()),
        }
    }

    #[test]
    fn the_table_names_every_setting_the_config_serializes() {
        let mut serialized = Vec::new();
        leaves(&defaults(), "", &mut serialized);
        let mut listed: Vec<String> = fields().iter().map(|f| f.path.to_string()).collect();
        serialized.sort();
        listed.sort();
        assert_eq!(listed, serialized);
        // DPO's and ORPO's own settings are the ones `defaults` lists.
        for objective in [json!({"kind": "dpo"}), json!({"kind": "orpo"})] {
            let parsed: super::super::Objective = serde_json::from_value(objective).unwrap();
            let mut keys = Vec::new();
            leaves(
                &serde_json::to_value(parsed).unwrap(),
                "objective",
                &mut keys,
            );
            for key in keys {
                assert!(listed.contains(&key), "{key} is not in the table");
            }
        }
    }

    /// A config built from the table the way the page builds it (each applicable setting at
    /// its path) is the default config.
    #[test]
    fn a_config_built_from_the_table_reads_back() {
        let fields = fields();
        let values = defaults();
        let mut built = json!({});
        for field in fields.iter().filter(|f| f.stage == Stage::Run) {
            let applies = field.when.as_ref().is_none_or(|c| {
                at(&values, c.path)
                    .and_then(Value::as_str)
                    .is_some_and(|v| c.values.contains(&v))
            });
            if !applies || field.default.is_null() {
                continue;
            }
            let keys: Vec<&str> = field.path.split('.').collect();
            let mut slot = &mut built;
            for key in &keys[..keys.len() - 1] {
                slot = slot
                    .as_object_mut()
                    .unwrap()
                    .entry(key.to_string())
                    .or_insert_with(|| json!({}));
            }
            slot[keys[keys.len() - 1]] = field.default.clone();
        }
        let config: TrainConfig = serde_json::from_value(built).unwrap();
        assert_eq!(config, TrainConfig::default());
        let choices = fields.iter().filter_map(|f| match &f.kind {
            FieldKind::Choice { options } => Some((f.path, options)),
            _ => None,
        });
        for (path, options) in choices {
            for option in options {
                let mut config = defaults();
                let keys: Vec<&str> = path.split('.').collect();
                let slot = keys[..keys.len() - 1]
                    .iter()
                    .fold(&mut config, |v, k| &mut v[*k]);
                slot[keys[keys.len() - 1]] = json!(option);
                if path == "objective.kind" && *option != "dpo" {
                    slot.as_object_mut().unwrap().remove("label_smoothing");
                }
                if path == "objective.kind" && *option == "sft" {
                    slot.as_object_mut().unwrap().remove("beta");
                }
                let read: Result<TrainConfig, _> = serde_json::from_value(config);
                assert!(read.is_ok(), "{path} = {option}: {read:?}");
            }
        }
    }
}
