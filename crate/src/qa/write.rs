//! Pairs as training data: chat JSONL (`messages`), the passage optionally in the prompt as
//! RAG puts it, with the passage's origin beside the messages.

use serde_json::json;

use super::QaPair;
use crate::rag::answer::prompt;
use crate::rag::{Chunk, Hit};
use crate::tokenizer::Message;

/// How a passage is named in a prompt: its document's title and section heading.
pub(super) fn label(passage: &Chunk) -> String {
    match passage.heading.is_empty() {
        true => passage.title.clone(),
        false => format!("{} — {}", passage.title, passage.heading),
    }
}

/// The conversation that trains on `pair`: `system` (when given), the question (with its
/// passage as source `[1]`, worded as RAG asks, when `keep_passage`), and the answer (citing
/// `[1]` when the passage is in the prompt).
pub fn pair_messages(pair: &QaPair, system: Option<&str>, keep_passage: bool) -> Vec<Message> {
    let mut messages = Vec::new();
    if keep_passage {
        let hit = Hit {
            id: 0,
            chunk: pair.passage.clone(),
            score: 1.0,
        };
        let (asked, _) = prompt(&pair.question, &[hit], usize::MAX, &|_| 0);
        for m in asked {
            match (m.role.as_str(), system) {
                ("system", Some(system)) => {
                    messages.push(Message::new("system", &format!("{system}\n{}", m.content)))
                }
                _ => messages.push(m),
            }
        }
        messages.push(Message::new("assistant", &format!("{} [1]", pair.answer)));
    } else {
        if let Some(system) = system {
            messages.push(Message::new("system", system));
        }
        messages.push(Message::new("user", &pair.question));
        messages.push(Message::new("assistant", &pair.answer));
    }
    messages
}

/// `pairs` as chat JSONL, one conversation per line (see [`pair_messages`]), each with a
/// `source` object naming the document and section it came from (ignored by trainers).
pub fn to_jsonl(pairs: &[QaPair], system: Option<&str>, keep_passage: bool) -> String {
    let mut out = String::new();
    for pair in pairs {
        let messages: Vec<_> = pair_messages(pair, system, keep_passage)
            .into_iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let line = json!({
            "messages": messages,
            "source": {"doc": pair.passage.doc_id, "heading": pair.passage.heading},
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataOptions, read_dataset};

    fn pair() -> QaPair {
        let text = "You may work from home up to 3 days a week.";
        QaPair {
            question: "How many days a week can I work from home?".into(),
            answer: "Up to 3 days a week.".into(),
            passage: Chunk {
                doc_id: "hr-work.md".into(),
                title: "Working time".into(),
                heading: "HR-110 Remote work".into(),
                start: 0,
                end: text.len(),
                text: text.into(),
                tokens: 12,
            },
            overlap: 1.0,
        }
    }

    #[test]
    fn pairs_are_chat_jsonl_that_reads_back_as_training_data() {
        let plain = to_jsonl(&[pair()], Some("Be brief."), false);
        let data = read_dataset("pairs.jsonl", &plain, &DataOptions::default()).expect("reads");
        assert_eq!(data.examples.len(), 1);
        assert!(plain.contains(r#""source":{"doc":"hr-work.md","heading":"HR-110 Remote work"}"#));
        let messages = pair_messages(&pair(), Some("Be brief."), false);
        let roles: Vec<_> = messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant"]);
        assert_eq!(messages[1].content, pair().question);

        let with = pair_messages(&pair(), None, true);
        assert_eq!(with[0].content, crate::rag::answer::INSTRUCTIONS);
        assert_eq!(
            with[1].content,
            "Sources:\n\n[1] Working time — HR-110 Remote work\nYou may work from home up to 3 \
             days a week.\n\nQuestion: How many days a week can I work from home?\n\n\
             Answer from the sources, citing them like [1]."
        );
        assert_eq!(with[2].content, "Up to 3 days a week. [1]");
        let text = to_jsonl(&[pair()], None, true);
        read_dataset("pairs.jsonl", &text, &DataOptions::default()).expect("reads");
    }
}
