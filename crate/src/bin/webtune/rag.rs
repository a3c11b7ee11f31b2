//! `webtune index`, `webtune query` and `webtune ask`: a document set into a retrieval index
//! (a file), questions against it, and answers from a model that cite the chunks they use.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use webtune::flow::Flow;
use webtune::platform::{FileSource, block_on};
use webtune::rag::{ChunkOptions, Document, FOLDER_FILES, Index, SearchMode, read_document};
use webtune::session::{AskOptions, GenerateOptions, Purpose, Session};

use crate::model::TierArg;
use crate::output::{io, write_atomic};

/// `--embedder` and `--tier`.
#[derive(clap::Args)]
pub struct EmbedderArgs {
    /// A sentence-transformers folder (config.json, model.safetensors, tokenizer.json,
    /// modules.json, 1_Pooling/config.json), e.g. .cache/models/all-MiniLM-L6-v2.
    #[arg(long)]
    pub embedder: PathBuf,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = TierArg::Auto)]
    pub tier: TierArg,
}

/// Options of `webtune index`.
#[derive(clap::Args)]
pub struct IndexArgs {
    #[command(flatten)]
    embedder: EmbedderArgs,
    /// The index file: created, or updated in place (written atomically).
    #[arg(long)]
    index: PathBuf,
    /// Documents (.md, .txt, .html), or folders of them.
    #[arg(required = true)]
    documents: Vec<PathBuf>,
    /// Remove indexed documents that are not among these.
    #[arg(long)]
    prune: bool,
    /// Tokens per chunk, at most.
    #[arg(long, default_value_t = ChunkOptions::default().max_tokens)]
    max_tokens: usize,
    /// Tokens a chunk repeats from the one before.
    #[arg(long, default_value_t = ChunkOptions::default().overlap_tokens)]
    overlap: usize,
}

/// Options of `webtune query`.
#[derive(clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    embedder: EmbedderArgs,
    /// The index file.
    #[arg(long)]
    index: PathBuf,
    /// The question.
    question: String,
    /// Chunks to return.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Ranking.
    #[arg(long, value_enum, default_value_t = ModeArg::Hybrid)]
    mode: ModeArg,
}

/// Options of `webtune ask`.
#[derive(clap::Args)]
pub struct AskArgs {
    /// The model that answers: a GGUF file or a Hugging Face folder (on `--tier`).
    #[arg(long)]
    model: PathBuf,
    /// Answer from the documents of `--index` (retrieved with `--embedder`), citing them;
    /// without it the model answers alone (to compare).
    #[arg(long, requires_all = ["embedder", "index"])]
    rag: bool,
    /// A sentence-transformers folder (with `--rag`).
    #[arg(long)]
    embedder: Option<PathBuf>,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = TierArg::Auto)]
    tier: TierArg,
    /// The model's float type on the GPU (default: f16 where the adapter has `shader-f16`).
    #[arg(long, value_enum)]
    precision: Option<crate::model::PrecisionArg>,
    /// The index file (with `--rag`).
    #[arg(long)]
    index: Option<PathBuf>,
    /// The question.
    question: String,
    /// Chunks to retrieve.
    #[arg(long, default_value_t = 4)]
    k: usize,
    /// New tokens at most.
    #[arg(long, default_value_t = 128)]
    max_new_tokens: usize,
}

/// `--mode` values.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    /// Embedding cosine.
    Dense,
    /// BM25.
    Keyword,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

/// A session on `--tier` with the sentence encoder `--embedder` open (in f32).
pub fn encoder_session(args: &EmbedderArgs) -> webtune::Result<Session> {
    let mut session = crate::model::session(args.tier)?;
    open_encoder(&mut session, &args.embedder)?;
    Ok(session)
}

/// Opens the sentence-transformers folder `dir` in `session`.
pub fn open_encoder(session: &mut Session, dir: &Path) -> webtune::Result<()> {
    let mut files = Vec::new();
    for name in FOLDER_FILES {
        let path = dir.join(name);
        if path.is_file() {
            files.push(FileSource::open(&path)?);
        }
    }
    block_on(session.open_encoder(&dir.display().to_string(), files))?;
    Ok(())
}

/// Reads the index file at `path` into `session`.
fn read_index(session: &mut Session, path: &Path) -> webtune::Result<()> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    session.set_index(Index::from_bytes(&path.display().to_string(), &bytes)?);
    Ok(())
}

/// Whether `path` is a folder or a text, Markdown or HTML file (by its extension).
pub fn is_document(path: &Path) -> bool {
    path.is_dir()
        || path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .is_some_and(|e| matches!(e.as_str(), "md" | "markdown" | "txt" | "html" | "htm"))
}

