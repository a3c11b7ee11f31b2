//! `webtune export-job`: the same fine-tune as a folder that Hugging Face TRL + PEFT run under
//! `accelerate launch` / `torchrun`, on one GPU or many.

use std::path::PathBuf;

use webtune::platform::block_on;

use crate::output;
use crate::train::{RunArgs, config, prepare};

/// Options of `webtune export-job`.
#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// The folder to write (job.json, data/, initial_adapter/, tokenizer/, train.py,
    /// accelerate/, README.md).
    #[arg(long, default_value = "job")]
    out: PathBuf,
    /// What the job loads as the base: a Hugging Face id (HuggingFaceTB/SmolLM2-135M-Instruct),
    /// a folder or a .gguf file (default: --model as given).
    #[arg(long)]
    base_model: Option<String>,
}

/// Prepares the data as `train` would and writes the job folder.
pub fn run(args: Args) -> webtune::Result<()> {
    let (session, config) = prepare(&args.run, &config(&args.run)?, None)?;
    let files = block_on(session.export_job(config, args.base_model.as_deref()))?;
    output::write_files(&args.out, &files)?;
    eprintln!(
        "job written to {} ({} files): see its README.md; one process: python train.py",
        args.out.display(),
        files.len()
    );
    Ok(())
}
