//! `webtune generate`: stream text from a model, with none, one or several adapters kept
//! on the one base (`--adapter` repeated), answering with one (`--use`) or each in turn
//! (`--compare`), without loading the base again.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use webtune::Error;
use webtune::flow::Flow;
use webtune::generate::{GenerateConfig, Sampling};
use webtune::platform::block_on;
use webtune::session::{GenerateOptions, Purpose, Session};

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
    /// A PEFT adapter folder, as `NAME=DIR` or `DIR` (named after the folder); may be
    /// repeated: every adapter is kept on the one base.
    #[arg(long)]
    adapter: Vec<String>,
    /// Answer with this adapter (default: the only one given).
    #[arg(long = "use", conflicts_with = "compare")]
    use_adapter: Option<String>,
    /// Answer with the base model and then with each adapter.
    #[arg(long)]
    compare: bool,
    /// The adapter's scale (1: as trained, 0: the base model).
    #[arg(long)]
    adapter_scale: Option<f64>,
    /// The conversation before `--chat` (JSON: `[{"role", "content"}, …]`, system turns
    /// included); the oldest exchanges are left out when it does not fit the context.
    #[arg(long, requires = "chat")]
    history: Option<PathBuf>,
}

/// `NAME=DIR` or `DIR` → (name, folder).
fn named(spec: &str) -> (String, PathBuf) {
    match spec.split_once('=') {
        Some((name, dir)) if !name.is_empty() => (name.to_string(), PathBuf::from(dir)),
        _ => {
            let dir = PathBuf::from(spec);
            let name = dir
                .file_name()
                .map_or_else(|| spec.to_string(), |n| n.to_string_lossy().to_string());
            (name, dir)
        }
    }
}

/// Loads the model and the adapters, then streams each asked-for answer to stdout (timings to
/// stderr).
pub fn run(args: Args) -> webtune::Result<()> {
    let mut session = model::open(&args.model, Purpose::Read, false)?;
    let (prompt, raw) = match (&args.prompt, &args.chat) {
        (Some(text), _) => (text, true),
        (None, Some(text)) => (text, false),
        (None, None) => {
            return Err(Error::Input {
                problem: "nothing to generate from".into(),
            });
        }
    };
    let mut names = Vec::new();
    for spec in &args.adapter {
        let (name, dir) = named(spec);
        let (config, weights) = crate::output::adapter_files(&dir)?;
        let start = Instant::now();
        let kept = block_on(session.load_adapter(&name, &config, &weights))?;
        eprintln!(
            "adapter {name}: r = {}, {} layers, {:.1} MiB, loaded in {:.2?}",
            kept.r,
            kept.layers,
            kept.bytes as f64 / (1 << 20) as f64,
            start.elapsed()
        );
        names.push(name);
    }
    let choices: Vec<Option<Option<String>>> = match (&args.use_adapter, args.compare) {
        (_, true) => std::iter::once(None)
            .chain(names.iter().map(|n| Some(Some(n.clone()))))
            .collect(),
        (Some(name), false) => vec![Some(Some(name.clone()))],
        (None, false) if names.len() == 1 => vec![Some(Some(names[0].clone()))],
        (None, false) if names.is_empty() => vec![Some(None)],
        (None, false) => {
            return Err(Error::Input {
                problem: format!(
                    "{} adapters are given: choose one with --use NAME (of {names:?}), or --compare",
                    names.len()
                ),
            });
        }
    };
    let mut options = GenerateOptions {
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
        adapter_scale: args.adapter_scale,
        raw,
        history: match &args.history {
            Some(path) => {
                let text = crate::model::read_text(path)?;
                serde_json::from_str(&text).map_err(|e| Error::Data {
                    file: path.display().to_string(),
                    line: e.line(),
                    problem: format!("not a list of {{\"role\", \"content\"}} turns: {e}"),
                })?
            }
            None => Vec::new(),
        },
        ..Default::default()
    };
    for choice in choices {
        // `None`: the base model; `Some(name)`: that adapter; `Some(None)`: as opened.
        options.adapter = Some(choice.is_some());
        options.adapter_name = choice.clone().flatten();
        if args.compare {
            let label = options.adapter_name.as_deref().unwrap_or("base model");
            println!("== {label}");
        }
        answer(&session, prompt, &options)?;
    }
    Ok(())
}

/// Streams one answer to stdout, timings to stderr.
fn answer(session: &Session, prompt: &str, options: &GenerateOptions) -> webtune::Result<()> {
    let mut stdout = std::io::stdout();
    let out = block_on(session.generate(prompt, options, |text| {
        let _ = write!(stdout, "{text}");
        let _ = stdout.flush();
        Flow::Continue
    }))?;
    println!();
    eprintln!(
        "prompt {} tokens, first text after {:.2}s ({:.1} tok/s); {} new tokens, {:.1} tok/s after; \
         stopped: {}",
        out.prompt_tokens,
        out.first_text_seconds,
        out.prefill_tokens_per_second,
        out.tokens,
        out.decode_tokens_per_second,
        out.stop
    );
    if out.dropped_turns > 0 {
        eprintln!(
            "left out the {} oldest turns of the history: the conversation did not fit the \
             model's context",
            out.dropped_turns
        );
    }
    Ok(())
}
