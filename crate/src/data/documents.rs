//! Documents in: plain text, Markdown and HTML (its text extracted, headings kept as Markdown
//! headings so chunking follows them). Empty, binary, non-UTF-8 and oversized files get a
//! typed error that names the file. PDF is not read (no maintained pure-Rust PDF text
//! extractor builds for wasm32 without native code): convert it to text first.

use crate::error::{Error, Result};

/// The largest document read (larger ones are refused, not truncated).
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;

/// A document ready to chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its id (the file name or path it came from).
    pub id: String,
    /// Its title: the first heading, the HTML `<title>`, or the file name.
    pub title: String,
    /// Its text (Markdown-like: `#` headings, blank lines between paragraphs).
    pub text: String,
}

fn bad(file: &str, problem: impl Into<String>) -> Error {
    Error::Data {
        file: file.to_string(),
        line: 0,
        problem: problem.into(),
    }
}

/// A text that starts with a UTF-16 byte-order mark (Windows' "Unicode" text files), decoded;
/// `None` for any other bytes.
fn utf16(name: &str, bytes: &[u8]) -> Result<Option<String>> {
    let unit: fn([u8; 2]) -> u16 = match bytes {
        [0xff, 0xfe, ..] => u16::from_le_bytes,
        [0xfe, 0xff, ..] => u16::from_be_bytes,
        _ => return Ok(None),
    };
    if !bytes.len().is_multiple_of(2) {
        return Err(bad(
            name,
            "is UTF-16 text cut off in the middle of a character",
        ));
    }
    let units = bytes[2..].chunks_exact(2).map(|b| unit([b[0], b[1]]));
    char::decode_utf16(units)
        .collect::<std::result::Result<String, _>>()
        .map(Some)
        .map_err(|err| bad(name, format!("is not valid UTF-16 text ({err})")))
}

