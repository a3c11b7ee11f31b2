//! A ZIP archive of named files, stored without compression (what the page hands a person as
//! one download; model weights barely compress anyway). Names may hold folders
//! (`data/train.jsonl`) and are marked UTF-8. Archives past ZIP's 32-bit limits (4 GiB, 65,535
//! entries) are refused rather than written broken.

use crate::error::{Error, Result};

/// CRC-32 (IEEE, reflected, as ZIP and gzip use it) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// The ZIP archive of `files` (`(name, bytes)`, in that order).
pub fn stored(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let too_big = |what: String| Error::Export {
        what: "a ZIP archive".into(),
        problem: format!("{what}: past ZIP's 32-bit limits (4 GiB, 65,535 files)"),
    };
    let entries =
        u16::try_from(files.len()).map_err(|_| too_big(format!("{} files", files.len())))?;
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, bytes) in files {
        let offset = u32::try_from(out.len()).map_err(|_| too_big(name.clone()))?;
        let size = u32::try_from(bytes.len()).map_err(|_| too_big(name.clone()))?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_big(name.clone()))?;
        let crc = crc32(bytes);
        // Version 2.0, UTF-8 names (bit 11), stored, 1980-01-01 00:00.
        let common = |v: &mut Vec<u8>| {
            for field in [20u16, 0x0800, 0, 0, 0x0021] {
                v.extend(field.to_le_bytes());
            }
            for field in [crc, size, size] {
                v.extend(field.to_le_bytes());
            }
            v.extend(name_len.to_le_bytes());
            v.extend(0u16.to_le_bytes());
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend(name.as_bytes());
        out.extend(bytes);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes());
        common(&mut central);
        // Comment length, disk and internal attributes (2 bytes each), external attributes.
        central.extend([0u8; 6]);
        central.extend(0u32.to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let start = u32::try_from(out.len()).map_err(|_| too_big("the archive".into()))?;
    let length = u32::try_from(central.len()).map_err(|_| too_big("the directory".into()))?;
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(entries.to_le_bytes());
    out.extend(entries.to_le_bytes());
    out.extend(length.to_le_bytes());
    out.extend(start.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_the_standard_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn entries_and_directory_are_where_the_end_record_says() {
        let files = vec![
            ("a.txt".to_string(), b"hello".to_vec()),
            ("data/b.jsonl".to_string(), vec![7u8; 300]),
        ];
        let zip = stored(&files).unwrap();
        let end = zip.len() - 22;
        assert_eq!(&zip[end..end + 4], &0x0605_4b50u32.to_le_bytes());
        let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap());
        assert_eq!(u32_at(end + 16) as usize + u32_at(end + 12) as usize, end);
        assert_eq!(&zip[30..35], b"a.txt");
        assert_eq!(&zip[35..40], b"hello");
        assert_eq!(u32_at(14), crc32(b"hello"));
        // The second directory entry: its name, and the offset of its local header.
        let second = u32_at(end + 16) as usize + 46 + 5;
        assert_eq!(u32_at(second), 0x0201_4b50);
        assert_eq!(&zip[second + 46..second + 58], b"data/b.jsonl");
        assert_eq!(u32_at(second + 42), 40);
        assert_eq!(u32_at(40), 0x0403_4b50);
    }
}
