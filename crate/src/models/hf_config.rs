//! Reading Hugging Face `config.json` values with errors that name the file and the key, for
//! every transformers version in use (v4's `rope_theta` + `rope_scaling`, v5's
//! `rope_parameters`).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::nn::{RopeConfig, RopeScaling};

/// A parsed `config.json` object.
#[derive(Debug, Clone)]
pub struct HfConfig {
    file: String,
    object: Map<String, Value>,
}

impl HfConfig {
    /// Parses `bytes` (named `file` in errors) as a JSON object.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self> {
        let object = serde_json::from_slice(bytes).map_err(|err| Error::Config {
            file: file.to_string(),
            problem: format!("not a JSON object: {err}"),
        })?;
        Ok(Self {
            file: file.to_string(),
            object,
        })
    }

    /// A config error naming this file.
    pub fn error(&self, problem: impl Into<String>) -> Error {
        Error::Config {
            file: self.file.clone(),
            problem: problem.into(),
        }
    }

    /// The string under `key`, if there is one.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.object.get(key).and_then(Value::as_str)
    }

    /// The non-negative integer under the first of `keys` present (aliases, e.g. GPT-2's
    /// `n_embd` for `hidden_size`), or `default` when none is present or it is `null`.
    pub fn usize_or(&self, keys: &[&str], default: Option<usize>) -> Result<usize> {
        match keys.iter().find_map(|k| self.present(k)) {
            Some((key, value)) => {
                let whole = value
                    .as_u64()
                    .ok_or_else(|| self.error(format!("`{key}` is {value}, not a whole number")))?;
                // On wasm32 a usize has 32 bits: a larger count must not wrap to a small one.
                usize::try_from(whole).map_err(|_| {
                    self.error(format!(
                        "`{key}` is {value}, more than this platform can address"
                    ))
                })
            }
            None => default.ok_or_else(|| self.error(format!("`{}` is missing", keys[0]))),
        }
    }

    /// The required non-negative integer under `key`.
    pub fn usize(&self, key: &str) -> Result<usize> {
        self.usize_or(&[key], None)
    }

    /// The number under `key`, or `default`.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.present(key) {
            Some((_, value)) => value
                .as_f64()
                .ok_or_else(|| self.error(format!("`{key}` is {value}, not a number"))),
            None => Ok(default),
        }
    }

    /// The boolean under `key`, or `default`.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.present(key) {
            Some((_, value)) => value
                .as_bool()
                .ok_or_else(|| self.error(format!("`{key}` is {value}, not true or false"))),
            None => Ok(default),
        }
    }

    /// The rotary embedding: v5's `rope_parameters`, or v4's `rope_theta` + `rope_scaling`.
    pub fn rope(&self) -> Result<RopeConfig> {
        let (params, key) = match self.present("rope_parameters") {
            Some((_, p)) => (Some(p), "rope_parameters"),
            None => (self.present("rope_scaling").map(|(_, p)| p), "rope_scaling"),
        };
        let params = match params {
            Some(Value::Object(map)) => Some(map),
            Some(other) => return Err(self.error(format!("`{key}` is {other}, not an object"))),
            None => None,
        };
        let number = |name: &str, default: Option<f64>| -> Result<f64> {
            match params.and_then(|p| p.get(name)).filter(|v| !v.is_null()) {
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| self.error(format!("`{key}.{name}` is {v}, not a number"))),
                None => default.ok_or_else(|| self.error(format!("`{key}.{name}` is missing"))),
            }
        };
        let theta = number("rope_theta", Some(self.f64_or("rope_theta", 10_000.0)?))?;
        let kind = params
            .and_then(|p| p.get("rope_type").or_else(|| p.get("type")))
            .and_then(Value::as_str)
            .unwrap_or("default");
        let scaling = match kind {
            "default" => RopeScaling::Default,
            "linear" => RopeScaling::Linear {
                factor: number("factor", None)?,
            },
            "llama3" => RopeScaling::Llama3 {
                factor: number("factor", None)?,
                low_freq_factor: number("low_freq_factor", None)?,
                high_freq_factor: number("high_freq_factor", None)?,
                original_max_position_embeddings: number("original_max_position_embeddings", None)?,
            },
            other => {
                return Err(self.error(format!(
                    "`{key}.rope_type` {other:?} is not supported (webtune implements \
                     default, linear and llama3)"
                )));
            }
        };
        let rope = RopeConfig { theta, scaling };
        rope.validate().map_err(|problem| self.error(problem))?;
        Ok(rope)
    }

    /// `(key, value)` when `key` is present and not `null`.
    fn present<'a>(&'a self, key: &'a str) -> Option<(&'a str, &'a Value)> {
        self.object
            .get(key)
            .filter(|v| !v.is_null())
            .map(|v| (key, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> HfConfig {
        HfConfig::parse("config.json", json.as_bytes()).unwrap()
    }

    #[test]
    fn rope_reads_v4_and_v5_layouts() {
        let v4 = config(
            r#"{"rope_theta": 500000.0, "rope_scaling": {"type": "llama3", "factor": 8.0,
               "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}}"#,
        );
        let v5 = config(
            r#"{"rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0,
               "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}}"#,
        );
        assert_eq!(v4.rope().unwrap(), v5.rope().unwrap());
        assert_eq!(v4.rope().unwrap().theta, 500_000.0);
        let plain = config(r#"{"rope_theta": 100000, "rope_scaling": null}"#);
        assert_eq!(plain.rope().unwrap(), RopeConfig::plain(100_000.0));
        assert_eq!(config("{}").rope().unwrap(), RopeConfig::plain(10_000.0));
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = |c: HfConfig| c.rope().unwrap_err().to_string();
        assert!(
            err(config(
                r#"{"rope_scaling": {"rope_type": "yarn", "factor": 4}}"#
            ))
            .contains("\"yarn\" is not supported")
        );
        assert!(
            err(config(r#"{"rope_scaling": {"rope_type": "linear"}}"#))
                .contains("`rope_scaling.factor` is missing")
        );
        let c = config(r#"{"num_attention_heads": "nine"}"#);
        let e = c.usize("num_attention_heads").unwrap_err().to_string();
        assert_eq!(
            e,
            "config.json: `num_attention_heads` is \"nine\", not a whole number"
        );
        assert!(
            c.usize("hidden_size")
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
        assert!(HfConfig::parse("config.json", b"[1]").is_err());
    }
}
