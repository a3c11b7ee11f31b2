//! GGUF reading: every supported ggml type dequantizes to what llama.cpp's gguf-py gives, and
//! every kind of corrupt file is refused with an error that names the file and the problem.
//! Fixture: `tests/fixtures/gguf/make_fixture.py`.

use webtune::Error;
use webtune::io::gguf::{GgufError, GgufFile, Value};
use webtune::io::{ByteSource, MemorySource};
use webtune::platform::block_on;
use webtune_tests::check_gguf_tensor;

const TINY: &[u8] = include_bytes!("../fixtures/gguf/tiny.gguf");
const EXPECTED: &str = include_str!("../fixtures/gguf/tiny.expected.json");

fn open(bytes: Vec<u8>) -> webtune::Result<(MemorySource, GgufFile)> {
    let source = MemorySource::new("tiny.gguf", bytes);
    let file = block_on(GgufFile::open(&source))?;
    Ok((source, file))
}

fn gguf_error(bytes: Vec<u8>) -> GgufError {
    match open(bytes) {
        Err(Error::Gguf { file, source }) => {
            assert_eq!(file, "tiny.gguf");
            source
        }
        other => panic!("expected a GGUF error, got {other:?}"),
    }
}

/// Byte position just after the name of tensor `name` in the tensor table.
fn after_name(bytes: &[u8], name: &str) -> usize {
    let needle = name.as_bytes();
    let at = bytes
        .windows(needle.len())
        .rposition(|w| w == needle)
        .expect("tensor name in fixture");
    at + needle.len()
}

#[test]
fn every_type_dequantizes_like_gguf_py() {
    let (source, file) = open(TINY.to_vec()).unwrap();
    let expected: serde_json::Value = serde_json::from_str(EXPECTED).unwrap();
    let tensors = expected["tensors"].as_object().unwrap();
    assert_eq!(file.tensors.len(), tensors.len());
    for (name, want) in tensors {
        // The fixture holds whole tensors: every value is compared.
        let info = file.tensor(name).unwrap();
        assert_eq!(
            want["values"].as_array().unwrap().len() as u64,
            info.n_values()
        );
        check_gguf_tensor(&file, &source, name, want, "values");
    }
}

#[test]
fn metadata_values_are_typed() {
    let (_, file) = open(TINY.to_vec()).unwrap();
    assert_eq!(file.version, 3);
    assert_eq!(
        file.get("general.architecture").and_then(Value::as_str),
        Some("llama")
    );
    assert_eq!(file.get("test.u32").and_then(Value::as_u64), Some(7));
    assert_eq!(file.get("test.f32").and_then(Value::as_f64), Some(0.5));
    assert_eq!(file.get("test.bool"), Some(&Value::Bool(true)));
    assert_eq!(
        file.get("test.string").and_then(Value::as_str),
        Some("héllo")
    );
    let strings = ["a", "bc", ""].map(|s| Value::String(s.into())).to_vec();
    assert_eq!(file.get("test.strings"), Some(&Value::Array(strings)));
}

#[test]
fn every_truncation_is_refused() {
    // Cut anywhere inside the header or the data: never a panic, always a clear error.
    let (_, file) = open(TINY.to_vec()).unwrap();
    let last_end = file
        .tensors
        .iter()
        .map(|t| t.offset + t.n_bytes)
        .max()
        .unwrap();
    for len in (0..last_end as usize).step_by(7) {
        let err = open(TINY[..len].to_vec()).map(|_| ()).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("tiny.gguf: "), "cut at {len}: {text}");
    }
    assert!(matches!(
        gguf_error(TINY[..6].to_vec()),
        GgufError::Truncated { len: 6, .. }
    ));
    // Cut inside the metadata: the next length claims more than is left.
    let err = gguf_error(TINY[..100].to_vec());
    assert!(
        matches!(err, GgufError::Implausible { left, .. } if left < 100),
        "{err}"
    );
    // Cut inside the tensor data: the last tensor's bytes are outside the file.
    let err = gguf_error(TINY[..last_end as usize - 1].to_vec());
    assert!(matches!(err, GgufError::Placement { .. }), "{err}");
}

