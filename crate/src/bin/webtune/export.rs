//! `webtune export`: turns a training checkpoint (`OUT/checkpoint` of `webtune train
//! --checkpoint-every`, say of a run that was stopped) into what a finished run writes: a PEFT
//! adapter for LoRA/DoRA runs (or, with `--merged`, the base with the adapter folded in), a
//! Hugging Face checkpoint for full and HFT runs.

use std::path::PathBuf;

use webtune::platform::block_on;
use webtune::session::{ExportKind, Purpose};

use crate::model::{self, ModelArgs};
use crate::output;

/// Options of `webtune export`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The checkpoint folder (state.json, optimizer.safetensors, and the adapter or
    /// parameters.safetensors).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where to write the adapter or checkpoint.
    #[arg(long)]
    out: PathBuf,
    /// For a LoRA/DoRA run: fold the adapter into the base and write a whole checkpoint.
    #[arg(long)]
    merged: bool,
}

/// Loads the base, applies the checkpoint, writes the result.
pub fn run(args: Args) -> webtune::Result<()> {
    let mut session = model::open(&args.model, Purpose::Write, false)?;
    let checkpoint = output::read_checkpoint(&args.checkpoint)?;
    let state = block_on(session.apply_checkpoint(&checkpoint))?;
    let kind = match args.merged {
        true => ExportKind::Merged,
        false => ExportKind::Result,
    };
    let files = block_on(session.export(kind))?;
    output::write_files(&args.out, &files)?;
    let what = match files.iter().any(|(name, _)| name == "adapter_config.json") {
        true => "a PEFT adapter",
        false => "a Hugging Face checkpoint",
    };
    eprintln!(
        "exported the {:?} run's step {} as {what} → {}",
        state.config.method,
        state.step,
        args.out.display()
    );
    Ok(())
}
