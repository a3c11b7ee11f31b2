//! Sentence-embedding throughput: all-MiniLM-L6-v2 on 512 texts (the demo records, numbered;
//! `benches/embed_texts.py` builds the same list), on each tier, printed beside
//! sentence-transformers on the same machine:
//!
//! ```text
//! python3 benches/st_embed.py                  # optional: the reference row
//! cargo bench -p webtune --bench embed -- cpu  # or gpu, or both without an argument
//! ```
//!
//! Chunks per second after a warm-up batch, and the cores the run kept busy (CPU seconds per
//! wall second). Then top-10 search latency over an index of
//! 100,000 chunks (random unit vectors beside the demo texts, numbered), dense, keyword and
//! hybrid, including embedding the query. A benchmark, not a test.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

#[path = "common.rs"]
mod common;

use webtune::platform::{FileSource, block_on};
use webtune::rag::{Chunk, ChunkOptions, FOLDER_FILES, Index, SearchMode, SentenceEncoder};
use webtune::rng::Rng;
use webtune::{ComputeDevice, Tier};

const COUNT: usize = 512;
const INDEX_CHUNKS: usize = 100_000;
const QUERIES: [&str; 5] = [
    "How many vacation days do I get?",
    "Can I bring my dog to the office?",
    "What is the meal allowance when travelling?",
    "How do I reset the VPN?",
    "Who approves my holiday?",
];

use common::{Clock, device_name, root, tiers};

/// The same texts as `benches/embed_texts.py`.
fn texts() -> Vec<String> {
    let demo = std::fs::read_to_string(root().join("static/demo/support.jsonl")).unwrap();
    let base: Vec<String> = demo
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let record: serde_json::Value = serde_json::from_str(l).unwrap();
            record["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] != "system")
                .map(|m| m["content"].as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (0..COUNT)
        .map(|i| format!("{} (Reference {i}.)", base[i % base.len()]))
        .collect()
}

/// Median milliseconds of a top-10 search per mode over `INDEX_CHUNKS` chunks.
fn search_latency(encoder: &SentenceEncoder) -> webtune::Result<Vec<(SearchMode, f64)>> {
    let texts = texts();
    let dim = encoder.dimension();
    let mut index = Index::new("all-MiniLM-L6-v2", dim, ChunkOptions::default());
    let mut rng = Rng::new(7);
    for doc in 0..INDEX_CHUNKS / 100 {
        let mut chunks = Vec::with_capacity(100);
        let mut vectors = Vec::with_capacity(100);
        for i in 0..100 {
            let text = format!(
                "{} (document {doc}, part {i})",
                texts[(doc * 100 + i) % COUNT]
            );
            let mut v: Vec<f32> = (0..dim).map(|_| rng.next_f32() - 0.5).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            chunks.push(Chunk {
                doc_id: format!("doc-{doc}"),
                title: format!("Document {doc}"),
                heading: String::new(),
                start: 0,
                end: text.len(),
                tokens: text.split_whitespace().count(),
                text,
            });
            vectors.push(v);
        }
        index.insert(
            &format!("doc-{doc}"),
            &format!("Document {doc}"),
            "",
            chunks,
            vectors,
        )?;
    }
    let mut out = Vec::new();
    for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
        // The first search builds the device matrix: not timed.
        block_on(index.search(QUERIES[0], 10, mode, encoder))?;
        let mut times = Vec::new();
        for _ in 0..4 {
            for q in QUERIES {
                let start = Instant::now();
                let hits = block_on(index.search(q, 10, mode, encoder))?;
                times.push(start.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(hits.len(), 10);
            }
        }
        times.sort_by(f64::total_cmp);
        out.push((mode, times[times.len() / 2]));
    }
    Ok(out)
}

/// What one tier measured: its device, chunks per second and cores kept busy.
type Measured = (String, f64, f64);

fn measure(tier: Tier) -> webtune::Result<Measured> {
    let device = block_on(ComputeDevice::new(tier))?;
    let dir = root().join(".cache/models/all-MiniLM-L6-v2");
    let files = FOLDER_FILES
        .iter()
        .map(|f| FileSource::open(dir.join(f)))
        .collect::<webtune::Result<Vec<_>>>()?;
    let encoder = block_on(SentenceEncoder::load("all-MiniLM-L6-v2", files, &device))?;
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    block_on(encoder.embed(&refs[..64]))?;
    let clock = Clock::start();
    let vectors = block_on(encoder.embed(&refs))?;
    let (seconds, cores) = (clock.seconds(), clock.cores());
    assert_eq!(vectors.len(), COUNT);
    for (mode, ms) in search_latency(&encoder)? {
        eprintln!(
            "  {tier}: top-10 {mode:?} search over {INDEX_CHUNKS} chunks: {ms:.1} ms (median, query embedding included)"
        );
    }
    Ok((device_name(&device), COUNT as f64 / seconds, cores))
}

fn main() {
    println!("Sentence embeddings, all-MiniLM-L6-v2, {COUNT} texts (demo records)\n");
    println!(
        "| {:<50} | {:<34} | {:>9} | {:>5} |",
        "implementation", "device", "chunks/s", "cores"
    );
    println!("|{:-<52}|{:-<36}|{:->11}|{:->7}|", "", "", "", "");
    for tier in tiers() {
        match measure(tier) {
            Ok((device, rate, cores)) => println!(
                "| {:<50} | {:<34} | {:>9.1} | {:>5.2} |",
                format!("webtune {tier}"),
                device,
                rate,
                cores
            ),
            Err(err) => eprintln!("{tier}: {err}"),
        }
    }
    let reference = std::fs::read(root().join("target/bench/st_embed.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    match reference {
        Some(r) => println!(
            "| {:<50} | {:<34} | {:>9.1} | {:>5.2} |",
            r["implementation"]
                .as_str()
                .unwrap_or("sentence-transformers"),
            r["device"].as_str().unwrap_or("CPU"),
            r["chunks_per_second"].as_f64().unwrap_or(f64::NAN),
            r["cores_used"].as_f64().unwrap_or(f64::NAN)
        ),
        None => eprintln!(
            "sentence-transformers: not measured here (run python3 benches/st_embed.py first)"
        ),
    }
}
