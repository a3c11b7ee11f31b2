//! A conversation as one prompt: the history's turns and the next user message, through the
//! chat template, leaving out the oldest exchanges (never the system prompt) until it fits the
//! context with room for the answer.

use crate::error::{Error, Result};
use crate::tokenizer::{Message, Tokenizer};

/// The ids of `history` + the user turn `prompt`, and how many history turns were left out so
/// that it fits `context` tokens with `room` to spare.
pub(super) fn conversation(
    tokenizer: &Tokenizer,
    history: &[Message],
    prompt: &str,
    context: usize,
    room: usize,
) -> Result<(Vec<u32>, usize)> {
    for (i, turn) in history.iter().enumerate() {
        if !matches!(turn.role.as_str(), "system" | "user" | "assistant") {
            return Err(Error::Setting {
                setting: "history".into(),
                problem: format!(
                    "turn {} has role `{}`; the roles are system, user and assistant",
                    i + 1,
                    turn.role
                ),
            });
        }
    }
    let (system, turns): (Vec<&Message>, Vec<&Message>) =
        history.iter().partition(|m| m.role == "system");
    let user = Message::new("user", prompt);
    let mut first = 0;
    loop {
        let messages: Vec<Message> = system
            .iter()
            .chain(&turns[first..])
            .map(|m| (*m).clone())
            .chain([user.clone()])
            .collect();
        let ids = tokenizer.encode_chat(&messages)?;
        if ids.len() + room <= context || first == turns.len() {
            return Ok((ids, first));
        }
        // Leave out the oldest exchange: up to the next user turn.
        first += 1;
        while first < turns.len() && turns[first].role != "user" {
            first += 1;
        }
    }
}
