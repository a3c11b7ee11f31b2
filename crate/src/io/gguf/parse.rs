//! The GGUF header: magic, version, metadata and tensor table, parsed from a byte prefix and
//! checked against the file's real length before anything is allocated.

use super::types::GgmlType;
use super::{GgufFile, TensorInfo, Value};
pub use crate::error::GgufError;

/// How deep metadata arrays may nest.
const MAX_NESTING: usize = 8;

/// Reads little-endian values from a prefix of a file of `file_len` bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    file_len: u64,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], GgufError> {
        let end = (self.pos as u64).saturating_add(n);
        if end > self.bytes.len() as u64 {
            return Err(GgufError::Truncated {
                at: self.pos as u64,
                need: n,
                len: self.file_len,
            });
        }
        let slice = &self.bytes[self.pos..end as usize];
        self.pos = end as usize;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        self.array().map(u64::from_le_bytes)
    }

    fn left(&self) -> u64 {
        self.file_len.saturating_sub(self.pos as u64)
    }

    /// A count of items at least `min_size` bytes each, checked against what the file holds.
    fn count(&mut self, what: &str, min_size: u64) -> Result<u64, GgufError> {
        let value = self.u64()?;
        if value.saturating_mul(min_size) > self.left() {
            return Err(GgufError::Implausible {
                what: what.to_string(),
                value,
                left: self.left(),
            });
        }
        Ok(value)
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.count(&format!("the length of {what}"), 1)?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::Utf8 {
            what: what.to_string(),
        })
    }

    /// One value of `type_id`; arrays hold values of one type, and may nest up to
    /// [`MAX_NESTING`] deep (each level is a call: a hostile file must not overflow the stack).
    fn value(&mut self, key: &str, type_id: u32, depth: usize) -> Result<Value, GgufError> {
        Ok(match type_id {
            0 => Value::U8(self.array::<1>()?[0]),
            1 => Value::I8(self.array::<1>()?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array()?)),
            3 => Value::I16(i16::from_le_bytes(self.array()?)),
            4 => Value::U32(self.u32()?),
            5 => Value::I32(i32::from_le_bytes(self.array()?)),
            6 => Value::F32(f32::from_le_bytes(self.array()?)),
            7 => Value::Bool(self.array::<1>()?[0] != 0),
            8 => Value::String(self.string(&format!("metadata `{key}`"))?),
            9 => {
                if depth >= MAX_NESTING {
                    return Err(GgufError::Nesting {
                        key: key.to_string(),
                        limit: MAX_NESTING,
                    });
                }
                let item_type = self.u32()?;
                // The smallest encoding of one item: a string is at least its 8-byte length.
                let min_size = match item_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    _ => {
                        return Err(GgufError::ValueType {
                            key: key.to_string(),
                            type_id: item_type,
                        });
                    }
                };
                let len = self.count(&format!("the length of array `{key}`"), min_size)?;
                // Capacity is bounded by what is in memory, not by what the header claims.
                let mut items = Vec::with_capacity(len.min(1 << 16) as usize);
                for _ in 0..len {
                    items.push(self.value(key, item_type, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(self.u64()?),
            11 => Value::I64(i64::from_le_bytes(self.array()?)),
            12 => Value::F64(f64::from_le_bytes(self.array()?)),
            _ => {
                return Err(GgufError::ValueType {
                    key: key.to_string(),
                    type_id,
                });
            }
        })
    }
}

/// Parses the header from `prefix`, the first bytes of a file of `file_len` bytes.
///
/// [`GgufError::Truncated`] with `prefix` shorter than the file means "read more and try
/// again"; with the whole file it means the file is cut short.
pub(super) fn parse_header(prefix: &[u8], file_len: u64) -> Result<GgufFile, GgufError> {
    let mut c = Cursor {
        bytes: prefix,
        pos: 0,
        file_len,
    };
    let magic = c.array::<4>()?;
    if &magic != b"GGUF" {
        return Err(GgufError::BadMagic(magic));
    }
    let version = c.u32()?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version(version));
    }
    // A tensor entry takes at least 8 (name length) + 4 + 8 + 4 + 8 bytes; a key-value at
    // least 8 + 4 + 1.
    let n_tensors = c.count("the tensor count", 32)?;
    let n_metadata = c.count("the metadata count", 13)?;

    let mut metadata = Vec::with_capacity(n_metadata.min(1 << 12) as usize);
    let mut keys = std::collections::HashSet::new();
    for _ in 0..n_metadata {
        let key = c.string("a metadata key")?;
        if !keys.insert(key.clone()) {
            return Err(GgufError::DuplicateKey(key));
        }
        let type_id = c.u32()?;
        let value = c.value(&key, type_id, 0)?;
        metadata.push((key, value));
    }
    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        Some((_, Value::U32(a))) if a.is_power_of_two() => u64::from(*a),
        Some((_, v)) => {
            return Err(GgufError::Key {
                key: "general.alignment".into(),
                problem: format!("must be a power of two as u32, found {v:?}"),
            });
        }
        None => 32,
    };

    let mut tensors = Vec::with_capacity(n_tensors.min(1 << 12) as usize);
    for _ in 0..n_tensors {
        let name = c.string("a tensor name")?;
        let n_dims = c.u32()?;
        if !(1..=4).contains(&n_dims) {
            return Err(GgufError::Shape {
                tensor: name,
                problem: format!("{n_dims} dimensions (GGUF allows 1 to 4)"),
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64()?);
        }
        let type_id = c.u32()?;
        let offset = c.u64()?;
        let ty = GgmlType::from_id(type_id).ok_or_else(|| GgufError::TensorType {
            tensor: name.clone(),
            type_id,
        })?;
        tensors.push((name, dims, ty, offset));
    }
    let data_start = (c.pos as u64).div_ceil(alignment) * alignment;

    let mut seen = std::collections::HashSet::new();
    let tensors = tensors
        .into_iter()
        .map(|(name, dims, ty, offset)| {
            if !seen.insert(name.clone()) {
                return Err(GgufError::Duplicate(name));
            }
            let info = TensorInfo::new(name, dims, ty, data_start, offset)?;
            let end = info.offset.checked_add(info.n_bytes);
            if offset % alignment != 0 || end.is_none_or(|end| end > file_len) {
                return Err(GgufError::Placement {
                    problem: format!(
                        "its {} bytes at offset {} (data starts at {data_start}) lie outside \
                         the file's {file_len} bytes or are not {alignment}-byte aligned",
                        info.n_bytes, offset
                    ),
                    tensor: info.name,
                });
            }
            Ok(info)
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(GgufFile {
        version,
        metadata,
        tensors,
        data_start,
    })
}
