//! `webtune merge`: fold a PEFT adapter into its base model and write a Hugging Face
//! checkpoint (`config.json`, `model.safetensors`, and the tokenizer files when the base is a
//! folder) that transformers loads.

use std::path::PathBuf;

use webtune::Error;
use webtune::lora;
use webtune::platform::{FileSource, block_on};

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
    let (device, mut loaded) = model::load(&args.model, model::Half::Avoided)?;
    let io = |path: &std::path::Path| {
        let file = path.display().to_string();
        move |source| Error::Io { file, source }
    };
    let config_path = args.adapter.join("adapter_config.json");
    let config = std::fs::read(&config_path).map_err(io(&config_path))?;
    let weights = FileSource::open(args.adapter.join("adapter_model.safetensors"))?;
    let info = block_on(lora::peft::load(
        &mut loaded.model,
        &config,
        &weights,
        device.device(),
    ))?;
    lora::merge(&mut loaded.model);
    output::write_hf_folder(&args.out, &loaded.model, &loaded.config, &args.model.model)?;
    eprintln!(
        "merged a rank-{} adapter into {} → {}",
        info.config.r,
        args.model.model.display(),
        args.out.display()
    );
    Ok(())
}
