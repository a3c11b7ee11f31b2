//! Writing GGUF (version 3): metadata, a tensor table, then each tensor's data, 32-byte
//! aligned, as llama.cpp's `gguf_write_to_file` and gguf-py's `GGUFWriter` lay it out.
//!
//! [`GgufWriter`] is planned before anything is encoded: every tensor is declared with its
//! shape and type first ([`GgufWriter::tensor`] checks that the type's blocks fit the shape),
//! so an export that cannot be written is refused before any bytes exist. The data is then
//! appended tensor by tensor ([`GgufWriter::data`]), so only one tensor's f32 values are held
//! at a time beside the file's bytes. Misuse (a wrong count, a missing tensor) is an error,
//! not a panic: the page must survive it.

use super::quant::encode;
use super::{GgmlType, Value};

/// Alignment of tensor data (GGUF's default, `general.alignment` absent).
const ALIGNMENT: usize = 32;

/// A GGUF file being written: declare metadata and tensors, then [`GgufWriter::finish_header`]
/// and the data of each tensor in declaration order.
#[derive(Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<Declared>,
    bytes: Vec<u8>,
    next: usize,
}

#[derive(Debug)]
struct Declared {
    name: String,
    /// Outermost first (PyTorch order); written innermost first.
    shape: Vec<usize>,
    ty: GgmlType,
    n_bytes: usize,
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metadata entry (written in the order added).
    pub fn meta(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        self.metadata.push((key.into(), value));
        self
    }

    /// The metadata added so far.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    /// Declares tensor `name` of `shape` (outermost first) stored as `ty`. Refuses a type this
    /// writer cannot encode, or one whose blocks do not divide the innermost dimension.
    pub fn tensor(&mut self, name: &str, shape: &[usize], ty: GgmlType) -> Result<(), String> {
        if !matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::Q8_0) {
            return Err(format!("webtune writes F32, F16 and Q8_0, not {ty}"));
        }
        let inner = shape.last().copied().unwrap_or(1);
        let (block_values, block_bytes) = ty.block();
        if !(inner as u64).is_multiple_of(block_values) {
            return Err(format!(
                "`{name}` is {shape:?}: its rows of {inner} values are not whole {ty} blocks \
                 of {block_values}"
            ));
        }
        let values: usize = shape.iter().product();
        self.tensors.push(Declared {
            name: name.to_string(),
            shape: shape.to_vec(),
            ty,
            n_bytes: values / block_values as usize * block_bytes as usize,
        });
        Ok(())
    }

    /// Writes the header (everything before the first tensor's data, padded); returns its
    /// length.
    pub fn finish_header(&mut self) -> usize {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            string(&mut out, key);
            out.extend_from_slice(&type_id(value).to_le_bytes());
            encode_value(&mut out, value);
        }
        let mut offset = 0usize;
        for t in &self.tensors {
            string(&mut out, &t.name);
            out.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
            for &d in t.shape.iter().rev() {
                out.extend_from_slice(&(d as u64).to_le_bytes());
            }
            out.extend_from_slice(&type_id_of(t.ty).to_le_bytes());
            out.extend_from_slice(&(offset as u64).to_le_bytes());
            offset = (offset + t.n_bytes).next_multiple_of(ALIGNMENT);
        }
        pad(&mut out);
        self.bytes = out;
        self.bytes.len()
    }

    /// Encodes the next declared tensor's `values` (row-major for its shape) and appends them.
    /// Refuses values of another count, or more tensors than were declared.
    pub fn data(&mut self, values: &[f32]) -> Result<(), String> {
        let t = self
            .tensors
            .get(self.next)
            .ok_or_else(|| format!("only {} tensors were declared", self.tensors.len()))?;
        let count: usize = t.shape.iter().product();
        if values.len() != count {
            return Err(format!(
                "`{}` is {:?} ({count} values), but {} were given",
                t.name,
                t.shape,
                values.len()
            ));
        }
        encode(t.ty, values, &mut self.bytes);
        pad(&mut self.bytes);
        self.next += 1;
        Ok(())
    }

    /// The whole file, once every declared tensor has its data.
    pub fn into_bytes(self) -> Result<Vec<u8>, String> {
        match self.tensors.get(self.next) {
            Some(t) => Err(format!("tensor `{}` has no data", t.name)),
            None => Ok(self.bytes),
        }
    }
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(ALIGNMENT), 0);
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn type_id_of(ty: GgmlType) -> u32 {
    match ty {
        GgmlType::F32 => 0,
        GgmlType::F16 => 1,
        GgmlType::Q8_0 => 8,
        // `tensor` accepts no other type.
        other => unreachable!("{other} is not written"),
    }
}

/// GGUF's metadata value type ids.
fn type_id(value: &Value) -> u32 {
    match value {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn encode_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::U8(v) => out.push(*v),
        Value::I8(v) => out.push(*v as u8),
        Value::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            // An empty array's item type is not recorded anywhere else: call it a string.
            let item = items.first().map_or(8, type_id);
            out.extend_from_slice(&item.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for v in items {
                encode_value(out, v);
            }
        }
        Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{MemorySource, gguf::GgufFile};

    #[test]
    fn what_is_written_reads_back() {
        let mut w = GgufWriter::new();
        w.meta("general.architecture", Value::String("llama".into()))
            .meta("llama.block_count", Value::U32(2))
            .meta("scale", Value::F32(0.5))
            .meta(
                "tokenizer.ggml.tokens",
                Value::Array(vec![Value::String("a".into()), Value::String("bc".into())]),
            );
        let a: Vec<f32> = (0..64).map(|i| i as f32 / 7.0 - 3.0).collect();
        w.tensor("a", &[2, 32], GgmlType::F32).unwrap();
        w.tensor("b", &[2, 32], GgmlType::F16).unwrap();
        w.tensor("c", &[2, 32], GgmlType::Q8_0).unwrap();
        w.tensor("d", &[3], GgmlType::F32).unwrap();
        assert!(w.tensor("e", &[2, 31], GgmlType::Q8_0).is_err());
        let header = w.finish_header();
        assert_eq!(header % ALIGNMENT, 0);
        assert!(w.data(&a[..63]).is_err());
        for values in [&a, &a, &a] {
            w.data(values).unwrap();
        }
        w.data(&[1.0, 2.0, 3.0]).unwrap();
        let bytes = w.into_bytes().unwrap();

        let source = MemorySource::new("w.gguf", bytes);
        let file = crate::platform::block_on(GgufFile::open(&source)).unwrap();
        assert_eq!(file.get("llama.block_count"), Some(&Value::U32(2)));
        assert_eq!(file.get("scale"), Some(&Value::F32(0.5)));
        let read = |name| {
            let info = file.tensor(name).unwrap();
            crate::platform::block_on(file.read_f32(&source, info)).unwrap()
        };
        assert_eq!(file.tensor("b").unwrap().shape(), vec![2, 32]);
        assert_eq!(read("a"), a);
        let close = |got: Vec<f32>, tol: f32| got.iter().zip(&a).all(|(x, y)| (x - y).abs() <= tol);
        assert!(close(read("b"), 2e-3));
        // Q8_0: within half a step of each block's scale (max |x| / 127).
        assert!(close(read("c"), 6.0 / 127.0 / 2.0 + 1e-3));
        assert_eq!(read("d"), vec![1.0, 2.0, 3.0]);
    }
}
