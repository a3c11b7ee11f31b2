//! `webtune export`: writes a fine-tune where it will be used. From a training checkpoint
//! (`OUT/checkpoint` of `webtune train --checkpoint-every`, say of a run that was stopped) or
//! a PEFT adapter folder: what a finished run writes (a PEFT adapter for LoRA/DoRA runs, a
//! Hugging Face checkpoint for full and HFT runs), or with `--merged` the base with the
//! adapter folded in; with `--gguf`, llama.cpp's GGUF adapter file, or with `--gguf --merged`
//! one GGUF model (`--quant f16|q8_0|f32`; without an adapter, the base converted), each with
//! an Ollama `Modelfile`.

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
    /// A training checkpoint folder (state.json, optimizer.safetensors, and the adapter or
    /// parameters.safetensors).
    #[arg(long, conflicts_with = "adapter")]
    checkpoint: Option<PathBuf>,
    /// A PEFT adapter folder (adapter_config.json, adapter_model.safetensors).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Where to write the files.
    #[arg(long)]
    out: PathBuf,
    /// Fold the adapter into the base and write a whole model.
    #[arg(long)]
    merged: bool,
    /// Write GGUF for llama.cpp / Ollama / LM Studio: the adapter as `adapter.gguf`, or with
    /// `--merged` the model as `model-<quant>.gguf`; with a `Modelfile`.
    #[arg(long)]
    gguf: bool,
    /// The type of a merged GGUF model's matrices: f16, q8_0 or f32.
    #[arg(long, default_value = "f16", requires = "gguf")]
    quant: String,
}

/// Loads the base, applies the checkpoint or adapter, writes the result.
pub fn run(args: Args) -> webtune::Result<()> {
    let kind = match (args.gguf, args.merged) {
        (true, true) => ExportKind::gguf_merged(&args.quant)?,
        (true, false) => ExportKind::GgufAdapter,
        (false, true) => ExportKind::Merged,
        (false, false) => ExportKind::Result,
    };
    // `--merged` alone writes the base itself: a conversion.
    if args.checkpoint.is_none() && args.adapter.is_none() && !args.merged {
        return Err(webtune::Error::Input {
            problem: "give what to export: --checkpoint DIR or --adapter DIR (or --merged alone \
                      to write the base model itself)"
                .into(),
        });
    }
    let mut session = model::open(&args.model, Purpose::Write, false)?;
    let what = if let Some(dir) = &args.checkpoint {
        let checkpoint = output::read_checkpoint(dir)?;
        let state = block_on(session.apply_checkpoint(&checkpoint))?;
        format!("the {:?} run's step {}", state.config.method, state.step)
    } else if let Some(dir) = &args.adapter {
        let layers = output::import_adapter(&mut session, dir)?;
        format!("the adapter in {} ({layers} layers)", dir.display())
    } else {
        format!("{}", args.model.model.display())
    };
    let files = block_on(session.export(kind))?;
    output::write_files(&args.out, &files)?;
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    eprintln!(
        "exported {what} → {} ({})",
        args.out.display(),
        names.join(", ")
    );
    Ok(())
}
