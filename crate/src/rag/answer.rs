//! Answering from retrieved chunks: the best chunks become numbered sources in a prompt that
//! fits the model's context (sources are added best first while they fit the token budget),
//! the model answers through its chat template, and the answer's `[n]` citations are matched
//! back to the chunks they name.

use serde::Serialize;

use super::chunk::Chunk;
use super::index::Hit;
use crate::error::{Error, Result};
use crate::generate::{Flow, GenerateConfig, generate_text};
use crate::models::CausalLm;
use crate::tokenizer::{Message, Tokenizer};

/// What the model is told before the sources (short: small models and small contexts).
pub const INSTRUCTIONS: &str = "Answer from the numbered sources and cite them as [1], [2]. \
     If they do not say, answer that you do not know.";

/// What follows the question.
pub const REMINDER: &str = "Answer from the sources, citing them like [1].";

/// A chunk given to the model as source `[number]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// Its number in the prompt (from 1).
    pub number: usize,
    /// The chunk.
    pub chunk: Chunk,
}

/// An answer with its sources.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The model's text.
    pub text: String,
    /// Every source the prompt held.
    pub sources: Vec<Source>,
    /// The numbers the answer cites (that exist), in order of first citation.
    pub cited: Vec<usize>,
}

/// The chat messages for `question` with as many of `hits` (best first) as fit `budget`
/// tokens of source text (counted by `count`), and the sources used.
pub fn prompt(
    question: &str,
    hits: &[Hit],
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> (Vec<Message>, Vec<Source>) {
    let mut sources = Vec::new();
    let mut body = String::new();
    let mut used = 0;
    for hit in hits {
        let number = sources.len() + 1;
        let c = &hit.chunk;
        let label = match c.heading.is_empty() {
            true => c.title.clone(),
            false => format!("{} — {}", c.title, c.heading),
        };
        let block = format!("[{number}] {label}\n{}\n\n", c.text.trim());
        let tokens = count(&block);
        if used + tokens > budget {
            break;
        }
        used += tokens;
        body.push_str(&block);
        sources.push(Source {
            number,
            chunk: c.clone(),
        });
    }
    // Small models follow the last line best: the task is restated after the question.
    let user = format!("Sources:\n\n{body}Question: {question}\n\n{REMINDER}");
    (
        vec![
            Message::new("system", INSTRUCTIONS),
            Message::new("user", &user),
        ],
        sources,
    )
}

/// The source numbers `[n]` (or `[n, m]`) that `text` cites and that exist, in order of
/// first citation.
pub fn citations(text: &str, sources: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else {
            break;
        };
        for part in rest[..close].split(',') {
            if let Ok(n) = part.trim().parse::<usize>()
                && (1..=sources).contains(&n)
                && !out.contains(&n)
            {
                out.push(n);
            }
        }
        rest = &rest[close + 1..];
    }
    out
}

/// The chat messages that ask `model` `question` with as many of `hits` as fit its context
/// next to `max_new_tokens` of answer, the instructions (after `system`, when given) and the
/// question, and the sources used. Fails when not even the best hit fits.
pub fn messages(
    model: &impl CausalLm,
    tokenizer: &Tokenizer,
    system: Option<&str>,
    question: &str,
    hits: &[Hit],
    max_new_tokens: usize,
) -> Result<(Vec<Message>, Vec<Source>)> {
    let count = |s: &str| tokenizer.encode(s).map_or(usize::MAX, |ids| ids.len());
    let instructions = match system {
        Some(system) => format!("{system}\n{INSTRUCTIONS}"),
        None => INSTRUCTIONS.to_string(),
    };
    // The template's markers, "Sources:", "Question:" and the like.
    const FRAME: usize = 32;
    let overhead = count(&instructions) + count(REMINDER) + count(question) + FRAME;
    let room = model
        .context_length()
        .min(4096)
        .saturating_sub(max_new_tokens);
    let mut budget = room.saturating_sub(overhead);
    // The sum of the parts' tokens is an estimate (the template adds its own, tokens merge
    // across joins): the whole prompt is measured, and the budget cut until it fits.
    let (mut messages, mut sources) = prompt(question, hits, budget, &count);
    for _ in 0..8 {
        messages[0].content = instructions.clone();
        let length = tokenizer.encode_chat(&messages)?.len();
        if length <= room || sources.is_empty() {
            break;
        }
        budget = budget.saturating_sub(length - room);
        (messages, sources) = prompt(question, hits, budget, &count);
    }
    if sources.is_empty() && !hits.is_empty() {
        return Err(Error::Input {
            problem: format!(
                "not even the best source fits the model's context ({} tokens, {} of them \
                 for the instructions, the question and the answer): index with smaller chunks",
                model.context_length(),
                overhead + max_new_tokens
            ),
        });
    }
    messages[0].content = instructions;
    Ok((messages, sources))
}

/// Answers `question` from `hits` with `model` (see [`messages`]). `on_text` hears the answer
/// as it is generated.
pub async fn answer(
    model: &impl CausalLm,
    tokenizer: &Tokenizer,
    device: &burn::tensor::Device,
    question: &str,
    hits: &[Hit],
    config: &GenerateConfig,
    on_text: impl FnMut(&str) -> Flow,
) -> Result<Answer> {
    let (messages, sources) = messages(
        model,
        tokenizer,
        None,
        question,
        hits,
        config.max_new_tokens,
    )?;
    let ids = tokenizer.encode_chat(&messages)?;
    let out = generate_text(model, tokenizer, device, &ids, config, on_text).await?;
    let cited = citations(&out.text, sources.len());
    Ok(Answer {
        text: out.text,
        sources,
        cited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: u64, heading: &str, text: &str) -> Hit {
        Hit {
            id,
            chunk: Chunk {
                doc_id: "hr.md".into(),
                title: "Handbook".into(),
                heading: heading.into(),
                start: 0,
                end: text.len(),
                text: text.into(),
                tokens: text.split_whitespace().count(),
            },
            score: 1.0,
        }
    }

    #[test]
    fn sources_are_numbered_best_first_within_the_budget() {
        let hits = [
            hit(7, "Dogs", "Dogs are welcome on Fridays."),
            hit(3, "Parking", "Staff parking is on level -2."),
            hit(9, "", "A third source that will not fit the budget at all."),
        ];
        let words = |s: &str| s.split_whitespace().count();
        let (messages, sources) = prompt("Can dogs come?", &hits, 20, &words);
        assert_eq!(sources.iter().map(|s| s.number).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(messages[0].content, INSTRUCTIONS);
        assert_eq!(
            messages[1].content,
            "Sources:\n\n[1] Handbook — Dogs\nDogs are welcome on Fridays.\n\n[2] Handbook — \
             Parking\nStaff parking is on level -2.\n\nQuestion: Can dogs come?\n\n\
             Answer from the sources, citing them like [1]."
        );
    }

    #[test]
    fn citations_are_matched_to_sources() {
        assert_eq!(
            citations("Yes [2], on Fridays [1][2]. See [1, 3].", 3),
            [2, 1, 3]
        );
        assert_eq!(citations("No [4] or [x] or [", 3), Vec::<usize>::new());
    }
}
