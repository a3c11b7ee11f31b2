//! `webtune export`: turns a training checkpoint (`OUT/checkpoint` of `webtune train
//! --checkpoint-every`, say of a run that was stopped) into what a finished run writes: a PEFT
//! adapter for LoRA/DoRA runs (or, with `--merged`, the base with the adapter folded in), a
//! Hugging Face checkpoint for full and HFT runs.

use std::path::PathBuf;

use webtune::lora;
use webtune::platform::block_on;
use webtune::train::Method;

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
    let (device, mut loaded) = model::load(&args.model, model::Half::Avoided)?;
    let checkpoint = output::read_checkpoint(&args.checkpoint)?;
    let state = block_on(checkpoint.load_into(&mut loaded.model, device.device()))?;
    let method = state.config.method;
    let what = match method {
        Method::Lora if !args.merged => {
            let base = args.model.model.display().to_string();
            output::write_adapter(&args.out, &loaded.model, &state.config.lora, &base)?;
            "a PEFT adapter"
        }
        _ => {
            lora::merge(&mut loaded.model);
            output::write_hf_folder(&args.out, &loaded.model, &loaded.config, &args.model.model)?;
            "a Hugging Face checkpoint"
        }
    };
    eprintln!(
        "exported the {method:?} run's step {} as {what} → {}",
        state.step,
        args.out.display()
    );
    Ok(())
}
