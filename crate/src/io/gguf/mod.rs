//! GGUF: llama.cpp's single-file model format (version 2 and 3).
//!
//! [`GgufFile::open`] reads and validates the header from a [`ByteSource`]: magic, version,
//! metadata, the tensor table, and every tensor's place in the file, before any tensor data
//! is read. [`GgufFile::read_f32`] then reads one tensor and dequantizes it.
//!
//! [`GgufWriter`] writes one (F32, F16 and Q8_0 tensors).
//!
//! Shapes: GGUF lists dimensions innermost first (`ne[0]` is contiguous). [`TensorInfo::shape`]
//! gives them outermost first, as PyTorch and burn do.

mod dequant;
mod parse;
mod quant;
mod types;
mod write;

pub use parse::GgufError;
pub use types::GgmlType;
pub use write::GgufWriter;

use crate::error::{Error, Result};
use crate::io::ByteSource;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
}

impl Value {
    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One tensor's entry in the table: name, shape, type and where its bytes are.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// The tensor's GGUF name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions as GGUF lists them, innermost first.
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Absolute byte offset of its data in the file.
    pub offset: u64,
    /// Byte length of its data.
    pub n_bytes: u64,
}

impl TensorInfo {
    fn new(
        name: String,
        dims: Vec<u64>,
        ty: GgmlType,
        data_start: u64,
        relative: u64,
    ) -> Result<Self, GgufError> {
        let shape_error = |problem: String| GgufError::Shape {
            tensor: name.clone(),
            problem,
        };
        let n_values = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| shape_error(format!("{dims:?} overflows")))?;
        let (block_values, block_bytes) = ty.block();
        if dims.first().is_none_or(|d| !d.is_multiple_of(block_values)) {
            return Err(shape_error(format!(
                "{dims:?}: the innermost dimension is not a multiple of {ty}'s block of \
                 {block_values}"
            )));
        }
        let n_bytes = (n_values / block_values)
            .checked_mul(block_bytes)
            .ok_or_else(|| shape_error(format!("{dims:?} overflows")))?;
        let offset = data_start
            .checked_add(relative)
            .ok_or_else(|| shape_error(format!("offset {relative} overflows")))?;
        Ok(Self {
            name,
            dims,
            ty,
            offset,
            n_bytes,
        })
    }

    /// Dimensions outermost first (PyTorch / burn order).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Number of values.
    pub fn n_values(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A parsed and validated GGUF header.
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// GGUF version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    /// The tensor table in file order, every entry checked to lie inside the file.
    pub tensors: Vec<TensorInfo>,
    /// Where tensor data starts.
    pub data_start: u64,
}

/// How much of a file the first header read takes; doubled until the header fits.
const FIRST_READ: u64 = 1 << 20;

impl GgufFile {
    /// Reads and validates the header of `source`.
    pub async fn open(source: &impl ByteSource) -> Result<Self> {
        let len = source.len();
        let mut want = FIRST_READ.min(len);
        loop {
            let prefix = source.read(0, want as usize).await?;
            match parse::parse_header(&prefix, len) {
                Err(GgufError::Truncated { .. }) if want < len => want = (want * 2).min(len),
                result => return result.map_err(|err| gguf_error(source, err)),
            }
        }
    }

    /// The metadata value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Reads `tensor` from `source` and dequantizes it to f32, in GGUF's memory order (which
    /// is row-major for [`TensorInfo::shape`]). Reads only that tensor's bytes.
    pub async fn read_f32(
        &self,
        source: &impl ByteSource,
        tensor: &TensorInfo,
    ) -> Result<Vec<f32>> {
        let rows = tensor.shape().first().copied().unwrap_or(1);
        self.read_f32_rows(source, tensor, 0..rows).await
    }

    /// Reads rows `rows` (along [`TensorInfo::shape`]'s outermost dimension) of `tensor` and
    /// dequantizes them: only those rows' bytes are read (a row is whole blocks in GGUF).
    pub async fn read_f32_rows(
        &self,
        source: &impl ByteSource,
        tensor: &TensorInfo,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        if !tensor.ty.is_supported() {
            return Err(gguf_error(
                source,
                GgufError::Unsupported {
                    tensor: tensor.name.clone(),
                    ty: tensor.ty.to_string(),
                    supported: GgmlType::SUPPORTED.to_string(),
                },
            ));
        }
        let total = tensor.shape().first().copied().unwrap_or(1).max(1);
        let (offset, len) = crate::io::row_window(
            source.name(),
            &tensor.name,
            &rows,
            total,
            (tensor.offset, tensor.n_bytes),
        )?;
        let bytes = source.read(offset, len).await?;
        let count = rows.end - rows.start;
        let values = tensor.n_values() / total as u64 * count as u64;
        let mut out = Vec::new();
        out.try_reserve_exact(values as usize)
            .map_err(|_| Error::OutOfMemory {
                file: source.name().to_string(),
                what: format!("tensor `{}` ({values} values)", tensor.name),
            })?;
        dequant::dequantize(tensor.ty, &bytes, &mut out);
        crate::io::finite(source.name(), &tensor.name, out)
    }
}

fn gguf_error(source: &impl ByteSource, err: GgufError) -> Error {
    Error::Gguf {
        file: source.name().to_string(),
        source: err,
    }
}
