//! `webtune pairs`: training data from documents. The model writes question/answer pairs
//! about each passage; those that pass the checks are written as chat JSONL (see
//! [`webtune::qa`]).

use std::path::PathBuf;
use std::time::Instant;

use webtune::flow::Flow;
use webtune::platform::block_on;
use webtune::qa::{QaConfig, QaProgress, to_jsonl};
use webtune::session::Purpose;

use crate::model::{self, ModelArgs};
use crate::output::write_atomic;

/// Options of `webtune pairs`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The documents (.md, .txt, .html), or folders of them.
    #[arg(long, required = true, num_args = 1..)]
    docs: Vec<PathBuf>,
    /// Where the pairs go (chat JSONL, one conversation per line).
    #[arg(long)]
    out: PathBuf,
    /// Questions kept per passage, at most.
    #[arg(long)]
    per_passage: Option<usize>,
    /// Times the model is asked per passage (the first greedy, the rest sampled).
    #[arg(long)]
    attempts: Option<usize>,
    /// Share of an answer's words that must be in its passage (0 to 1).
    #[arg(long)]
    min_overlap: Option<f64>,
    /// Ask each question with its passage as source [1], as RAG asks (for LoRA + RAG).
    #[arg(long)]
    keep_passage: bool,
    /// A system prompt for every pair.
    #[arg(long)]
    system: Option<String>,
    /// Use at most this many passages.
    #[arg(long)]
    max_passages: Option<usize>,
    /// Settings (TOML or JSON, `QaConfig`'s fields); flags override them.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also write every kept and dropped pair, with reasons, here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn config(args: &Args) -> webtune::Result<QaConfig> {
    let mut config = match &args.config {
        Some(path) => model::read_config(path)?,
        None => QaConfig::default(),
    };
    if let Some(n) = args.per_passage {
        config.questions_per_passage = n;
    }
    if let Some(n) = args.attempts {
        config.attempts = n;
    }
    if let Some(x) = args.min_overlap {
        config.min_overlap = x;
    }
    if args.max_passages.is_some() {
        config.max_passages = args.max_passages;
    }
    config.keep_passage |= args.keep_passage;
    config.check()?;
    Ok(config)
}

/// Reads the documents, writes the pairs, prints what the checks kept.
pub fn run(args: Args) -> webtune::Result<()> {
    let config = config(&args)?;
    let documents = crate::advise::documents(&args.docs)?;
    let session = model::open(&args.model, Purpose::Read, false)?;
    let start = Instant::now();
    let report = block_on(session.generate_pairs(Some(&documents), &config, |event| {
        match event {
            QaProgress::Passage { done, total, kept } => {
                let eta = match done {
                    0 => String::new(),
                    d => {
                        let left = start.elapsed().as_secs_f64() / *d as f64 * (total - d) as f64;
                        format!(", about {left:.0} s left")
                    }
                };
                eprintln!("passage {}/{total}: {kept} pairs kept{eta}", done + 1);
            }
            QaProgress::Kept(pair) => eprintln!("  Q: {}\n  A: {}", pair.question, pair.answer),
        }
        Flow::Continue
    }))?;
    let text = to_jsonl(&report.kept, args.system.as_deref(), config.keep_passage);
    write_atomic(&args.out, text.as_bytes())?;
    if let Some(path) = &args.json {
        write_atomic(path, crate::output::json_text(&report)?.as_bytes())?;
    }
    let dropped: Vec<String> = report
        .dropped_by_reason()
        .iter()
        .map(|(reason, n)| format!("{n} {}", reason.label()))
        .collect();
    println!(
        "{} passages, {} candidate questions, {} pairs kept ({} dropped: {}) in {:.0} s; \
         wrote {}",
        report.passages,
        report.candidates,
        report.kept.len(),
        report.dropped.len(),
        if dropped.is_empty() {
            "none".to_string()
        } else {
            dropped.join(", ")
        },
        report.seconds,
        args.out.display()
    );
    Ok(())
}
