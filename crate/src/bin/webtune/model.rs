//! Options shared by the commands that load a model, and loading it from a path.

use std::path::{Path, PathBuf};
use std::time::Instant;

use webtune::Error;
use webtune::device::Precision;
use webtune::platform::FileSource;
use webtune::platform::block_on;
use webtune::session::{OpenOptions, Purpose, Session, TierRequest};

/// `--model`, `--tier` and `--precision`.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// The model: a GGUF file, or a Hugging Face folder (config.json, *.safetensors,
    /// tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to compute (auto: the GPU unless there is none or it is a software renderer).
    #[arg(long, value_enum, default_value_t = TierArg::Auto)]
    pub tier: TierArg,
    /// The float type on the GPU. Without it: f16 where the adapter has `shader-f16` (half
    /// the memory; LoRA weights stay f32), f32 elsewhere and for commands that write or train
    /// base weights.
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionArg>,
}

/// `--precision` values.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PrecisionArg {
    /// 32-bit floats.
    F32,
    /// 16-bit floats (GPUs with `shader-f16`).
    F16,
}

impl From<PrecisionArg> for Precision {
    fn from(arg: PrecisionArg) -> Self {
        match arg {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::F16 => Precision::F16,
        }
    }
}

/// `--tier` values.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TierArg {
    /// The GPU when there is a real one, else the CPU.
    Auto,
    /// burn's CPU backend.
    Cpu,
    /// The GPU through wgpu.
    Gpu,
}

/// The files of a checkpoint at `path`: the file itself, or every file in the folder.
pub fn files(path: &Path) -> webtune::Result<Vec<FileSource>> {
    let io = |source| Error::Io {
        file: path.display().to_string(),
        source,
    };
    if !path.is_dir() {
        return Ok(vec![FileSource::open(path)?]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_file() {
            files.push(FileSource::open(entry.path())?);
        }
    }
    Ok(files)
}

impl From<TierArg> for TierRequest {
    fn from(arg: TierArg) -> Self {
        match arg {
            TierArg::Auto => TierRequest::Auto,
            TierArg::Cpu => TierRequest::Cpu,
            TierArg::Gpu => TierRequest::Gpu,
        }
    }
}

/// A session on the device `--tier` asks for, saying on stderr why when the engine chose.
pub fn session(tier: TierArg) -> webtune::Result<Session> {
    let session = block_on(Session::on(tier.into()))?;
    let info = session.device_info();
    if let Some(note) = info.tier_note {
        eprintln!("{}.", note.text);
    } else if let Some(timing) = info.tier_timing {
        eprintln!(
            "The GPU computed the engine's test products {:.1}× as fast as the CPU tier.",
            timing.gpu_speedup()
        );
    }
    Ok(session)
}

/// Opens the device `--tier` names and, in a new session, the model `--model` names, for
/// `purpose` (which decides the precision when `--precision` is not given), its linear layers
/// in 4-bit blocks with `quantize`; reports what it loaded on stderr.
pub fn open(args: &ModelArgs, purpose: Purpose, quantize: bool) -> webtune::Result<Session> {
    let mut session = session(args.tier)?;
    let options = OpenOptions {
        quantize,
        precision: args.precision.map(Precision::from),
        purpose,
    };
    let start = Instant::now();
    let name = args.model.display().to_string();
    let info = block_on(session.open_model(&name, files(&args.model)?, &options))?;
    eprintln!(
        "loaded {name} ({}, {} parameters) on {} in {} in {:.1?}",
        info.architecture,
        info.parameters,
        session.device().tier(),
        info.precision,
        start.elapsed()
    );
    Ok(session)
}

/// Reads a TOML or JSON (by its extension) configuration file into `T`.
pub fn read_config<T: serde::de::DeserializeOwned>(path: &Path) -> webtune::Result<T> {
    let text = read_text(path)?;
    let parsed = match path.extension().is_some_and(|e| e == "json") {
        true => serde_json::from_str(&text).map_err(|e| e.to_string()),
        false => toml::from_str(&text).map_err(|e| e.to_string()),
    };
    parsed.map_err(|problem| Error::Data {
        file: path.display().to_string(),
        line: 0,
        // A misspelt key is named with the setting it most likely means.
        problem: webtune::train::explain_unknown_field(&problem),
    })
}

/// Reads a UTF-8 text file (a dataset, a text to score), with errors that name it.
pub fn read_text(path: &Path) -> webtune::Result<String> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        file: file.clone(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| Error::Data {
        file,
        line: 0,
        problem: "is not UTF-8 text".into(),
    })
}
