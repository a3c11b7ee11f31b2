//! CSV datasets: RFC 4180 records (quoted fields may hold commas, quotes and newlines) with a
//! header row, mapped to examples by column: a question and an answer column (optionally a
//! system column) become a chat, a text column becomes raw text.

use serde::{Deserialize, Serialize};

use super::{DataFormat, Dataset, Example};
use crate::error::{Error, Result};
use crate::tokenizer::Message;

/// Which columns hold what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CsvColumns {
    /// The user's turn and the assistant's answer (and an optional system prompt).
    Chat {
        /// Column of the user's turn.
        prompt: String,
        /// Column of the answer (trained).
        response: String,
        /// Column of a system prompt, when there is one.
        system: Option<String>,
    },
    /// One column of raw text, all trained.
    Text(String),
}

/// Column-name pairs recognised without a mapping, in order of preference.
const KNOWN_PAIRS: [(&str, &str); 5] = [
    ("prompt", "completion"),
    ("instruction", "output"),
    ("question", "answer"),
    ("input", "output"),
    ("prompt", "response"),
];

impl CsvColumns {
    /// Picks the mapping from a header by its column names (case-insensitive).
    pub fn detect(header: &[String]) -> Option<Self> {
        let has = |name: &str| {
            header
                .iter()
                .find(|h| h.trim().eq_ignore_ascii_case(name))
                .cloned()
        };
        for (p, r) in KNOWN_PAIRS {
            if let (Some(prompt), Some(response)) = (has(p), has(r)) {
                return Some(Self::Chat {
                    prompt,
                    response,
                    system: has("system"),
                });
            }
        }
        has("text").map(Self::Text)
    }
}

/// Splits CSV text into records of fields, each with its 1-based starting line.
fn records(file: &str, text: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut out = Vec::new();
    let (mut fields, mut field) = (Vec::new(), String::new());
    let (mut line, mut start, mut quoted, mut after_quote) = (1usize, 1usize, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => {
                quoted = false;
                after_quote = true;
            }
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() && !after_quote => quoted = true,
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                after_quote = false;
            }
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                if !(fields.len() == 1 && fields[0].is_empty()) {
                    out.push((start, std::mem::take(&mut fields)));
                }
                fields.clear();
                after_quote = false;
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(Error::Data {
            file: file.to_string(),
            line: start,
            problem: "a quoted field is never closed".into(),
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

/// Reads a CSV dataset; `columns` maps its columns, or is detected from the header.
pub fn read_csv(file: &str, text: &str, columns: Option<&CsvColumns>) -> Result<Dataset> {
    let fail = |line: usize, problem: String| Error::Data {
        file: file.to_string(),
        line,
        problem,
    };
    let mut rows = records(file, text)?.into_iter();
    let (_, header) = rows.next().ok_or_else(|| fail(0, "is empty".into()))?;
    let columns = match columns {
        Some(c) => c.clone(),
        None => CsvColumns::detect(&header).ok_or_else(|| {
            fail(
                1,
                format!(
                    "has columns {header:?}; name a prompt and a response column (or a text column)"
                ),
            )
        })?,
    };
    let index = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name.trim())
            .ok_or_else(|| fail(1, format!("has no column {name:?} (columns: {header:?})")))
    };
    let (format, picked) = match &columns {
        CsvColumns::Chat {
            prompt,
            response,
            system,
        } => (
            DataFormat::Csv,
            vec![
                Some(index(prompt)?),
                Some(index(response)?),
                system.as_deref().map(index).transpose()?,
            ],
        ),
        CsvColumns::Text(text) => (DataFormat::Csv, vec![Some(index(text)?)]),
    };
    let mut examples = Vec::new();
    for (line, fields) in rows {
        if fields.len() != header.len() {
            return Err(fail(
                line,
                format!(
                    "has {} fields; the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        let get = |i: Option<usize>| i.map(|i| fields[i].clone());
        let example = match &columns {
            CsvColumns::Chat { .. } => {
                let mut chat = Vec::new();
                if let Some(system) = get(picked[2]).filter(|s| !s.trim().is_empty()) {
                    chat.push(Message::new("system", &system));
                }
                chat.push(Message::new("user", &get(picked[0]).unwrap_or_default()));
                chat.push(Message::new(
                    "assistant",
                    &get(picked[1]).unwrap_or_default(),
                ));
                Example::Chat(chat)
            }
            CsvColumns::Text(_) => Example::Text(get(picked[0]).unwrap_or_default()),
        };
        examples.push((line, example));
    }
    if examples.is_empty() {
        return Err(fail(0, "has a header but no records".into()));
    }
    Ok(Dataset {
        format,
        examples,
        blank_lines: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_detected_columns() {
        let text = "question,answer\n\"Is 5 lb, of lead, heavy?\",\"Yes\"\n\"He said \"\"no\"\"\nthen left\",No\n";
        let data = read_csv("q.csv", text, None).unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.examples[1].0, 3, "the record's first line");
        let Example::Chat(chat) = &data.examples[1].1 else {
            panic!()
        };
        assert_eq!(chat[0].content, "He said \"no\"\nthen left");
        assert_eq!(chat[1].content, "No");
        let Example::Chat(chat) = &data.examples[0].1 else {
            panic!()
        };
        assert_eq!(chat[0].content, "Is 5 lb, of lead, heavy?");
    }

    #[test]
    fn bad_csv_is_named() {
        let err = |text, cols: Option<&CsvColumns>| {
            read_csv("q.csv", text, cols).unwrap_err().to_string()
        };
        assert_eq!(
            err("question,answer\na,b,c\n", None),
            "q.csv, line 2: has 3 fields; the header has 2"
        );
        assert!(err("a,b\n1,2\n", None).contains("name a prompt and a response column"));
        assert!(err("question,answer\n\"open,b\n", None).contains("never closed"));
        let mapping = CsvColumns::Text("body".into());
        assert!(err("text\nx\n", Some(&mapping)).contains("no column \"body\""));
        assert_eq!(err("", None), "q.csv: is empty");
    }
}
