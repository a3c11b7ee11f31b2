//! `webtune merge`: fold a PEFT adapter into its base model and write a Hugging Face
//! checkpoint (`config.json`, `model.safetensors`, and the tokenizer files the base came
//! with, or for a GGUF base the ones rebuilt from its metadata) that transformers loads.

use std::path::PathBuf;

use webtune::platform::block_on;
use webtune::session::{ExportKind, Purpose};

use crate::model::{self, ModelArgs};
use crate::output;

/// Options of `webtune merge`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The adapter folder (adapter_config.json, adapter_model.safetensors).
    #[arg(long)]
    adapter: PathBuf,
    /// Where to write the merged checkpoint.
    #[arg(long)]
    out: PathBuf,
}

/// Loads base and adapter, merges, writes the checkpoint.
pub fn run(args: Args) -> webtune::Result<()> {
    let mut session = model::open(&args.model, Purpose::Write, false)?;
    let layers = output::import_adapter(&mut session, &args.adapter)?;
    let rank = session.last_config().map_or(0, |c| c.lora.r);
    let files = block_on(session.export(ExportKind::Merged))?;
    output::write_files(&args.out, &files)?;
    eprintln!(
        "merged a rank-{rank} adapter ({layers} layers) into {} → {}",
        args.model.model.display(),
        args.out.display()
    );
    Ok(())
}
