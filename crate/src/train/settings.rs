//! Checking a run's settings before anything is loaded: every number in its range, so that a
//! NaN learning rate, a zero batch or an untrained "run" of zero epochs is refused up front
//! with the setting's name, never clamped or written out as a broken adapter. And checking
//! that a resumed run asks for the settings its checkpoint was written with.

use super::{Method, TrainConfig};
use crate::data::Padding;
use crate::error::{Error, Result};

fn bad(setting: &str, problem: impl Into<String>) -> Error {
    Error::Setting {
        setting: setting.to_string(),
        problem: problem.into(),
    }
}

/// `value` is finite and within `range` (a description like "above 0 and at most 10").
fn number(setting: &str, value: f64, ok: bool, range: &str) -> Result<()> {
    if !value.is_finite() {
        return Err(bad(
            setting,
            format!("is {value}: it must be a finite number {range}"),
        ));
    }
    if !ok {
        return Err(bad(setting, format!("is {value}: it must be {range}")));
    }
    Ok(())
}

fn count(setting: &str, value: usize) -> Result<()> {
    match value {
        0 => Err(bad(setting, "is 0: it must be at least 1")),
        _ => Ok(()),
    }
}

impl TrainConfig {
    /// Sequences per micro-batch: a batch of preference pairs holds a chosen and a rejected
    /// sequence per pair.
    pub fn rows_per_batch(&self) -> usize {
        match self.objective.is_preference() {
            true => 2 * self.batch_size,
            false => self.batch_size,
        }
    }

    /// How the run pads its batches with token `id` (see [`Padding`]).
    pub fn padding(&self, id: u32) -> Padding {
        Padding {
            id,
            multiple: self.pad_to_multiple_of.unwrap_or(1),
            at_most: self.data.encode.max_len,
        }
    }

    /// Refuses settings out of their range, naming the first such setting.
    pub fn validate(&self) -> Result<()> {
        let o = &self.optimizer;
        number(
            "optimizer.lr",
            o.lr,
            o.lr > 0.0 && o.lr <= 10.0,
            "above 0 and at most 10",
        )?;
        for (name, beta) in [
            ("optimizer.betas.0", o.betas.0),
            ("optimizer.betas.1", o.betas.1),
        ] {
            number(
                name,
                beta,
                (0.0..1.0).contains(&beta),
                "from 0 up to (not including) 1",
            )?;
        }
        number("optimizer.eps", o.eps, o.eps > 0.0, "above 0")?;
        let decay = o.weight_decay;
        number("optimizer.weight_decay", decay, decay >= 0.0, "0 or more")?;
        if self.method == Method::Lora {
            let l = &self.lora;
            count("lora.r", l.r)?;
            let alpha = l.lora_alpha;
            number("lora.lora_alpha", alpha, alpha > 0.0, "above 0")?;
            let p = l.lora_dropout;
            number(
                "lora.lora_dropout",
                p,
                (0.0..1.0).contains(&p),
                "from 0 up to 1",
            )?;
        }
        if let Err((setting, problem)) = self.objective.validate() {
            return Err(bad(setting, problem));
        }
        count("epochs", self.epochs)?;
        if let Some(steps) = self.max_steps {
            count("max_steps", steps)?;
        }
        count("batch_size", self.batch_size)?;
        count("grad_accumulation", self.grad_accumulation)?;
        if let Some(multiple) = self.pad_to_multiple_of {
            count("pad_to_multiple_of", multiple)?;
        }
        if let Some(norm) = self.max_grad_norm {
            number("max_grad_norm", norm, norm > 0.0, "above 0 (or unset)")?;
        }
        let max_len = self.data.encode.max_len;
        if max_len < 2 {
            return Err(bad(
                "data.encode.max_len",
                format!("is {max_len}: a sequence needs at least 2 tokens to train on"),
            ));
        }
        let share = self.data.validation_fraction;
        number(
            "data.validation_fraction",
            share,
            (0.0..1.0).contains(&share),
            "from 0 up to (not including) 1",
        )
    }
}

/// Other names people use for webtune's settings (PEFT's, TRL's, transformers'), with the
/// setting they mean.
const ALIASES: [(&str, &str); 15] = [
    ("beta", "objective.beta"),
    ("label_smoothing", "objective.label_smoothing"),
    ("loss_type", "objective.kind"),
    ("learning_rate", "optimizer.lr"),
    ("lr", "optimizer.lr"),
    ("weight_decay", "optimizer.weight_decay"),
    ("rank", "lora.r"),
    ("r", "lora.r"),
    ("lora_alpha", "lora.lora_alpha"),
    ("alpha", "lora.lora_alpha"),
    ("lora_dropout", "lora.lora_dropout"),
    ("max_len", "data.encode.max_len"),
    ("max_seq_length", "data.encode.max_len"),
    ("num_train_epochs", "epochs"),
    ("gradient_accumulation_steps", "grad_accumulation"),
];

