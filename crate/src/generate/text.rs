//! Generating *text*: token ids streamed as text deltas (never a broken character), stop
//! strings honoured (text that could still become a stop string is held back, and a matched
//! stop string is never shown), on top of [`super::generate`].

use burn::tensor::Device;

use super::{Flow, GenerateConfig, generate};
use crate::error::Result;
use crate::models::CausalLm;
use crate::tokenizer::Tokenizer;

/// Why generation ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A stop token was produced.
    StopToken,
    /// A stop string appeared (it is not part of the text).
    StopString(String),
    /// `max_new_tokens` was reached.
    Length,
    /// The model's context is full.
    Context,
    /// The caller said stop.
    Caller,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StopToken => f.write_str("end of sequence"),
            Self::StopString(s) => write!(f, "stop string {s:?}"),
            Self::Length => f.write_str("length limit"),
            Self::Context => f.write_str("context full"),
            Self::Caller => f.write_str("stopped"),
        }
    }
}

/// What [`generate_text`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The new text, without a matched stop string.
    pub text: String,
    /// The new token ids (a stop token, if reached, is the last).
    pub ids: Vec<u32>,
    /// Why it ended.
    pub stop: StopReason,
}

/// Tracks decoded text and decides how much of it is safe to show.
#[derive(Debug)]
struct StreamText<'a> {
    stop_strings: &'a [String],
    shown: usize,
}

impl StreamText<'_> {
    /// Given the whole decoded text so far, returns the new displayable delta and the matched
    /// stop string with its byte position, if any.
    fn advance<'t>(&mut self, text: &'t str) -> (&'t str, Option<(usize, &str)>) {
        let matched = self
            .stop_strings
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| text.find(s.as_str()).map(|at| (at, s.as_str())))
            .min_by_key(|(at, _)| *at);
        let mut end = match matched {
            Some((at, _)) => at,
            None => {
                // Hold back a trailing partial character and any suffix that could begin a
                // stop string.
                let mut end = text.trim_end_matches('\u{FFFD}').len();
                for stop in self.stop_strings {
                    for k in (1..stop.len()).rev() {
                        if stop.is_char_boundary(k) && text[..end].ends_with(&stop[..k]) {
                            end -= k;
                            break;
                        }
                    }
                }
                end
            }
        };
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let delta = if end > self.shown {
            &text[self.shown..end]
        } else {
            ""
        };
        self.shown = self.shown.max(end);
        (delta, matched)
    }
}

/// Generates text after `prompt`, calling `on_text` with each displayable piece as soon as it
/// is known; `on_text` may stop generation. Stop strings end generation and are cut from the
/// text.
pub async fn generate_text(
    model: &impl CausalLm,
    tokenizer: &Tokenizer,
    device: &Device,
    prompt: &[u32],
    config: &GenerateConfig,
    mut on_text: impl FnMut(&str) -> Flow,
) -> Result<Generated> {
    let mut stream = StreamText {
        stop_strings: &config.stop_strings,
        shown: 0,
    };
    let mut ids = Vec::new();
    let mut stop = None;
    let mut error = None;
    let new = generate(model, device, prompt, config, |id| {
        ids.push(id);
        let text = match tokenizer.decode(&ids, true) {
            Ok(text) => text,
            Err(err) => {
                error = Some(err);
                return Flow::Stop;
            }
        };
        let (delta, matched) = stream.advance(&text);
        let flow = if delta.is_empty() {
            Flow::Continue
        } else {
            on_text(delta)
        };
        if let Some((_, s)) = matched {
            stop = Some(StopReason::StopString(s.to_string()));
            return Flow::Stop;
        }
        if flow == Flow::Stop {
            stop = Some(StopReason::Caller);
        }
        flow
    })
    .await?;
    if let Some(err) = error {
        return Err(err);
    }
    let mut text = tokenizer.decode(&new, true)?;
    let stop = match stop {
        Some(StopReason::StopString(s)) => {
            text.truncate(text.find(&s).unwrap_or(text.len()));
            StopReason::StopString(s)
        }
        Some(other) => other,
        None if new.last().is_some_and(|id| config.stop_ids.contains(id)) => StopReason::StopToken,
        None if new.len() < config.max_new_tokens => StopReason::Context,
        None => StopReason::Length,
    };
    // Whatever was held back (a partial stop-string prefix that never completed) is shown now.
    if stop != StopReason::Caller
        && text.len() > stream.shown
        && text.is_char_boundary(stream.shown)
    {
        on_text(&text[stream.shown..]);
    }
    Ok(Generated {
        text,
        ids: new,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::StreamText;

    fn run(pieces: &[&str], stops: &[&str]) -> (String, Option<String>) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut stream = StreamText {
            stop_strings: &stops,
            shown: 0,
        };
        let mut text = String::new();
        let mut shown = String::new();
        for piece in pieces {
            text.push_str(piece);
            let (delta, matched) = stream.advance(&text);
            shown.push_str(delta);
            if let Some((_, s)) = matched {
                return (shown, Some(s.to_string()));
            }
        }
        (shown, None)
    }

    #[test]
    fn a_stop_string_split_over_tokens_is_never_shown() {
        let (shown, stop) = run(
            &["Answer: 4", "2\nQ", "uestion:", " more"],
            &["\nQuestion:"],
        );
        assert_eq!(shown, "Answer: 42");
        assert_eq!(stop.as_deref(), Some("\nQuestion:"));
    }

    #[test]
    fn a_prefix_that_does_not_complete_is_released() {
        let (shown, stop) = run(&["a\nQ", "ueen"], &["\nQuestion:"]);
        assert_eq!((shown.as_str(), stop), ("a\nQueen", None));
    }

    #[test]
    fn a_stop_prefix_before_a_partial_character_is_held_back() {
        let (shown, _) = run(&["a\nQ\u{FFFD}"], &["\nQuestion:"]);
        assert_eq!(shown, "a");
    }

    #[test]
    fn partial_characters_wait_for_their_last_byte() {
        let (shown, _) = run(&["caf\u{FFFD}"], &[]);
        assert_eq!(shown, "caf");
    }
}