#[test]
fn corrupt_headers_get_specific_errors() {
    let mut bad = TINY.to_vec();
    bad[0..4].copy_from_slice(b"GGML");
    assert!(matches!(gguf_error(bad), GgufError::BadMagic(_)));

    let mut bad = TINY.to_vec();
    bad[4..8].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(gguf_error(bad), GgufError::Version(9));

    // A tensor count no file of this size can hold: refused before allocating anything.
    let mut bad = TINY.to_vec();
    bad[8..16].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let err = gguf_error(bad);
    assert!(matches!(err, GgufError::Implausible { .. }), "{err}");

    // The first key's length, pointing far past the end.
    let mut bad = TINY.to_vec();
    bad[24..32].copy_from_slice(&1_000_000_000u64.to_le_bytes());
    let err = gguf_error(bad);
    assert!(err.to_string().contains("a metadata key"), "{err}");
}

#[test]
fn corrupt_tensor_entries_name_the_tensor() {
    // Entry layout after the name: n_dims u32, dims u64 × n_dims, type u32, offset u64.
    let name = "q4_k.weight";
    let at = after_name(TINY, name);
    let type_at = at + 4 + 2 * 8;
    let offset_at = type_at + 4;

    let mut bad = TINY.to_vec();
    bad[type_at..type_at + 4].copy_from_slice(&99u32.to_le_bytes());
    assert_eq!(
        gguf_error(bad),
        GgufError::TensorType {
            tensor: name.into(),
            type_id: 99
        }
    );

    let mut bad = TINY.to_vec();
    bad[offset_at..offset_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let err = gguf_error(bad);
    assert!(
        matches!(&err, GgufError::Placement { tensor, .. } if tensor == name),
        "{err}"
    );
    assert!(err.to_string().contains("outside the file"), "{err}");

    let mut bad = TINY.to_vec();
    bad[at..at + 4].copy_from_slice(&7u32.to_le_bytes());
    assert!(matches!(gguf_error(bad), GgufError::Shape { .. }));

    // A row length that is not a whole number of Q4_K blocks.
    let mut bad = TINY.to_vec();
    bad[at + 4..at + 12].copy_from_slice(&100u64.to_le_bytes());
    let err = gguf_error(bad);
    assert!(err.to_string().contains("block of 256"), "{err}");

    // Renaming one tensor to another's name.
    let mut bad = TINY.to_vec();
    let other = after_name(TINY, "q4_0.weight") - "q4_0.weight".len();
    bad[other..other + 4].copy_from_slice(b"q4_1");
    assert_eq!(gguf_error(bad), GgufError::Duplicate("q4_1.weight".into()));
}

#[test]
fn unsupported_types_are_refused_when_read() {
    // Q5_K is a valid ggml type that webtune does not read yet: the header opens, reading
    // the tensor says which types are supported.
    let name = "q6_k.weight";
    let type_at = after_name(TINY, name) + 4 + 2 * 8;
    let mut bytes = TINY.to_vec();
    // Q5_K blocks are 176 bytes, Q6_K 210: the entry stays inside the file.
    bytes[type_at..type_at + 4].copy_from_slice(&13u32.to_le_bytes());
    let (source, file) = open(bytes).unwrap();
    let info = file.tensor(name).unwrap();
    let err = block_on(file.read_f32(&source, info)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tiny.gguf: tensor `q6_k.weight` is Q5_K, which webtune cannot read yet \
         (it reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)"
    );
}

#[test]
fn empty_and_out_of_range_reads_are_errors() {
    assert!(matches!(
        gguf_error(Vec::new()),
        GgufError::Truncated { len: 0, .. }
    ));
    let source = MemorySource::new("x.bin", vec![0u8; 10]);
    let err = block_on(source.read(8, 4)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.bin: bytes 8..8+4 are past its end (10 bytes)"
    );
}
