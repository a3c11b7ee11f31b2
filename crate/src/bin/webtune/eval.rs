//! `webtune eval`: a model (with or without an adapter) on a dataset — loss per trained token,
//! perplexity, and optionally exact-match accuracy of greedy answers — as JSON.

use std::path::PathBuf;

use webtune::platform::block_on;
use webtune::session::{EvalData, Purpose};

use crate::model::{self, ModelArgs, read_text};
use crate::output;

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

/// Loads, evaluates, prints the session's evaluation report as JSON (the same report the
/// JavaScript API's `evaluate` gives).
pub fn run(args: Args) -> webtune::Result<()> {
    let mut session = model::open(&args.model, Purpose::Read, false)?;
    if let Some(dir) = &args.adapter {
        output::import_adapter(&mut session, dir)?;
    }
    let name = args.data.display().to_string();
    let text = read_text(&args.data)?;
    let data = EvalData::File {
        name: &name,
        text: &text,
        max_len: args.max_len,
    };
    let report = block_on(session.evaluate(data, args.exact_match, true, output::answering()))?;
    output::print_json(&report)
}
