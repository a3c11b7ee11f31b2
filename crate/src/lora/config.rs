//! LoRA's hyper-parameters, named and defaulted as in PEFT's `LoraConfig`.

use serde::{Deserialize, Serialize};

/// Which linear layers get an adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Targets {
    /// Layers whose path ends with one of these module names (`q_proj`, `mlp.down_proj`),
    /// or, for the single name `all-linear`, every linear layer (the LM head is never one).
    Names(Vec<String>),
    /// A regular expression that must match the whole module path (PEFT's string form).
    Pattern(String),
}

impl Targets {
    /// Whether the layer at `path` is targeted.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Targets::Names(names) => names.iter().any(|name| {
                name == "all-linear"
                    || path == name
                    || path
                        .strip_suffix(name.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }),
            Targets::Pattern(pattern) => regex_full_match(pattern, path),
        }
    }
}

/// Full match of a PEFT target regex (Python's `re.fullmatch`); an invalid pattern matches
/// nothing (and [`LoraConfig::validate`] reports it).
fn regex_full_match(pattern: &str, path: &str) -> bool {
    fancy_regex::Regex::new(&format!("^(?:{pattern})$"))
        .ok()
        .and_then(|re| re.is_match(path).ok())
        .unwrap_or(false)
}

/// A LoRA adapter's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank of `A` and `B`.
    pub r: usize,
    /// Scale numerator: the branch is multiplied by `alpha / r` (or `alpha / √r`).
    pub lora_alpha: f64,
    /// Dropout on the branch's input while training.
    pub lora_dropout: f64,
    /// Which layers to adapt.
    pub target_modules: Targets,
    /// rsLoRA: scale by `alpha / √r` instead of `alpha / r`.
    pub use_rslora: bool,
    /// DoRA: a trained magnitude per output, the direction normalised (weight-decomposed
    /// low-rank adaptation).
    #[serde(default)]
    pub use_dora: bool,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            r: 8,
            lora_alpha: 16.0,
            lora_dropout: 0.0,
            target_modules: Targets::Names(vec!["all-linear".into()]),
            use_rslora: false,
            use_dora: false,
        }
    }
}

impl LoraConfig {
    /// The factor on the branch's output.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if self.r == 0 {
            return Err("r is 0".into());
        }
        if !(self.lora_alpha.is_finite() && self.lora_alpha > 0.0) {
            return Err(format!(
                "lora_alpha {} is not a number above 0",
                self.lora_alpha
            ));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(format!(
                "lora_dropout {} is not in [0, 1)",
                self.lora_dropout
            ));
        }
        match &self.target_modules {
            Targets::Names(names) if names.is_empty() => Err("target_modules is empty".into()),
            Targets::Pattern(p) => match fancy_regex::Regex::new(p) {
                Ok(_) => Ok(()),
                Err(err) => Err(format!(
                    "target_modules {p:?} is not a valid pattern: {err}"
                )),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_match_like_peft() {
        let names = Targets::Names(vec!["q_proj".into(), "mlp.down_proj".into()]);
        assert!(names.matches("model.layers.0.self_attn.q_proj"));
        assert!(names.matches("model.layers.3.mlp.down_proj"));
        assert!(!names.matches("model.layers.0.self_attn.kq_proj"));
        assert!(!names.matches("model.layers.0.mlp.up_proj"));
        let all = Targets::Names(vec!["all-linear".into()]);
        assert!(all.matches("transformer.h.0.attn.c_attn"));
        let pattern = Targets::Pattern(r".*\.(q_proj|v_proj)".into());
        assert!(pattern.matches("model.layers.1.self_attn.v_proj"));
        assert!(!pattern.matches("model.layers.1.self_attn.k_proj"));
    }

    #[test]
    fn scale_follows_rslora() {
        let c = LoraConfig {
            r: 16,
            lora_alpha: 32.0,
            ..LoraConfig::default()
        };
        assert_eq!(c.scale(), 2.0);
        assert_eq!(
            LoraConfig {
                use_rslora: true,
                ..c
            }
            .scale(),
            8.0
        );
    }
}