/// Reads file `name` (`bytes`) as a document, by its extension: `.html`/`.htm` as HTML,
/// anything else as text or Markdown.
pub fn read_document(name: &str, bytes: &[u8]) -> Result<Document> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".pdf") || bytes.starts_with(b"%PDF-") {
        return Err(bad(
            name,
            "is a PDF, which webtune does not read yet: convert it to text or HTML first",
        ));
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(bad(
            name,
            format!(
                "is {} MiB; documents are read up to {} MiB: split it",
                bytes.len() >> 20,
                MAX_DOCUMENT_BYTES >> 20
            ),
        ));
    }
    let decoded = utf16(name, bytes)?;
    let text = match &decoded {
        Some(text) => text.as_str(),
        None if bytes.contains(&0) => return Err(bad(name, "is binary, not text")),
        None => std::str::from_utf8(bytes).map_err(|err| {
            bad(
                name,
                format!(
                    "is not UTF-8 text (invalid byte at offset {})",
                    err.valid_up_to()
                ),
            )
        })?,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (title, text) = if lower.ends_with(".html") || lower.ends_with(".htm") {
        html_to_text(text)
    } else {
        (None, text.replace("\r\n", "\n"))
    };
    if text.trim().is_empty() {
        return Err(bad(name, "has no text"));
    }
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let title = title
        .or_else(|| {
            text.lines().find_map(|l| {
                l.trim_start()
                    .strip_prefix("# ")
                    .map(|t| t.trim().to_string())
            })
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| base.to_string());
    Ok(Document {
        id: name.to_string(),
        title,
        text,
    })
}

/// HTML's text: tags dropped, `<script>`/`<style>` skipped, block elements end paragraphs,
/// `<h1>`…`<h6>` become `#` headings, entities decoded. Returns the `<title>` too.
fn html_to_text(html: &str) -> (Option<String>, String) {
    let mut out = String::new();
    let mut title = None;
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    let mut in_title = false;
    let mut title_text = String::new();
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if skip_until.is_none() {
            if in_title {
                title_text.push_str(text);
            } else {
                push_text(&mut out, text);
            }
        }
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(end) = skip_until {
            if closing && name == end {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "script" | "style" | "noscript" | "template" if !closing => {
                skip_until = Some(match name.as_str() {
                    "script" => "script",
                    "style" => "style",
                    "noscript" => "noscript",
                    _ => "template",
                });
            }
            "title" => {
                in_title = !closing;
                if closing {
                    title = Some(decode(&title_text).trim().to_string());
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                end_paragraph(&mut out);
                if !closing {
                    let level = usize::from(name.as_bytes()[1] - b'0');
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                }
            }
            "p" | "div" | "section" | "article" | "ul" | "ol" | "table" | "tr" | "blockquote"
            | "pre" | "header" | "footer" | "main" | "nav" | "aside" => end_paragraph(&mut out),
            "br" => out.push('\n'),
            "li" if !closing => {
                if !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
                out.push_str("- ");
            }
            "td" | "th" => out.push(' '),
            _ => {}
        }
    }
    if skip_until.is_none() {
        push_text(&mut out, rest);
    }
    let text = out
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    (title.filter(|t| !t.is_empty()), text)
}

fn push_text(out: &mut String, text: &str) {
    let decoded = decode(text);
    let mut last_space = out.ends_with([' ', '\n']) || out.is_empty();
    for c in decoded.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

fn end_paragraph(out: &mut String) {
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
}

/// Decodes the common named entities and numeric character references.
fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|&e| e <= 10);
        let Some(end) = end else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            "mdash" => Some('—'),
            "ndash" => Some('–'),
            "euro" => Some('€'),
            _ => entity.strip_prefix('#').and_then(|n| {
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_headed_paragraphs() {
        let html = "<html><head><title>Leave &amp; time off</title><style>p{}</style></head>\
            <body><h1>Leave</h1><p>You get <b>25</b>&nbsp;days.</p><script>var x='<p>';</script>\
            <h2>Sick&#32;leave</h2><ul><li>Paid</li><li>Note after 3 days</li></ul></body></html>";
        let doc = read_document("leave.html", html.as_bytes()).unwrap();
        assert_eq!(doc.title, "Leave & time off");
        assert_eq!(
            doc.text,
            "# Leave\n\nYou get 25 days.\n\n## Sick leave\n\n- Paid\n- Note after 3 days"
        );
    }

    #[test]
    fn markdown_and_text_keep_their_text_and_find_a_title() {
        let doc =
            read_document("notes/a.md", "# Remote work\n\nThree days.\r\n".as_bytes()).unwrap();
        assert_eq!(
            (doc.title.as_str(), doc.text.as_str()),
            ("Remote work", "# Remote work\n\nThree days.\n")
        );
        let doc = read_document("plain.txt", b"Just text.").unwrap();
        assert_eq!(doc.title, "plain.txt");
        // Windows' "Unicode" text: UTF-16 with a byte-order mark, either byte order.
        let text = "# Café\r\n\r\nDeux jours.";
        let le: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for bytes in [le, be] {
            let doc = read_document("notes.txt", &bytes).unwrap();
            assert_eq!(
                (doc.title.as_str(), doc.text.as_str()),
                ("Café", "# Café\n\nDeux jours.")
            );
        }
        let err = read_document("odd.txt", &[0xff, 0xfe, b'a'])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cut off"), "{err}");
    }

    #[test]
    fn bad_files_are_refused_by_name() {
        let cases: [(&str, &[u8], &str); 5] = [
            ("empty.md", b"  \n\n", "has no text"),
            ("image.txt", b"\x89PNG\r\n\x1a\n\0\0", "binary"),
            ("latin1.txt", b"caf\xe9", "not UTF-8"),
            ("report.pdf", b"%PDF-1.7 ...", "PDF"),
            (
                "empty.html",
                b"<html><script>x</script></html>",
                "has no text",
            ),
        ];
        for (name, bytes, want) in cases {
            let err = read_document(name, bytes).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(want), "{err}");
        }
        let huge = vec![b'a'; MAX_DOCUMENT_BYTES + 1];
        assert!(
            read_document("huge.txt", &huge)
                .unwrap_err()
                .to_string()
                .contains("MiB")
        );
    }
}
