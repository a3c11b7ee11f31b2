//! safetensors: Hugging Face's tensor file (an 8-byte little-endian header length, a JSON
//! header, then raw little-endian tensor data).
//!
//! [`SafetensorsFile::open`] reads only the header and checks every entry against the file's
//! real length before anything else is read: a known dtype, a shape whose byte size equals its
//! byte range, ranges inside the file that do not overlap. [`SafetensorsFile::read_f32`] then
//! reads one tensor and widens it to f32.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::io::ByteSource;

pub use crate::error::SafetensorsError;

/// One tensor's header entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    /// Its dtype as the file names it (`F32`, `BF16`, …).
    pub dtype: String,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Absolute byte offset of its data in the file.
    pub offset: u64,
    /// Byte length of its data.
    pub n_bytes: u64,
}

/// A parsed and validated safetensors header.
#[derive(Debug, Clone, Default)]
pub struct SafetensorsFile {
    /// Tensors by name.
    pub tensors: BTreeMap<String, TensorEntry>,
    /// The free-form `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

/// Headers larger than this are refused (real ones are well under a megabyte per thousand
/// tensors); it bounds the one allocation made before validation.
const MAX_HEADER: u64 = 100 << 20;

/// Byte width of each dtype safetensors defines.
fn dtype_width(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

impl SafetensorsFile {
    /// Reads and validates the header of `source`.
    pub async fn open(source: &impl ByteSource) -> Result<Self> {
        let fail = |err| Error::Safetensors {
            file: source.name().to_string(),
            source: err,
        };
        let len = source.len();
        if len < 8 {
            return Err(fail(SafetensorsError::TooShort(len)));
        }
        let raw = source.read(0, 8).await?;
        let header = u64::from_le_bytes(raw.clone().try_into().unwrap_or([0xff; 8]));
        if header > len - 8 || header > MAX_HEADER {
            // A pickle given where safetensors belong (an adapter's or encoder's weights)
            // says what it is, not what its first bytes mean as a length.
            if super::sniff::looks_pickled(&raw) {
                return Err(Error::Pickle {
                    file: source.name().to_string(),
                });
            }
            return Err(fail(SafetensorsError::HeaderPastEnd {
                header,
                left: len - 8,
            }));
        }
        let bytes = source.read(8, header as usize).await?;
        parse_header(&bytes, len).map_err(fail)
    }

    /// Reads `name` from `source` as f32 values, row-major for its shape.
    pub async fn read_f32(&self, source: &impl ByteSource, name: &str) -> Result<Vec<f32>> {
        let rows = self.tensors.get(name).map_or(0, |e| rows_of(&e.shape));
        self.read_f32_rows(source, name, 0..rows).await
    }

    /// Reads rows `rows` (along the outermost dimension) of `name` as f32 values: only those
    /// rows' bytes are read, so a tensor larger than memory can be read piece by piece.
    pub async fn read_f32_rows(
        &self,
        source: &impl ByteSource,
        name: &str,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let fail = |err| Error::Safetensors {
            file: source.name().to_string(),
            source: err,
        };
        let entry = self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            file: source.name().to_string(),
            tensor: name.to_string(),
        })?;
        let convert: fn(&[u8]) -> f32 = match entry.dtype.as_str() {
            "F32" => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            "F16" => |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            "BF16" => |b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            "F64" => {
                |b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            _ => {
                return Err(fail(SafetensorsError::Unsupported {
                    tensor: name.to_string(),
                    dtype: entry.dtype.clone(),
                }));
            }
        };
        let width = dtype_width(&entry.dtype).unwrap_or(1) as usize;
        let (offset, len) = crate::io::row_window(
            source.name(),
            name,
            &rows,
            rows_of(&entry.shape),
            (entry.offset, entry.n_bytes),
        )?;
        let bytes = source.read(offset, len).await?;
        let mut out = Vec::new();
        out.try_reserve_exact(bytes.len() / width)
            .map_err(|_| Error::OutOfMemory {
                file: source.name().to_string(),
                what: format!("tensor `{name}` ({} values)", bytes.len() / width),
            })?;
        out.extend(bytes.chunks_exact(width).map(convert));
        crate::io::finite(source.name(), name, out)
    }
}

/// Rows along the outermost dimension (1 for a scalar).
fn rows_of(shape: &[usize]) -> usize {
    shape.first().copied().unwrap_or(1)
}

/// Writes f32 tensors (name, shape outermost first, row-major values) as a safetensors file,
/// sorted by name as Hugging Face's writer does, with `__metadata__ = {"format": "pt"}`.
///
/// Nothing non-finite is written: a tensor with a NaN or an infinity (a run that diverged)
/// fails with an error naming `file` and the tensor, and no bytes.
pub fn write_f32(file: &str, tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Result<Vec<u8>> {
    for (name, _, values) in tensors {
        if let Some((first, count)) = super::non_finite(values) {
            return Err(Error::Checkpoint {
                file: file.to_string(),
                problem: format!(
                    "not written: tensor `{name}` holds {count} NaN or infinite values (the \
                     first at index {first}); the run diverged (a lower learning rate or \
                     clipping helps; the last checkpoint before it is kept)"
                ),
            });
        }
    }
    let mut sorted: Vec<_> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let shapes: Vec<(&str, &[usize])> = sorted
        .iter()
        .map(|(name, shape, _)| (name.as_str(), shape.as_slice()))
        .collect();
    let mut out = f32_header(&shapes);
    for (_, _, values) in sorted {
        out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    Ok(out)
}

/// The start of a safetensors file of f32 tensors whose data follows in the order given: the
/// header's length, the header (with `__metadata__ = {"format": "pt"}`), padded with spaces so
/// that tensor data starts 8-byte aligned. For writers that stream the data after it.
pub fn f32_header(tensors: &[(&str, &[usize])]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut offset = 0u64;
    for (name, shape) in tensors {
        let end = offset + 4 * shape.iter().product::<usize>() as u64;
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut header = serde_json::Value::Object(header).to_string().into_bytes();
    while !(8 + header.len()).is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out
}

/// Parses the JSON header of a file `len` bytes long and checks every entry against it.
/// A JSON object's entries in order, refusing a key that appears twice (a map would keep
/// the last silently, and which tensor a reader sees would depend on the parser).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of tensor entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Entries, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut out = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!("`{key}` appears twice")));
                    }
                    out.push((key, value));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn parse_header(bytes: &[u8], len: u64) -> Result<SafetensorsFile, SafetensorsError> {
    let header = |problem: String| SafetensorsError::Header(problem);
    let Entries(json) = serde_json::from_slice(bytes).map_err(|err| header(err.to_string()))?;
    let data_start = 8 + bytes.len() as u64;
    let data_len = len - data_start;
    let mut file = SafetensorsFile::default();
    for (name, value) in json {
        if name == "__metadata__" {
            file.metadata = serde_json::from_value(value)
                .map_err(|err| header(format!("__metadata__ is not a map of strings: {err}")))?;
            continue;
        }
        let place = |problem: String| SafetensorsError::Placement {
            tensor: name.clone(),
            problem,
        };
        #[derive(serde::Deserialize)]
        struct Raw {
            dtype: String,
            shape: Vec<u64>,
            data_offsets: [u64; 2],
        }
        let raw: Raw = serde_json::from_value(value)
            .map_err(|err| header(format!("entry `{name}`: {err}")))?;
        let width = dtype_width(&raw.dtype).ok_or_else(|| SafetensorsError::Dtype {
            tensor: name.clone(),
            dtype: raw.dtype.clone(),
        })?;
        let [begin, end] = raw.data_offsets;
        if begin > end || end > data_len {
            return Err(place(format!(
                "bytes {begin}..{end} are outside the {data_len} bytes of tensor data"
            )));
        }
        let expected = raw
            .shape
            .iter()
            .try_fold(width, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| place(format!("shape {:?} overflows", raw.shape)))?;
        if expected != end - begin {
            return Err(place(format!(
                "shape {:?} of {} needs {expected} bytes, but its range holds {}",
                raw.shape,
                raw.dtype,
                end - begin
            )));
        }
        let shape = raw.shape.iter().map(|&d| d as usize).collect();
        let entry = TensorEntry {
            dtype: raw.dtype,
            shape,
            offset: data_start + begin,
            n_bytes: end - begin,
        };
        file.tensors.insert(name, entry);
    }
    let mut ranges: Vec<_> = file
        .tensors
        .iter()
        .map(|(name, t)| (t.offset, t.offset + t.n_bytes, name))
        .collect();
    ranges.sort();
    if let Some(pair) = ranges.windows(2).find(|w| w[1].0 < w[0].1) {
        return Err(SafetensorsError::Placement {
            tensor: pair[1].2.clone(),
            problem: format!("its bytes overlap those of `{}`", pair[0].2),
        });
    }
    Ok(file)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::io::MemorySource;
    use crate::platform::block_on;

    /// A safetensors file holding `tensors` (name, dtype, shape, raw bytes) in order.
    pub fn write(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (name, dtype, shape, bytes) in tensors {
            let begin = data.len();
            data.extend_from_slice(bytes);
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": dtype, "shape": shape,
                                   "data_offsets": [begin, data.len()]}),
            );
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header);
        out.extend(data);
        out
    }

