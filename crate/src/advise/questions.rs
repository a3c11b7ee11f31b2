//! The advisor's question files: JSONL, one `{"question", "facts", …}` per line.
//!
//! - `question`: what is asked;
//! - `facts`: the key phrases a right answer states (each may list alternatives with `|`);
//! - `old_facts` (optional): phrases a stale answer states (for a question whose answer
//!   changed);
//! - `answer` (optional): a reference answer, shown beside the model's.
//!
//! Other keys are ignored.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One question with the facts its answer must state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// What is asked.
    pub question: String,
    /// Key phrases a right answer states (alternatives separated by `|`).
    pub facts: Vec<String>,
    /// Phrases that only a stale answer states.
    #[serde(default)]
    pub old_facts: Vec<String>,
    /// A reference answer.
    #[serde(default)]
    pub answer: Option<String>,
}

/// Reads a question file (`file` names it in errors).
pub fn read_questions(file: &str, text: &str) -> Result<Vec<Question>> {
    let bad = |line: usize, problem: String| Error::Data {
        file: file.to_string(),
        line,
        problem,
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: Question = serde_json::from_str(line).map_err(|err| {
            bad(
                i + 1,
                format!("is not a {{\"question\", \"facts\": [...]}} record: {err}"),
            )
        })?;
        if q.question.trim().is_empty() {
            return Err(bad(i + 1, "has an empty question".into()));
        }
        if q.facts.iter().all(|f| f.trim().is_empty()) {
            return Err(bad(
                i + 1,
                "lists no facts: the advisor marks an answer by the key phrases it states".into(),
            ));
        }
        out.push(q);
    }
    if out.is_empty() {
        return Err(bad(0, "has no questions".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_read_and_bad_lines_named() {
        let good = "{\"question\": \"Q?\", \"facts\": [\"2 days\"], \"old_facts\": [\"3 days\"], \
                    \"extra\": 1}\n\n";
        let qs = read_questions("q.jsonl", good).unwrap();
        assert_eq!(qs[0].old_facts, ["3 days"]);
        let err = read_questions("q.jsonl", "{\"question\": \"Q?\", \"facts\": []}").unwrap_err();
        assert!(err.to_string().contains("q.jsonl") && err.to_string().contains("no facts"));
        let err = read_questions("q.jsonl", "{\"q\": 1}\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(read_questions("q.jsonl", "\n").is_err());
    }
}
