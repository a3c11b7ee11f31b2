//! Telling model files apart by their first bytes (and, for pickles, their names).

use crate::error::{Error, Result};
use crate::io::ByteSource;

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A GGUF model.
    Gguf,
    /// A safetensors tensor file.
    Safetensors,
    /// A JSON document (`config.json`, `tokenizer.json`, …).
    Json,
    /// Anything else.
    Unknown,
}

/// File name endings PyTorch uses for pickled checkpoints.
const PICKLE_ENDINGS: [&str; 5] = [".bin", ".pt", ".pth", ".ckpt", ".pkl"];

/// Whether a file starting with `head` is a pickle (its protocol opcode) or `torch.save`'s
/// zip container.
pub(crate) fn looks_pickled(head: &[u8]) -> bool {
    matches!(head, [0x80, 2..=5, ..]) || head.starts_with(b"PK\x03\x04")
}

/// Reads the first bytes of `source` and says what it is. A PyTorch pickle (by name, by the
/// pickle protocol opcode, or by `torch.save`'s zip container) is an [`Error::Pickle`]: its
/// loading can run arbitrary code, so webtune never reads one.
pub async fn sniff(source: &impl ByteSource) -> Result<Format> {
    let name = source.name();
    let lower = name.to_ascii_lowercase();
    if PICKLE_ENDINGS.iter().any(|end| lower.ends_with(end)) {
        return Err(Error::Pickle {
            file: name.to_string(),
        });
    }
    let head = source.read(0, source.len().min(9) as usize).await?;
    if looks_pickled(&head) {
        return Err(Error::Pickle {
            file: name.to_string(),
        });
    }
    if head.starts_with(b"GGUF") {
        return Ok(Format::Gguf);
    }
    if head.len() == 9 && head[8] == b'{' {
        let header = u64::from_le_bytes(head[..8].try_into().unwrap_or([0xff; 8]));
        if header <= source.len() - 8 {
            return Ok(Format::Safetensors);
        }
    }
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(Format::Json);
    }
    Ok(Format::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemorySource;
    use crate::platform::block_on;

    fn sniffed(name: &str, bytes: &[u8]) -> Result<Format> {
        block_on(sniff(&MemorySource::new(name, bytes.to_vec())))
    }

    #[test]
    fn formats_are_told_apart() {
        assert_eq!(sniffed("m.gguf", b"GGUF\x03\0\0\0").unwrap(), Format::Gguf);
        let mut st = 2u64.to_le_bytes().to_vec();
        st.extend(b"{}");
        assert_eq!(sniffed("m.safetensors", &st).unwrap(), Format::Safetensors);
        assert_eq!(
            sniffed("config.json", b" {\"a\": 1}").unwrap(),
            Format::Json
        );
        assert_eq!(sniffed("x", b"hello").unwrap(), Format::Unknown);
        assert_eq!(sniffed("empty", b"").unwrap(), Format::Unknown);
    }

    #[test]
    fn pickles_are_refused_by_name_and_by_content() {
        for (name, bytes) in [
            ("pytorch_model.bin", &b"anything"[..]),
            ("model.PT", b""),
            ("weights", b"\x80\x02}q\0"),
            ("weights", b"PK\x03\x04zipdata"),
        ] {
            let err = sniffed(name, bytes).unwrap_err();
            assert!(matches!(err, Error::Pickle { .. }), "{name}: {err:?}");
            let text = err.to_string();
            assert!(
                text.starts_with(name) && text.contains("safetensors"),
                "{text}"
            );
        }
    }
}
