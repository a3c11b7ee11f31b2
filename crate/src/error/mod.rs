//! The library's error type. Every fallible public function returns [`Result`]; panics are
//! reserved for bugs (a broken invariant inside the library), never for bad input or a
//! missing device.

mod format;

pub use format::{GgufError, SafetensorsError};

/// Everything that can go wrong in the library, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter could be acquired, or the runtime refused it.
    #[error("could not initialise the {tier} device: {reason}")]
    DeviceInit {
        /// The tier that was asked for (`"cpu"`, `"gpu"`).
        tier: String,
        /// What the runtime said.
        reason: String,
    },
    /// Copying a tensor from the device back to the host failed.
    #[error("reading `{what}` back from the device failed: {reason}")]
    Readback {
        /// Which tensor was being read.
        what: String,
        /// What the runtime said.
        reason: String,
    },
    /// A file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A read asked for bytes past the end of a source.
    #[error("{file}: bytes {offset}..{offset}+{len} are past its end ({total} bytes)")]
    OutOfRange {
        /// The source.
        file: String,
        /// Start of the read.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// The source's length.
        total: u64,
    },
    /// A GGUF file is malformed or uses something webtune cannot read.
    #[error("{file}: {source}")]
    Gguf {
        /// The file.
        file: String,
        /// What is wrong with it.
        #[source]
        source: GgufError,
    },
    /// A safetensors file is malformed or holds something webtune cannot read.
    #[error("{file}: {source}")]
    Safetensors {
        /// The file.
        file: String,
        /// What is wrong with it.
        #[source]
        source: SafetensorsError,
    },
    /// A tensor the model needs is not in the checkpoint.
    #[error("{file}: tensor `{tensor}` is missing")]
    MissingTensor {
        /// The checkpoint (file or folder).
        file: String,
        /// The tensor, as the checkpoint names it.
        tensor: String,
    },
    /// A tensor holds NaN or infinite values.
    #[error(
        "{file}: tensor `{tensor}` holds {count} NaN or infinite values (the first at index \
         {first}): the file is damaged, or was saved from a run that diverged"
    )]
    NonFinite {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// How many values are not finite (in what was read).
        count: usize,
        /// The index of the first, in what was read.
        first: usize,
    },
    /// A tensor's shape is not the one the config implies.
    #[error(
        "{file}: tensor `{tensor}` has an invalid shape: {found:?}, but the config implies {expected:?}"
    )]
    TensorShape {
        /// The checkpoint.
        file: String,
        /// The tensor, as the checkpoint names it.
        tensor: String,
        /// Its shape in the file.
        found: Vec<usize>,
        /// The shape the config implies.
        expected: Vec<usize>,
    },
    /// A model config (`config.json`, GGUF metadata) is malformed, impossible or unsupported.
    #[error("{file}: {problem}")]
    Config {
        /// The config's file.
        file: String,
        /// What is wrong, naming the key.
        problem: String,
    },
    /// A run setting (a flag, a config file's key, a JS option) is out of its range.
    #[error("setting `{setting}` {problem}")]
    Setting {
        /// The setting, as the config names it (`optimizer.lr`, `batch_size`, …).
        setting: String,
        /// What is wrong and what it must be.
        problem: String,
    },
    /// A PyTorch pickle checkpoint, which webtune refuses to read.
    #[error(
        "{file} is a PyTorch pickle checkpoint; webtune does not load pickles because loading \
         one can run arbitrary code. Use the model's safetensors files (`model.safetensors`), \
         convert it with `python -c \"from transformers import AutoModelForCausalLM as M; \
         M.from_pretrained('DIR').save_pretrained('OUT', safe_serialization=True)\"`, or use \
         a GGUF file"
    )]
    Pickle {
        /// The file.
        file: String,
    },
    /// A checkpoint that is not a GGUF file or a Hugging Face folder, or a folder that lacks
    /// a file the model needs.
    #[error("{file}: {problem}")]
    Checkpoint {
        /// The file or folder.
        file: String,
        /// What is wrong or missing.
        problem: String,
    },
    /// A tokenizer could not be built or used.
    #[error("{file}: tokenizer {problem}")]
    Tokenizer {
        /// Where the tokenizer came from.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// A chat template could not be rendered.
    #[error("{file}: chat template: {problem}")]
    Template {
        /// Where the template came from (the model's file).
        file: String,
        /// What went wrong, with the template's line.
        problem: String,
    },
    /// Input that the operation cannot take (an empty or too long prompt, an id outside the
    /// vocabulary, …).
    #[error("invalid input: {problem}")]
    Input {
        /// What is wrong with it.
        problem: String,
    },
    /// An adapter cannot be attached, loaded or saved.
    #[error("adapter {name}: {problem}")]
    Adapter {
        /// The adapter (its file or folder).
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A dataset file is malformed (`line` 0: the file as a whole).
    #[error("{file}{}: {problem}", if *line > 0 { format!(", line {line}") } else { String::new() })]
    Data {
        /// The file.
        file: String,
        /// The 1-based line, or 0 for the whole file.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// Memory for a tensor could not be allocated.
    #[error("{file}: not enough memory for {what}")]
    OutOfMemory {
        /// The file being read.
        file: String,
        /// What was being allocated.
        what: String,
    },
    /// A training configuration does not fit the memory or the device's limits (see
    /// `train::plan`).
    #[error("{problem}")]
    TooLarge {
        /// What does not fit, with the configurations that would.
        problem: String,
    },
    /// A retrieval index cannot be read or used.
    #[error("{file}: {problem}")]
    Index {
        /// The index file (or the document being indexed).
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// An export was asked for that the target format or tool cannot take (an architecture
    /// llama.cpp does not load, a quantization the shapes do not allow). Refused before any
    /// file is written.
    #[error("cannot export {what}: {problem}")]
    Export {
        /// What was to be written (`"a GGUF adapter"`, `"model-q8_0.gguf"`).
        what: String,
        /// Why not, and what would work.
        problem: String,
    },
    /// Two sets of numbers that must agree do not.
    #[error("{0}")]
    Mismatch(#[from] crate::numerics::Mismatch),
    /// The caller stopped work whose result is whole or nothing (the advisor's comparison).
    #[error("{what} was stopped")]
    Stopped {
        /// What was stopped.
        what: String,
    },
}

impl Error {
    /// A short machine-readable name of what went wrong (`"gguf"`, `"data"`, `"adapter"`,
    /// …), for callers that branch on it (the JavaScript API puts it in `error.kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::DeviceInit { .. } => "device",
            Error::Readback { .. } => "readback",
            Error::Io { .. } => "io",
            Error::OutOfRange { .. } => "out_of_range",
            Error::Gguf { .. } => "gguf",
            Error::Safetensors { .. } => "safetensors",
            Error::MissingTensor { .. } => "missing_tensor",
            Error::TensorShape { .. } => "tensor_shape",
            Error::NonFinite { .. } => "non_finite",
            Error::Config { .. } => "config",
            Error::Setting { .. } => "setting",
            Error::Pickle { .. } => "pickle",
            Error::Checkpoint { .. } => "checkpoint",
            Error::Tokenizer { .. } => "tokenizer",
            Error::Template { .. } => "template",
            Error::Input { .. } => "input",
            Error::Adapter { .. } => "adapter",
            Error::Data { .. } => "data",
            Error::OutOfMemory { .. } => "out_of_memory",
            Error::TooLarge { .. } => "too_large",
            Error::Index { .. } => "index",
            Error::Export { .. } => "export",
            Error::Mismatch(_) => "mismatch",
            Error::Stopped { .. } => "stopped",
        }
    }
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
