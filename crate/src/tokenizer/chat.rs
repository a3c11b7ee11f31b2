//! Chat templates: the model's own Jinja template (`tokenizer.chat_template` in GGUF or
//! `tokenizer_config.json`), rendered with minijinja as transformers' `apply_chat_template` does.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text of the turn.
    pub content: String,
}

impl Message {
    /// A turn by `role`.
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

/// ChatML, for models that ship no template.
pub const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' \
    + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}\
    {% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Template instructions one rendering may run: far more than any real template needs for a
/// long conversation, few enough that a looping template ends in well under a second.
const FUEL: u64 = 20_000_000;

/// Bytes one rendering may write: a long conversation is a few megabytes.
const MAX_OUTPUT: usize = 64 << 20;

/// A model's chat template.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
    file: String,
}

/// A writer that refuses to grow past [`MAX_OUTPUT`].
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT {
            return Err(std::io::Error::other("too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ChatTemplate {
    /// A template from its Jinja source and the model's BOS/EOS token strings.
    pub fn new(source: impl Into<String>, bos_token: &str, eos_token: &str) -> Self {
        Self {
            source: source.into(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            file: "the built-in ChatML template".into(),
        }
    }

    /// The same template, named by the file it came from (errors name it).
    pub fn from_file(mut self, file: &str) -> Self {
        self.file = file.to_string();
        self
    }

    /// The file the template came from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The template's Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders `messages`; with `add_generation_prompt` it ends where the assistant's answer
    /// begins.
    /// Rendering runs on bounded fuel and output: a template that loops or writes without end
    /// (templates come with model files) fails with a typed error naming its file.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let fail = |problem: String| Error::Template {
            file: self.file.clone(),
            problem,
        };
        let jinja = |err: minijinja::Error| {
            fail(match err.kind() {
                minijinja::ErrorKind::OutOfFuel => format!(
                    "runs more than {FUEL} steps for {} messages: it loops without end, or \
                     nearly",
                    messages.len()
                ),
                minijinja::ErrorKind::WriteFailure => format!(
                    "writes more than {} MiB for {} messages",
                    MAX_OUTPUT >> 20,
                    messages.len()
                ),
                _ => format!("{err:#}"),
            })
        };
        let mut env = minijinja::Environment::new();
        env.set_fuel(Some(FUEL));
        env.add_function(
            "raise_exception",
            |message: String| -> std::result::Result<String, _> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    message,
                ))
            },
        );
        env.add_template("chat", &self.source).map_err(jinja)?;
        let mut out = Bounded(Vec::new());
        env.get_template("chat")
            .map_err(jinja)?
            .render_captured_to(
                minijinja::context! {
                    messages => messages,
                    add_generation_prompt => add_generation_prompt,
                    bos_token => self.bos_token,
                    eos_token => self.eos_token,
                },
                &mut out,
            )
            .map_err(jinja)?;
        // minijinja writes whole strings: the bytes are UTF-8.
        String::from_utf8(out.0).map_err(|err| fail(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_renders_like_transformers() {
        let t = ChatTemplate::new(CHATML, "", "");
        let text = t
            .render(
                &[Message::new("user", "What is the capital of France?")],
                true,
            )
            .unwrap();
        assert_eq!(
            text,
            "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn template_errors_are_typed() {
        let t = ChatTemplate::new("{{ raise_exception('no system role') }}", "", "");
        let err = t.render(&[], false).unwrap_err().to_string();
        assert!(err.contains("no system role"), "{err}");
        let broken = ChatTemplate::new("{% for %}", "", "");
        assert!(broken.render(&[], false).is_err());
    }

    #[test]
    fn endless_and_huge_templates_are_refused() {
        let endless = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}\
                       {% endfor %}";
        let t = ChatTemplate::new(endless, "", "").from_file("model.gguf");
        let err = t.render(&[], false).unwrap_err().to_string();
        assert!(
            err.starts_with("model.gguf: chat template: runs more than"),
            "{err}"
        );
        // Each repetition is within minijinja's own cap; together they are 10 GB.
        let huge = "{% for a in range(100) %}{{ 'x' * 100000000 }}{% endfor %}";
        let err = ChatTemplate::new(huge, "", "")
            .from_file("model.gguf")
            .render(&[], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("writes more than 64 MiB"), "{err}");
    }
}
