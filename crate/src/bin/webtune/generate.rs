//! `webtune generate`: stream text from a model.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use webtune::generate::{Flow, GenerateConfig, Sampling, generate};
use webtune::io::gguf::GgufFile;
use webtune::io::{ByteSource, FileSource};
use webtune::models::llama::load_gguf;
use webtune::platform::block_on;
use webtune::tokenizer::{Message, Tokenizer};
use webtune::{ComputeDevice, Error, Tier};

/// Options of `webtune generate`.
#[derive(clap::Args)]
pub struct Args {
    /// The model: a GGUF file (Llama family).
    #[arg(long)]
    model: PathBuf,
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
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = TierArg::Gpu)]
    tier: TierArg,
}

/// `--tier` values.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TierArg {
    /// burn's CPU backend.
    Cpu,
    /// The GPU through wgpu.
    Gpu,
}

/// Loads the model, then streams its continuation to stdout (timings to stderr).
pub fn run(args: Args) -> webtune::Result<()> {
    let tier = match args.tier {
        TierArg::Cpu => Tier::Cpu,
        TierArg::Gpu => Tier::Gpu,
    };
    let device = block_on(ComputeDevice::new(tier))?;
    let start = Instant::now();
    let source = FileSource::open(&args.model)?;
    let file = block_on(GgufFile::open(&source))?;
    let tokenizer = Tokenizer::from_gguf(source.name(), &file)?;
    let (_, model) = block_on(load_gguf(&file, &source, device.device()))?;
    eprintln!(
        "loaded {} on {tier} in {:.1?}",
        source.name(),
        start.elapsed()
    );

    let prompt = match (&args.prompt, &args.chat) {
        (Some(text), _) => tokenizer.encode(text)?,
        (None, Some(text)) => tokenizer.encode_chat(&[Message::new("user", text)])?,
        (None, None) => {
            return Err(Error::Template {
                problem: "nothing to generate from".into(),
            });
        }
    };
    let config = GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        sampling: Sampling {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            seed: args.seed,
        },
        stop_ids: tokenizer.eos_id.into_iter().collect(),
    };
    let start = Instant::now();
    let mut first = None;
    let mut ids = Vec::new();
    let mut printed = 0;
    let mut stdout = std::io::stdout();
    let new = block_on(generate(&model, device.device(), &prompt, &config, |id| {
        first.get_or_insert_with(|| start.elapsed());
        ids.push(id);
        // Decode everything so far and print what is new: a token can end inside a character.
        if let Ok(text) = tokenizer.decode(&ids, true)
            && text.len() > printed
            && text.is_char_boundary(printed)
        {
            let _ = write!(stdout, "{}", &text[printed..]);
            let _ = stdout.flush();
            printed = text.len();
        }
        Flow::Continue
    }))?;
    println!();
    let total = start.elapsed();
    let prefill = first.unwrap_or(total);
    let decoded = new.len().saturating_sub(1);
    eprintln!(
        "prompt {} tokens in {:.2?} ({:.1} tok/s); {} new tokens, {:.1} tok/s decoding",
        prompt.len(),
        prefill,
        prompt.len() as f64 / prefill.as_secs_f64(),
        new.len(),
        decoded as f64 / (total - prefill).as_secs_f64().max(1e-9)
    );
    Ok(())
}
