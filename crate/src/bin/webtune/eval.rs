//! `webtune eval`: a model (with or without an adapter) on a dataset — loss per trained token,
//! perplexity, and optionally exact-match accuracy of greedy answers — as JSON.

use std::path::PathBuf;

use serde::Serialize;
use webtune::Error;
use webtune::data::{DataOptions, prepare_eval};
use webtune::eval::exact_match;
use webtune::lora;
use webtune::platform::{FileSource, block_on};
use webtune::train::validation_loss;

use crate::model::{self, ModelArgs, read_text};

/// Options of `webtune eval`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// An adapter folder (PEFT's files) to apply first.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// The dataset (JSONL or CSV, as for `train`).
    #[arg(long)]
    data: PathBuf,
    /// Also ask every conversation's question and compare the greedy answer with the reference.
    #[arg(long)]
    exact_match: bool,
    /// Longest sequence in tokens.
    #[arg(long, default_value_t = 512)]
    max_len: usize,
}

#[derive(Serialize)]
struct Report {
    model: String,
    adapter: Option<String>,
    data: String,
    examples: usize,
    loss: f64,
    perplexity: f64,
    exact_match: Option<f64>,
    first_word_right: Option<f64>,
}

/// Loads, evaluates, prints the report.
pub fn run(args: Args) -> webtune::Result<()> {
    let (device, mut loaded) = model::load(&args.model, model::Half::Allowed)?;
    let tokenizer = model::tokenizer(&loaded, &args.model)?;
    if let Some(dir) = &args.adapter {
        let path = dir.join("adapter_config.json");
        let config = std::fs::read(&path).map_err(|source| Error::Io {
            file: path.display().to_string(),
            source,
        })?;
        let weights = FileSource::open(dir.join("adapter_model.safetensors"))?;
        block_on(lora::peft::load(
            &mut loaded.model,
            &config,
            &weights,
            device.device(),
        ))?;
    }
    let file = args.data.display().to_string();
    let text = read_text(&args.data)?;
    let mut options = DataOptions::default();
    options.encode.max_len = args.max_len;
    let (encoded, examples) = prepare_eval(&file, &text, &tokenizer, &options)?;
    let pad = tokenizer.eos_id.unwrap_or(0);
    let loss = block_on(validation_loss(
        &loaded.model,
        &encoded,
        8,
        pad,
        device.device(),
    ))?
    .unwrap_or(f64::NAN);
    let answers = match args.exact_match {
        true => Some(block_on(exact_match(
            &loaded.model,
            &tokenizer,
            device.device(),
            &examples,
            &loaded.stop_ids,
            32,
        ))?),
        false => None,
    };
    let report = Report {
        model: args.model.model.display().to_string(),
        adapter: args.adapter.as_ref().map(|a| a.display().to_string()),
        data: file,
        examples: encoded.len(),
        loss,
        perplexity: loss.exp(),
        exact_match: answers.as_ref().map(|a| a.accuracy()),
        first_word_right: answers.as_ref().map(|a| a.first_word_accuracy()),
    };
    let json = serde_json::to_string_pretty(&report).map_err(|err| Error::Input {
        problem: format!("cannot write the report: {err}"),
    })?;
    println!("{json}");
    Ok(())
}
