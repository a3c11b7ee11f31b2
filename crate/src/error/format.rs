//! What can be wrong inside a model file, by format: the typed details that
//! [`super::Error::Gguf`] and [`super::Error::Safetensors`] carry. They live here, beside the
//! error type, so that the error type names no module above it; `io` re-exports them.

/// What is wrong with a GGUF file. Shown after the file's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GgufError {
    /// The file ends inside the header.
    #[error("the file ends at byte {len} inside the header (needed {need} more at byte {at})")]
    Truncated {
        /// Where the read started.
        at: u64,
        /// How many bytes it needed.
        need: u64,
        /// The file's length.
        len: u64,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file (it starts with {0:?}, not \"GGUF\")")]
    BadMagic([u8; 4]),
    /// A GGUF version other than 2 or 3.
    #[error("GGUF version {0} is not supported (only 2 and 3)")]
    Version(u32),
    /// A count or length that the file cannot possibly back.
    #[error("{what} is {value}, more than the {left} bytes left in the file can hold")]
    Implausible {
        /// What was being read.
        what: String,
        /// The value found.
        value: u64,
        /// Bytes left after it.
        left: u64,
    },
    /// A metadata value of an unknown type.
    #[error("metadata key `{key}` has unknown value type {type_id}")]
    ValueType {
        /// The key.
        key: String,
        /// The type id found.
        type_id: u32,
    },
    /// Arrays nested deeper than any model needs (llama.cpp writes one level).
    #[error("metadata key `{key}` nests arrays more than {limit} deep")]
    Nesting {
        /// The key.
        key: String,
        /// The deepest nesting read.
        limit: usize,
    },
    /// A string that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    Utf8 {
        /// What was being read.
        what: String,
    },
    /// A tensor whose ggml type id is unknown.
    #[error("tensor `{tensor}` has unknown ggml type id {type_id}")]
    TensorType {
        /// The tensor.
        tensor: String,
        /// The id found.
        type_id: u32,
    },
    /// A tensor whose type is known but cannot be dequantized by this build.
    #[error("tensor `{tensor}` is {ty}, which webtune cannot read yet (it reads {supported})")]
    Unsupported {
        /// The tensor.
        tensor: String,
        /// Its type.
        ty: String,
        /// The types this build reads.
        supported: String,
    },
    /// A tensor whose shape is invalid.
    #[error("tensor `{tensor}` has an invalid shape: {problem}")]
    Shape {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        problem: String,
    },
    /// A tensor whose data lies outside the file or is misaligned.
    #[error("tensor `{tensor}`: {problem}")]
    Placement {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        problem: String,
    },
    /// A tensor the model needs is not in the file.
    #[error("tensor `{0}` is missing")]
    MissingTensor(String),
    /// The metadata describe a model that cannot exist.
    #[error("the {arch}.* metadata describe an impossible model: {problem}")]
    Config {
        /// The architecture prefix.
        arch: String,
        /// What is impossible.
        problem: String,
    },
    /// Two tensors with the same name.
    #[error("tensor `{0}` appears twice")]
    Duplicate(String),
    /// Two metadata entries with the same key (which one counts would be a guess).
    #[error("metadata key `{0}` appears twice")]
    DuplicateKey(String),
    /// A metadata key that a loader needs is missing or has the wrong type.
    #[error("metadata key `{key}` {problem}")]
    Key {
        /// The key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// What is wrong with a safetensors file. Shown after the file's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SafetensorsError {
    /// The file is shorter than the 8-byte header length.
    #[error("the file is {0} bytes long, too short for a safetensors header")]
    TooShort(u64),
    /// The header length points past the end of the file.
    #[error("the header claims {header} bytes, but only {left} follow the length field")]
    HeaderPastEnd {
        /// Claimed header length.
        header: u64,
        /// Bytes after the length field.
        left: u64,
    },
    /// The header is not a JSON object of tensor entries.
    #[error("the header is not valid: {0}")]
    Header(String),
    /// A dtype string that safetensors does not define.
    #[error("tensor `{tensor}` has unknown dtype {dtype:?}")]
    Dtype {
        /// The tensor.
        tensor: String,
        /// The dtype found.
        dtype: String,
    },
    /// A dtype that exists but that webtune does not read as weights.
    #[error("tensor `{tensor}` is {dtype}; webtune reads F32, F16, BF16 and F64 weights")]
    Unsupported {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: String,
    },
    /// A tensor's byte range is outside the data, overlaps another, or does not match its shape.
    #[error("tensor `{tensor}`: {problem}")]
    Placement {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        problem: String,
    },
}
