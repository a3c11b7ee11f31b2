//! `webtune merge`: fold a PEFT adapter into its base model and write a Hugging Face
//! checkpoint (`config.json`, `model.safetensors`, and the tokenizer files when the base is a
//! folder) that transformers loads.

use std::path::PathBuf;

use webtune::Error;
use webtune::lora;
use webtune::models::export;
use webtune::platform::{FileSource, block_on};

use crate::model::{self, ModelArgs};

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

/// Tokenizer files copied from a base folder, so that the merged folder is complete.
const TOKENIZER_FILES: [&str; 5] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "generation_config.json",
];

/// Loads base and adapter, merges, writes the checkpoint.
pub fn run(args: Args) -> webtune::Result<()> {
    let (device, mut loaded) = model::load(&args.model)?;
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
    std::fs::create_dir_all(&args.out).map_err(io(&args.out))?;
    let tensors = block_on(export::safetensors(&loaded.model))?;
    let config_json =
        serde_json::to_vec_pretty(&export::config_json(&loaded.config)).map_err(|err| {
            Error::Input {
                problem: format!("cannot write config.json: {err}"),
            }
        })?;
    for (name, bytes) in [("model.safetensors", tensors), ("config.json", config_json)] {
        let path = args.out.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    if args.model.model.is_dir() {
        for name in TOKENIZER_FILES {
            let from = args.model.model.join(name);
            if from.is_file() {
                std::fs::copy(&from, args.out.join(name)).map_err(io(&from))?;
            }
        }
    }
    eprintln!(
        "merged a rank-{} adapter into {} → {}",
        info.config.r,
        args.model.model.display(),
        args.out.display()
    );
    Ok(())
}
