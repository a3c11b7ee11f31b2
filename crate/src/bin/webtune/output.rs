//! What the commands read and write on disk: the session's exports (adapters in PEFT's layout,
//! whole Hugging Face checkpoints), adapters to import, reports, and training checkpoints,
//! each written so that a crash leaves the old files or the new ones, never half of them.

use std::path::Path;

use webtune::Error;
use webtune::flow::Flow;
use webtune::platform::{FileSource, block_on};
use webtune::session::Session;
use webtune::train::Checkpoint;

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

/// Writes named files (an export of the session; a name may have folders, `data/x.jsonl`)
/// into the folder `out`, each atomically.
pub fn write_files(out: &Path, files: &[(String, Vec<u8>)]) -> webtune::Result<()> {
    create_dir(out)?;
    for (name, bytes) in files {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            create_dir(parent)?;
        }
        write_atomic(&path, bytes)?;
    }
    Ok(())
}

/// Attaches the PEFT adapter in folder `dir` (`adapter_config.json`,
/// `adapter_model.safetensors`) to the session's model; returns the adapted layers' count.
pub fn import_adapter(session: &mut Session, dir: &Path) -> webtune::Result<usize> {
    let (config, weights) = adapter_files(dir)?;
    block_on(session.import_adapter(&config, &weights))
}

/// A PEFT adapter folder's `adapter_config.json` (read) and `adapter_model.safetensors`.
pub fn adapter_files(dir: &Path) -> webtune::Result<(Vec<u8>, FileSource)> {
    let path = dir.join("adapter_config.json");
    let config = std::fs::read(&path).map_err(io(&path))?;
    Ok((
        config,
        FileSource::open(dir.join("adapter_model.safetensors"))?,
    ))
}

/// `value` as pretty JSON.
pub fn json_text(value: &impl serde::Serialize) -> webtune::Result<String> {
    serde_json::to_string_pretty(value).map_err(|err| Error::Input {
        problem: format!("cannot write the report: {err}"),
    })
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> webtune::Result<()> {
    println!("{}", json_text(value)?);
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

/// Reads the checkpoint folder `dir` (its `state.json` must be there). A run killed between
/// [`write_checkpoint`]'s two renames left no `dir` but a complete `dir.tmp` (newer) and
/// `dir.old`: the checkpoint is read from those, in that order.
pub fn read_checkpoint(dir: &Path) -> webtune::Result<Checkpoint> {
    if !dir.join("state.json").exists() {
        for fallback in [dir.with_extension("tmp"), dir.with_extension("old")] {
            if !dir.exists() && fallback.join("state.json").exists() {
                eprintln!(
                    "{} is missing (a run was stopped while saving it): reading {}",
                    dir.display(),
                    fallback.display()
                );
                return read_folder(&fallback);
            }
        }
    }
    read_folder(dir)
}

fn read_folder(dir: &Path) -> webtune::Result<Checkpoint> {
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

/// A progress line on stderr for greedy answers to held-out questions (`answered` of
/// `questions`), written when the count changes.
pub fn answering() -> impl FnMut(usize, usize) -> Flow {
    let mut shown = None;
    move |answered, questions| {
        if shown != Some(answered) && questions > 0 {
            shown = Some(answered);
            eprint!("\ranswering held-out questions: {answered}/{questions}");
            if answered == questions {
                eprintln!();
            }
        }
        Flow::Continue
    }
}