    fn open(bytes: Vec<u8>) -> Result<SafetensorsFile> {
        block_on(SafetensorsFile::open(&MemorySource::new(
            "t.safetensors",
            bytes,
        )))
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn written_files_read_back() {
        let bytes = write_f32(
            "w.safetensors",
            &[
                ("b".into(), vec![2], vec![3.0, 4.0]),
                ("a".into(), vec![1, 1], vec![1.5]),
            ],
        )
        .unwrap();
        let err = write_f32(
            "w.safetensors",
            &[("c".into(), vec![2], vec![1.0, f32::NAN])],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("w.safetensors: not written: tensor `c` holds 1 NaN"),
            "{err}"
        );
        let source = MemorySource::new("w.safetensors", bytes);
        let file = block_on(SafetensorsFile::open(&source)).unwrap();
        assert_eq!(file.metadata["format"], "pt");
        assert_eq!(
            block_on(file.read_f32(&source, "b")).unwrap(),
            vec![3.0, 4.0]
        );
        assert_eq!(file.tensors["a"].offset % 8, 0);
    }

    #[test]
    fn reads_every_float_dtype() {
        let f16: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
            .collect();
        let bf16: Vec<u8> = [0.25f32, 8.0]
            .iter()
            .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
            .collect();
        let bytes = write(&[
            ("a", "F32", &[2], f32s(&[1.0, 2.0])),
            ("b", "F16", &[2, 1], f16),
            ("c", "BF16", &[2], bf16),
        ]);
        let source = MemorySource::new("t.safetensors", bytes);
        let file = block_on(SafetensorsFile::open(&source)).unwrap();
        assert_eq!(file.tensors["b"].shape, vec![2, 1]);
        let read = |name| block_on(file.read_f32(&source, name)).unwrap();
        assert_eq!(read("a"), vec![1.0, 2.0]);
        assert_eq!(read("b"), vec![1.5, -2.0]);
        assert_eq!(read("c"), vec![0.25, 8.0]);
        let missing = block_on(file.read_f32(&source, "d"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("t.safetensors") && missing.contains("`d`"),
            "{missing}"
        );
    }

    #[test]
    fn bad_headers_are_named() {
        let good = write(&[("w", "F32", &[2], f32s(&[1.0, 2.0]))]);
        let err = |bytes: Vec<u8>| open(bytes).unwrap_err().to_string();

        assert!(err(vec![1, 2, 3]).contains("too short"));
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(err(huge).contains("claims"));
        assert!(err(good[..good.len() - 1].to_vec()).contains("outside"));
        let mut not_json = good.clone();
        not_json[8] = b'x';
        assert!(err(not_json).contains("not valid"));

        let e = err(write(&[("w", "F33", &[1], vec![0; 4])]));
        assert!(
            e.contains("unknown dtype \"F33\"") && e.contains("`w`"),
            "{e}"
        );
        let e = err(write(&[("w", "F32", &[3], f32s(&[1.0, 2.0]))]));
        assert!(e.contains("needs 12 bytes"), "{e}");

        let mut overlap = serde_json::json!({
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
        })
        .to_string()
        .into_bytes();
        let mut bytes = (overlap.len() as u64).to_le_bytes().to_vec();
        bytes.append(&mut overlap);
        bytes.extend(f32s(&[1.0, 2.0]));
        assert!(err(bytes).contains("overlap"));

        let ints = write(&[("n", "I64", &[1], vec![0; 8])]);
        let source = MemorySource::new("t.safetensors", ints);
        let file = block_on(SafetensorsFile::open(&source)).unwrap();
        let e = block_on(file.read_f32(&source, "n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("I64"), "{e}");
    }
}
