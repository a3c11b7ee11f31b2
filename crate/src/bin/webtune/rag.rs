//! `webtune index`, `webtune query` and `webtune ask`: a document set into a retrieval index
//! (a file), questions against it, and answers from a model that cite the chunks they use.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use webtune::platform::{FileSource, block_on};
use webtune::rag::{ChunkOptions, FOLDER_FILES, Index, SearchMode, SentenceEncoder, read_document};
use webtune::{ComputeDevice, Tier};

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
    #[arg(long, value_enum, default_value_t = TierArg::Gpu)]
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
    #[arg(long, value_enum, default_value_t = TierArg::Gpu)]
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

pub fn encoder(args: &EmbedderArgs) -> webtune::Result<SentenceEncoder> {
    let device = block_on(ComputeDevice::new(Tier::from(args.tier)))?;
    let mut files = Vec::new();
    for name in FOLDER_FILES {
        let path = args.embedder.join(name);
        if path.is_file() {
            files.push(FileSource::open(&path)?);
        }
    }
    let name = args.embedder.display().to_string();
    block_on(SentenceEncoder::load(&name, files, &device))
}

/// The index file at `path`.
fn read_index(path: &std::path::Path) -> webtune::Result<Index> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    Index::from_bytes(&path.display().to_string(), &bytes)
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
                    } else if entry
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "md" | "markdown" | "txt" | "html" | "htm"))
                    {
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
    let encoder = encoder(&args.embedder)?;
    let model = args.embedder.embedder.display().to_string();
    let mut index = match args.index.is_file() {
        true => read_index(&args.index)?,
        false => Index::new(
            &model,
            encoder.dimension(),
            ChunkOptions {
                max_tokens: args.max_tokens,
                overlap_tokens: args.overlap,
            },
        ),
    };
    let paths = document_paths(&args.documents)?;
    let start = Instant::now();
    let mut seen = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let doc = read_document(&path.display().to_string(), &bytes)?;
        let update = block_on(index.upsert(&doc.id, &doc.title, &doc.text, &encoder))?;
        eprintln!(
            "[{}/{}] {}: {} chunks added, {} removed",
            i + 1,
            paths.len(),
            doc.id,
            update.added,
            update.removed
        );
        seen.push(doc.id);
    }
    if args.prune {
        let stale: Vec<String> = index
            .documents()
            .map(|d| d.id.clone())
            .filter(|id| !seen.contains(id))
            .collect();
        for id in stale {
            eprintln!("removed {id}: {} chunks", index.remove(&id));
        }
    }
    // Written whole or not at all: an interrupted run leaves the previous index.
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
    let encoder = encoder(&args.embedder)?;
    let index = read_index(&args.index)?;
    let mode = match args.mode {
        ModeArg::Dense => SearchMode::Dense,
        ModeArg::Keyword => SearchMode::Keyword,
        ModeArg::Hybrid => SearchMode::Hybrid,
    };
    let hits = block_on(index.search(&args.question, args.k, mode, &encoder))?;
    let report = QueryReport {
        question: &args.question,
        hits,
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    Ok(())
}

/// Retrieves (with `--rag`), answers with the model (streaming it to stdout), then lists the
/// sources and which of them the answer cites.
pub fn ask(args: AskArgs) -> webtune::Result<()> {
    use std::io::Write;
    let retrieval = match (args.rag, &args.embedder, &args.index) {
        (true, Some(embedder), Some(index)) => {
            let encoder = encoder(&EmbedderArgs {
                embedder: embedder.clone(),
                tier: args.tier,
            })?;
            let index = read_index(index)?;
            Some(block_on(index.search(
                &args.question,
                args.k,
                SearchMode::Hybrid,
                &encoder,
            ))?)
        }
        _ => None,
    };
    let model_args = crate::model::ModelArgs {
        model: args.model.clone(),
        tier: args.tier,
        precision: args.precision,
    };
    let (device, loaded) = crate::model::load(&model_args, crate::model::Half::Allowed)?;
    let tokenizer = crate::model::tokenizer(&loaded, &model_args)?;
    let config = webtune::generate::GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        stop_ids: loaded.stop_ids.clone(),
        ..Default::default()
    };
    let stream = |text: &str| {
        print!("{text}");
        let _ = std::io::stdout().flush();
        webtune::generate::Flow::Continue
    };
    let Some(hits) = retrieval else {
        let ids =
            tokenizer.encode_chat(&[webtune::tokenizer::Message::new("user", &args.question)])?;
        block_on(webtune::generate::generate_text(
            &loaded.model,
            &tokenizer,
            device.device(),
            &ids,
            &config,
            stream,
        ))?;
        println!();
        return Ok(());
    };
    let answer = block_on(webtune::rag::answer(
        &loaded.model,
        &tokenizer,
        device.device(),
        &args.question,
        &hits,
        &config,
        stream,
    ))?;
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
