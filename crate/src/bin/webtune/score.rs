//! `webtune score`: per-token loss and perplexity of a text, as JSON.

use std::path::PathBuf;

use serde::Serialize;
use webtune::Error;
use webtune::eval::score;
use webtune::platform::block_on;

use crate::model::{self, ModelArgs, read_text};

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
struct Token {
    id: u32,
    text: String,
    loss: f32,
}

#[derive(Serialize)]
struct Report {
    model: String,
    text_file: String,
    tokens: usize,
    scored_tokens: usize,
    mean_loss: f64,
    perplexity: f64,
    per_token: Vec<Token>,
}

/// Loads the model, scores the file and prints the report on stdout.
pub fn run(args: Args) -> webtune::Result<()> {
    let file = args.text_file.display().to_string();
    let text = read_text(&args.text_file)?;
    let (device, loaded) = model::load(&args.model, model::Half::Allowed)?;
    let tokenizer = model::tokenizer(&loaded, &args.model)?;
    let mut ids = Vec::new();
    if args.add_bos {
        ids.extend(tokenizer.bos_id);
    }
    ids.extend(tokenizer.encode(&text)?);
    let scores = block_on(score(&loaded.model, device.device(), &ids))?;
    let per_token = ids[1..]
        .iter()
        .zip(&scores.losses)
        .map(|(&id, &loss)| {
            let text = tokenizer.decode(&[id], false).unwrap_or_default();
            Token { id, text, loss }
        })
        .collect();
    let report = Report {
        model: args.model.model.display().to_string(),
        text_file: file,
        tokens: ids.len(),
        scored_tokens: scores.losses.len(),
        mean_loss: scores.mean_loss(),
        perplexity: scores.perplexity(),
        per_token,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|err| Error::Input {
        problem: format!("cannot write the report: {err}"),
    })?;
    println!("{json}");
    Ok(())
}