/// Reads the documents at `paths` (files, and the documents in folders: see
/// [`document_paths`]).
pub fn read_documents(paths: &[PathBuf]) -> webtune::Result<Vec<Document>> {
    let mut docs = Vec::new();
    for path in document_paths(paths)? {
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        docs.push(read_document(&path.display().to_string(), &bytes)?);
    }
    Ok(docs)
}

/// The documents under `paths`: files as given, folders walked, sorted.
pub fn document_paths(paths: &[PathBuf]) -> webtune::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut stack = vec![path.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                    let entry = entry.map_err(io(&dir))?.path();
                    if entry.is_dir() {
                        stack.push(entry);
                    } else if is_document(&entry) {
                        out.push(entry);
                    }
                }
            }
        } else {
            out.push(path.clone());
        }
    }
    out.sort();
    Ok(out)
}

/// Indexes the documents (new and changed ones; unchanged ones are skipped) and writes the
/// index.
pub fn index(args: IndexArgs) -> webtune::Result<()> {
    let mut session = encoder_session(&args.embedder)?;
    if args.index.is_file() {
        read_index(&mut session, &args.index)?;
    }
    let start = Instant::now();
    let docs = read_documents(&args.documents)?;
    let seen: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let chunking = ChunkOptions {
        max_tokens: args.max_tokens,
        overlap_tokens: args.overlap,
    };
    block_on(session.add_documents(docs, chunking, |added, done, total| {
        eprintln!(
            "[{done}/{total}] {}: {} chunks added, {} removed",
            added.id, added.added, added.removed
        );
        Flow::Continue
    }))?;
    if args.prune {
        let stale: Vec<String> = session
            .documents()
            .into_iter()
            .map(|d| d.id)
            .filter(|id| !seen.contains(id))
            .collect();
        for id in stale {
            eprintln!("removed {id}: {} chunks", session.remove_document(&id));
        }
    }
    // Written whole or not at all: an interrupted run leaves the previous index.
    let index = session.index()?;
    write_atomic(&args.index, &index.to_bytes())?;
    eprintln!(
        "{}: {} documents, {} chunks, in {:.1} s",
        args.index.display(),
        index.documents().count(),
        index.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[derive(Serialize)]
struct QueryReport<'a> {
    question: &'a str,
    hits: Vec<webtune::rag::Hit>,
}

/// Prints the best chunks for the question as JSON.
pub fn query(args: QueryArgs) -> webtune::Result<()> {
    let mut session = encoder_session(&args.embedder)?;
    read_index(&mut session, &args.index)?;
    let options = AskOptions {
        k: args.k,
        mode: match args.mode {
            ModeArg::Dense => SearchMode::Dense,
            ModeArg::Keyword => SearchMode::Keyword,
            ModeArg::Hybrid => SearchMode::Hybrid,
        },
        ..Default::default()
    };
    let hits = block_on(session.search(&args.question, &options))?;
    let report = QueryReport {
        question: &args.question,
        hits,
    };
    crate::output::print_json(&report)
}

/// Retrieves (with `--rag`), answers with the model (streaming it to stdout), then lists the
/// sources and which of them the answer cites.
pub fn ask(args: AskArgs) -> webtune::Result<()> {
    use std::io::Write;
    let model_args = crate::model::ModelArgs {
        model: args.model.clone(),
        tier: args.tier,
        precision: args.precision,
    };
    let mut session = crate::model::open(&model_args, Purpose::Read, false)?;
    let stream = |text: &str| {
        print!("{text}");
        let _ = std::io::stdout().flush();
        Flow::Continue
    };
    let (true, Some(embedder), Some(index)) = (args.rag, &args.embedder, &args.index) else {
        let mut options = GenerateOptions::default();
        options.config.max_new_tokens = args.max_new_tokens;
        block_on(session.generate(&args.question, &options, stream))?;
        println!();
        return Ok(());
    };
    open_encoder(&mut session, embedder)?;
    read_index(&mut session, index)?;
    let options = AskOptions {
        k: args.k,
        max_new_tokens: args.max_new_tokens,
        ..Default::default()
    };
    let answer = block_on(session.ask(&args.question, &options, stream))?;
    println!("\n");
    for source in &answer.sources {
        let mark = if answer.cited.contains(&source.number) {
            "cited"
        } else {
            "not cited"
        };
        let c = &source.chunk;
        println!(
            "[{}] {} — {} ({}, bytes {}..{}; {mark})",
            source.number, c.title, c.heading, c.doc_id, c.start, c.end
        );
    }
    Ok(())
}
