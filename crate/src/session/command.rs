//! The command line that repeats a run set up elsewhere (the page): the run's `TrainConfig`
//! as the JSON file `webtune train --config` reads, and the command that trains with it on
//! the same model, data and tier. The same settings give the same first losses.

use serde::Serialize;

use super::Session;
use crate::data::DataFormat;
use crate::device::Tier;
use crate::error::{Error, Result};
use crate::train::{PlanModel, TrainConfig};

/// The name the command gives the config file.
pub const CONFIG_FILE: &str = "webtune-run.json";

/// A run as a config file and a `webtune train` command.
#[derive(Debug, Clone, Serialize)]
pub struct RunCommand {
    /// The file name the command reads the config from.
    pub config_file: String,
    /// Its text: every `TrainConfig` field, data options included.
    pub config: String,
    /// The command, one line.
    pub command: String,
}

/// `text` quoted for a POSIX shell when it needs it.
fn quoted(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    match !text.is_empty() && text.chars().all(plain) {
        true => text.to_string(),
        false => format!("'{}'", text.replace('\'', r"'\''")),
    }
}

impl Session {
    /// The config file and `webtune train` command for `config` on the open model and the
    /// loaded dataset (with the data options it was read with), on this session's tier.
    pub fn run_command(&self, config: TrainConfig) -> Result<RunCommand> {
        let config = self.on_loaded_data(config)?;
        config.validate()?;
        let open = self.model()?;
        let data = self.dataset()?;
        let text = serde_json::to_string_pretty(&config).map_err(|err| Error::Input {
            problem: format!("the run's settings cannot be written as JSON: {err}"),
        })?;
        let data_arg = match data.report.format {
            DataFormat::Documents => "documents/".to_string(),
            _ => quoted(&data.report.file),
        };
        let tier = match self.device.tier() {
            Tier::Cpu => "cpu",
            Tier::Gpu => "gpu",
        };
        let quantized = PlanModel::of(&open.loaded)
            .linear
            .iter()
            .any(|(_, _, q)| *q);
        let mut command = format!(
            "webtune train --model {} --data {data_arg} --config {CONFIG_FILE} --tier {tier}",
            quoted(&open.name)
        );
        if quantized {
            command.push_str(" --quantize");
        }
        command.push_str(" --out adapter/");
        Ok(RunCommand {
            config_file: CONFIG_FILE.into(),
            config: text + "\n",
            command,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn names_are_quoted_for_the_shell_when_needed() {
        assert_eq!(quoted("models/a.gguf"), "models/a.gguf");
        assert_eq!(quoted("my data.jsonl"), "'my data.jsonl'");
        assert_eq!(quoted("it's.jsonl"), r"'it'\''s.jsonl'");
        assert_eq!(quoted(""), "''");
    }
}
