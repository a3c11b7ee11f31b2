//! What the commands write: adapters in PEFT's layout, whole Hugging Face checkpoints, and
//! training checkpoints, each written so that a crash leaves the old files or the new ones,
//! never half of them.

use std::path::Path;

use webtune::Error;
use webtune::lora::{self, LoraConfig};
use webtune::models::{Model, ModelConfig, export};
use webtune::platform::block_on;
use webtune::train::Checkpoint;

/// Tokenizer files copied from a base folder, so that a written checkpoint is complete.
const TOKENIZER_FILES: [&str; 5] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "generation_config.json",
];

/// Turns an I/O failure on `path` into webtune's error naming it.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let file = path.display().to_string();
    move |source| Error::Io { file, source }
}

/// Creates the folder `dir` (and its parents).
pub fn create_dir(dir: &Path) -> webtune::Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))
}

/// Writes `bytes` to `path` atomically (a temporary file, then a rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> webtune::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Writes `model`'s adapter to `out` as `adapter_config.json` + `adapter_model.safetensors`.
pub fn write_adapter(
    out: &Path,
    model: &Model,
    config: &LoraConfig,
    base_name: &str,
) -> webtune::Result<()> {
    create_dir(out)?;
    let (adapter_config, weights) = block_on(lora::peft::save(model, config, base_name))?;
    write_atomic(&out.join("adapter_model.safetensors"), &weights)?;
    write_atomic(&out.join("adapter_config.json"), &adapter_config)
}

/// Writes `model` (no adapter branch left) to `out` as a Hugging Face checkpoint:
/// `config.json`, `model.safetensors`, and the tokenizer files of `base` when it is a folder.
pub fn write_hf_folder(
    out: &Path,
    model: &Model,
    config: &ModelConfig,
    base: &Path,
) -> webtune::Result<()> {
    create_dir(out)?;
    for (name, bytes) in block_on(export::checkpoint_files(model, config))? {
        write_atomic(&out.join(name), &bytes)?;
    }
    if base.is_dir() {
        for name in TOKENIZER_FILES {
            let from = base.join(name);
            if from.is_file() {
                std::fs::copy(&from, out.join(name)).map_err(io(&from))?;
            }
        }
    }
    Ok(())
}

/// Replaces the folder `dir` with `checkpoint`'s files: written to `dir.tmp`, then swapped
/// in, so that a crash leaves either the old checkpoint or the new one, never half of one.
pub fn write_checkpoint(dir: &Path, checkpoint: &Checkpoint) -> webtune::Result<()> {
    let tmp = dir.with_extension("tmp");
    let old = dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&tmp);
    create_dir(&tmp)?;
    for (name, bytes) in &checkpoint.files {
        std::fs::write(tmp.join(name), bytes).map_err(io(&tmp.join(name)))?;
    }
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Reads the checkpoint folder `dir` (its `state.json` must be there).
pub fn read_checkpoint(dir: &Path) -> webtune::Result<Checkpoint> {
    let mut checkpoint = Checkpoint::default();
    for name in Checkpoint::FILES {
        let path = dir.join(name);
        if !path.exists() && name != "state.json" {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        checkpoint.files.insert(name.to_string(), bytes);
    }
    Ok(checkpoint)
}
