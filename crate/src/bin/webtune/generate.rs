//! `webtune generate`: stream text from a model.

use std::io::Write;
use std::time::Instant;

use webtune::Error;
use webtune::flow::Flow;
use webtune::generate::{GenerateConfig, Sampling};
use webtune::platform::block_on;
use webtune::session::{GenerateOptions, Purpose};

use crate::model::{self, ModelArgs};

/// Options of `webtune generate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Raw text to continue.
    #[arg(long, required_unless_present = "chat", conflicts_with = "chat")]
    prompt: Option<String>,
    /// A user message, rendered with the model's chat template.
    #[arg(long)]
    chat: Option<String>,
    /// The most tokens to generate.
    #[arg(long, default_value_t = 128)]
    max_new_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Keep only the k most likely tokens (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Nucleus sampling threshold (1: off).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Penalty for tokens already seen (1: off).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop when this text appears (not printed); may be repeated.
    #[arg(long)]
    stop: Vec<String>,
}

/// Loads the model, then streams its continuation to stdout (timings to stderr).
pub fn run(args: Args) -> webtune::Result<()> {
    let session = model::open(&args.model, Purpose::Read, false)?;
    let (prompt, raw) = match (&args.prompt, &args.chat) {
        (Some(text), _) => (text, true),
        (None, Some(text)) => (text, false),
        (None, None) => {
            return Err(Error::Input {
                problem: "nothing to generate from".into(),
            });
        }
    };
    let options = GenerateOptions {
        config: GenerateConfig {
            max_new_tokens: args.max_new_tokens,
            sampling: Sampling {
                temperature: args.temperature,
                top_k: args.top_k,
                top_p: args.top_p,
                repetition_penalty: args.repetition_penalty,
                seed: args.seed,
            },
            stop_ids: Vec::new(),
            stop_strings: args.stop.clone(),
        },
        adapter: None,
        raw,
    };
    let start = Instant::now();
    let mut first = None;
    let mut stdout = std::io::stdout();
    let out = block_on(session.generate(prompt, &options, |text| {
        first.get_or_insert_with(|| start.elapsed());
        let _ = write!(stdout, "{text}");
        let _ = stdout.flush();
        Flow::Continue
    }))?;
    println!();
    let total = start.elapsed();
    let prefill = first.unwrap_or(total);
    let decoded = out.tokens.saturating_sub(1);
    eprintln!(
        "prompt {} tokens, first text after {:.2?} ({:.1} tok/s); {} new tokens, {:.1} tok/s after; \
         stopped: {}",
        out.prompt_tokens,
        prefill,
        out.prompt_tokens as f64 / prefill.as_secs_f64(),
        out.tokens,
        decoded as f64 / (total - prefill).as_secs_f64().max(1e-9),
        out.stop
    );
    Ok(())
}