/// Edit distance between `a` and `b` (ignoring case).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (
        a.to_lowercase().chars().collect(),
        b.to_lowercase().chars().collect(),
    );
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (and the like), the same message
/// with the setting the misspelt key most likely means; other messages as they are.
pub fn explain_unknown_field(message: &str) -> String {
    let Some(start) = message.find("unknown field `") else {
        return message.to_string();
    };
    let rest = &message[start + "unknown field `".len()..];
    let Some(unknown) = rest.split('`').next() else {
        return message.to_string();
    };
    let expected: Vec<&str> = rest
        .split('`')
        .skip(1)
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, name)| name)
        .collect();
    let candidates = expected
        .iter()
        .map(|&name| (name, name))
        .chain(ALIASES.iter().copied());
    let best = candidates
        .map(|(name, means)| (distance(unknown, name), means))
        .filter(|(d, _)| *d <= 2.max(unknown.len() / 4))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, means)) => format!("{message} (did you mean `{means}`?)"),
        None => message.to_string(),
    }
}

/// Settings a resumed run may change: when it evaluates, stores checkpoints, stops early, and
/// how its batches are padded (the loss is the same).
const FREE_ON_RESUME: [&str; 4] = [
    "eval_every",
    "early_stopping_patience",
    "checkpoint_every",
    "pad_to_multiple_of",
];

/// The first setting where `asked` differs from `saved` (a checkpoint's), as "`lora.r`: the
/// checkpoint was trained with 8, this run asks for 4"; `None` when the run continues on the
/// checkpoint's trajectory.
pub(crate) fn resume_conflict(saved: &TrainConfig, asked: &TrainConfig) -> Option<String> {
    fn diff(path: &str, a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                keys.into_iter().find_map(|key| {
                    let inner = match path {
                        "" => key.clone(),
                        _ => format!("{path}.{key}"),
                    };
                    if FREE_ON_RESUME.contains(&inner.as_str()) {
                        return None;
                    }
                    let null = serde_json::Value::Null;
                    diff(
                        &inner,
                        a.get(key).unwrap_or(&null),
                        b.get(key).unwrap_or(&null),
                    )
                })
            }
            _ if a == b => None,
            _ => Some(format!(
                "`{path}`: the checkpoint was trained with {a}, this run asks for {b}"
            )),
        }
    }
    let value = |c: &TrainConfig| serde_json::to_value(c).unwrap_or_default();
    diff("", &value(saved), &value(asked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_settings_are_named() {
        let refused = |change: fn(&mut TrainConfig), what: &str| {
            let mut config = TrainConfig::default();
            change(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        };
        assert!(TrainConfig::default().validate().is_ok());
        refused(|c| c.optimizer.lr = f64::NAN, "`optimizer.lr` is NaN");
        refused(|c| c.batch_size = 0, "`batch_size` is 0");
        refused(|c| c.lora.lora_alpha = f64::INFINITY, "lora_alpha");
        refused(|c| c.epochs = 0, "`epochs` is 0");
        refused(|c| c.data.encode.max_len = 0, "max_len");
        refused(|c| c.lora.lora_dropout = 1.0, "lora_dropout");
    }

    #[test]
    fn a_misspelt_key_names_the_setting_meant() {
        let serde = "unknown field `lerning_rate`, expected one of `method`, `lora`, `epochs`";
        assert!(explain_unknown_field(serde).ends_with("(did you mean `optimizer.lr`?)"));
        let serde = "unknown field `epoch`, expected one of `method`, `lora`, `epochs`";
        assert!(explain_unknown_field(serde).ends_with("(did you mean `epochs`?)"));
        let serde = "unknown field `zzzzzz`, expected one of `method`, `lora`";
        assert_eq!(explain_unknown_field(serde), serde);
    }

    #[test]
    fn a_resume_with_other_settings_names_the_first() {
        let saved = TrainConfig::default();
        let mut asked = saved.clone();
        asked.eval_every = 7;
        asked.checkpoint_every = 3;
        assert_eq!(resume_conflict(&saved, &asked), None);
        asked.lora.r = saved.lora.r / 2;
        assert_eq!(
            resume_conflict(&saved, &asked).unwrap(),
            format!(
                "`lora.r`: the checkpoint was trained with {}, this run asks for {}",
                saved.lora.r,
                saved.lora.r / 2
            )
        );
        let mut asked = saved.clone();
        asked.seed += 1;
        assert!(
            resume_conflict(&saved, &asked)
                .unwrap()
                .starts_with("`seed`")
        );
    }
}
