//! `webtune advise`: fine-tune or retrieve? Runs the base model, RAG, LoRA and LoRA + RAG on
//! the user's documents and questions, and prints the table and the recommendation.

use std::path::{Path, PathBuf};

use webtune::advise::{AdviseConfig, Progress};
use webtune::flow::Flow;
use webtune::platform::block_on;
use webtune::rag::{Document, read_document};
use webtune::session::{AdviseFiles, Purpose};

use crate::model::{self, ModelArgs, read_text};
use crate::output::{io, write_atomic};
use crate::rag::document_paths;

/// Options of `webtune advise`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// A sentence-transformers folder for retrieval, e.g. .cache/models/all-MiniLM-L6-v2.
    #[arg(long)]
    embedder: PathBuf,
    /// The documents (.md, .txt, .html), or folders of them.
    #[arg(long, required = true, num_args = 1..)]
    docs: Vec<PathBuf>,
    /// Labelled examples to fine-tune on (JSONL conversations or prompt/completion pairs, or
    /// CSV).
    #[arg(long)]
    train: PathBuf,
    /// More examples both adapters train on (chat JSONL, e.g. from `webtune pairs`); they do
    /// not shape the house format.
    #[arg(long)]
    generated: Option<PathBuf>,
    /// Questions with their key facts (JSONL `{"question", "facts": [...]}`); those that are
    /// also training questions are left out.
    #[arg(long)]
    questions: PathBuf,
    /// Changed documents, replacing those of the same file name (or added).
    #[arg(long, num_args = 1..)]
    changed_docs: Vec<PathBuf>,
    /// Questions whose answers the change altered (`facts`: the new ones, `old_facts`: the
    /// stale ones).
    #[arg(long)]
    changed_questions: Option<PathBuf>,
    /// The advisor's settings (TOML or JSON, `AdviseConfig`'s fields).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Training steps of each adapter.
    #[arg(long)]
    steps: Option<usize>,
    /// Also write the whole report (every answer and its marks) here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The documents under `paths`, each named by its file name (so that a changed file replaces
/// the document of the same name).
pub fn documents(paths: &[PathBuf]) -> webtune::Result<Vec<Document>> {
    let mut out = Vec::new();
    for path in document_paths(paths)? {
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let mut doc = read_document(&path.display().to_string(), &bytes)?;
        doc.id = path
            .file_name()
            .map_or(doc.id.clone(), |n| n.to_string_lossy().into_owned());
        out.push(doc);
    }
    Ok(out)
}

fn config(path: Option<&Path>, steps: Option<usize>) -> webtune::Result<AdviseConfig> {
    let mut config = match path {
        Some(path) => model::read_config(path)?,
        None => AdviseConfig::default(),
    };
    if let Some(steps) = steps {
        config.train.max_steps = Some(steps);
    }
    Ok(config)
}

fn progress(event: &Progress) -> Flow {
    match event {
        Progress::Stage { stage, done, total } => {
            if *done == 0 {
                eprintln!("{stage} ({total})");
            }
        }
        Progress::Training { event, .. } => crate::train::progress(event),
        Progress::Answer(m) => {
            let mark = |ok: bool| if ok { "yes" } else { "no" };
            eprintln!(
                "  {:<10} facts {:<3} format {:<3}{} {:>5.1} s  {}",
                m.arm.label(),
                mark(m.facts_stated),
                mark(m.format_followed),
                if m.stale { " STALE" } else { "" },
                m.seconds,
                m.question
            );
        }
    }
    Flow::Continue
}

/// Loads everything, runs the advisor, prints the table.
pub fn run(args: Args) -> webtune::Result<()> {
    let config = config(args.config.as_deref(), args.steps)?;
    let documents_before = documents(&args.docs)?;
    let changed = documents(&args.changed_docs)?;
    let name = |path: &Path| path.display().to_string();
    let training = (name(&args.train), read_text(&args.train)?);
    let questions = (name(&args.questions), read_text(&args.questions)?);
    let generated = match &args.generated {
        Some(path) => Some((name(path), read_text(path)?)),
        None => None,
    };
    let changed_questions = match &args.changed_questions {
        Some(path) => Some((name(path), read_text(path)?)),
        None => None,
    };
    let mut session = model::open(&args.model, Purpose::Read, false)?;
    crate::rag::open_encoder(&mut session, &args.embedder)?;
    let files = AdviseFiles {
        documents: &documents_before,
        changed_documents: &changed,
        training: (&training.0, &training.1),
        generated: generated.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        questions: (&questions.0, &questions.1),
        changed_questions: changed_questions
            .as_ref()
            .map(|(n, t)| (n.as_str(), t.as_str())),
    };
    let report = block_on(session.advise_files(&files, &config, progress))?;
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
        write_atomic(path, &json)?;
    }
    println!("{}", report.markdown());
    Ok(())
}
