//! `webtune score`: per-token loss and perplexity of a text, as JSON.

use std::path::PathBuf;

use serde::Serialize;
use webtune::platform::block_on;
use webtune::session::{Purpose, TextScores};

use crate::model::{self, ModelArgs, read_text};
use crate::output;

/// Options of `webtune score`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The text to score (UTF-8).
    #[arg(long)]
    text_file: PathBuf,
    /// Put the tokenizer's BOS token first (as a model trained with BOS expects).
    #[arg(long)]
    add_bos: bool,
}

#[derive(Serialize)]
struct Report {
    model: String,
    text_file: String,
    #[serde(flatten)]
    scores: TextScores,
}

/// Loads the model, scores the file and prints the report on stdout.
pub fn run(args: Args) -> webtune::Result<()> {
    let file = args.text_file.display().to_string();
    let text = read_text(&args.text_file)?;
    let session = model::open(&args.model, Purpose::Read, false)?;
    let report = Report {
        model: args.model.model.display().to_string(),
        text_file: file,
        scores: block_on(session.score(&text, args.add_bos))?,
    };
    output::print_json(&report)
}
