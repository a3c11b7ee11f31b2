//! Retrieval on the demo policy handbook (`static/demo/policies/`, questions in
//! `static/demo/policy_questions.jsonl`) with all-MiniLM-L6-v2: recall@5 and MRR of dense,
//! keyword (BM25) and hybrid search, printed; hybrid must be at least as good as dense. And
//! the index's life: update, delete, persist, and refuse what it cannot read.

use std::path::Path;

use webtune::ComputeDevice;
use webtune::io::MemorySource;
use webtune::platform::block_on;
use webtune::rag::{ChunkOptions, Index, SearchMode, SentenceEncoder};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn encoder(device: &ComputeDevice) -> SentenceEncoder {
    let files = webtune::rag::FOLDER_FILES
        .iter()
        .map(|f| {
            let path = webtune_tests::model_path(&format!("{}/{f}", webtune_tests::MINILM_DIR));
            MemorySource::new(*f, std::fs::read(path).unwrap())
        })
        .collect();
    block_on(SentenceEncoder::load("all-MiniLM-L6-v2", files, device)).unwrap()
}

fn handbook(encoder: &SentenceEncoder) -> Index {
    let mut index = Index::new(
        "all-MiniLM-L6-v2",
        encoder.dimension(),
        ChunkOptions::default(),
    );
    let mut paths: Vec<_> = std::fs::read_dir(root().join("static/demo/policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let title = text
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("# ")
            .to_string();
        let id = path.file_name().unwrap().to_string_lossy().to_string();
        block_on(index.upsert(&id, &title, &text, encoder)).unwrap();
    }
    index
}

#[test]
fn cpu_hybrid_retrieval_is_at_least_as_good_as_dense() {
    let encoder = encoder(&ComputeDevice::cpu());
    let index = handbook(&encoder);
    let questions =
        std::fs::read_to_string(root().join("static/demo/policy_questions.jsonl")).unwrap();
    let questions: Vec<serde_json::Value> = questions
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut table = Vec::new();
    for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
        let (mut found, mut reciprocal) = (0usize, 0f64);
        for q in &questions {
            let code = q["policy"].as_str().unwrap();
            let hits =
                block_on(index.search(q["question"].as_str().unwrap(), 5, mode, &encoder)).unwrap();
            if let Some(rank) = hits.iter().position(|h| h.chunk.heading.starts_with(code)) {
                found += 1;
                reciprocal += 1.0 / (rank + 1) as f64;
            } else if std::env::var_os("WEBTUNE_SHOW_MISSES").is_some() {
                eprintln!(
                    "{mode:?} misses {:?} ({code}): {:?}",
                    q["question"],
                    hits.iter().map(|h| &h.chunk.heading).collect::<Vec<_>>()
                );
            }
        }
        let n = questions.len() as f64;
        table.push((mode, found as f64 / n, reciprocal / n));
    }
    eprintln!(
        "retrieval on the demo handbook ({} chunks, {} questions):",
        index.len(),
        questions.len()
    );
    for (mode, recall, mrr) in &table {
        eprintln!("  {mode:?}: recall@5 {recall:.3}, MRR@5 {mrr:.3}");
    }
    let (dense, hybrid) = (table[0], table[2]);
    assert!(
        hybrid.1 >= dense.1,
        "hybrid recall {} < dense {}",
        hybrid.1,
        dense.1
    );
    assert!(dense.1 >= 0.8, "dense recall@5 only {}", dense.1);
}

#[test]
fn cpu_index_updates_deletes_persists_and_refuses_bad_bytes() {
    let encoder = encoder(&ComputeDevice::cpu());
    let mut index = Index::new(
        "all-MiniLM-L6-v2",
        encoder.dimension(),
        ChunkOptions::default(),
    );
    let old = std::fs::read_to_string(root().join("static/demo/policies/hr-work.md")).unwrap();
    let new =
        std::fs::read_to_string(root().join("static/demo/policy_changes/hr-work.md")).unwrap();
    let facilities =
        std::fs::read_to_string(root().join("static/demo/policies/facilities.md")).unwrap();
    block_on(index.upsert("hr-work.md", "Working time", &old, &encoder)).unwrap();
    block_on(index.upsert("facilities.md", "Facilities", &facilities, &encoder)).unwrap();
    let ask = |index: &Index| {
        block_on(index.search(
            "How many days a week can I work from home?",
            1,
            SearchMode::Hybrid,
            &encoder,
        ))
        .unwrap()
        .remove(0)
        .chunk
        .text
    };
    assert!(ask(&index).contains("up to 3 days"));
    // The same text again changes nothing; the changed policy replaces the old chunks.
    let same = block_on(index.upsert("hr-work.md", "Working time", &old, &encoder)).unwrap();
    assert_eq!((same.added, same.removed), (0, 0));
    let before = index.len();
    let update = block_on(index.upsert("hr-work.md", "Working time", &new, &encoder)).unwrap();
    assert!(update.added > 0 && update.removed > 0);
    assert_eq!(index.len(), before - update.removed + update.added);
    assert!(ask(&index).contains("up to 2 days"), "{}", ask(&index));

    // Persisted and read back: the same answers.
    let bytes = index.to_bytes();
    let back = Index::from_bytes("handbook.wtindex", &bytes).unwrap();
    assert_eq!(back.len(), index.len());
    assert_eq!(ask(&back), ask(&index));

    // A failed update (empty text) leaves the index as it was.
    let err = block_on(index.upsert("hr-work.md", "Working time", "  \n", &encoder)).unwrap_err();
    assert_eq!(err.kind(), "input");
    assert!(ask(&index).contains("up to 2 days"));

    // Deleting a document removes its chunks from both rankings.
    assert!(index.remove("hr-work.md") > 0);
    for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
        let hits = block_on(index.search("work from home days a week", 5, mode, &encoder)).unwrap();
        assert!(
            hits.iter().all(|h| h.chunk.doc_id == "facilities.md"),
            "{mode:?}"
        );
    }

    // Bytes it cannot read: typed errors that name the file.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not an index at all".to_vec(), "is not a webtune index"),
        (
            {
                let mut b = bytes.clone();
                b[8..12].copy_from_slice(&99u32.to_le_bytes());
                b
            },
            "index format 99",
        ),
        (bytes[..bytes.len() - 7].to_vec(), "bytes of vectors"),
        (bytes[..40].to_vec(), "truncated"),
        (
            with_header(&bytes, |h| h["dimension"] = (1u64 << 62).into(), 0),
            "which no encoder gives",
        ),
        (
            with_header(&bytes, |h| h["dimension"] = 0.into(), 0),
            "which no encoder gives",
        ),
        (
            with_header(
                &bytes,
                |h| {
                    let chunks = h["chunks"].as_array_mut().unwrap();
                    chunks.push(chunks[0].clone());
                },
                384 * 4,
            ),
            "twice",
        ),
    ];
    for (bad, want) in cases {
        let err = Index::from_bytes("handbook.wtindex", &bad).unwrap_err();
        assert_eq!(err.kind(), "index");
        let text = err.to_string();
        assert!(
            text.contains("handbook.wtindex") && text.contains(want),
            "{text}"
        );
    }
}

/// `bytes` (an index) with its JSON header changed by `edit` and `extra` zero bytes of vectors
/// appended.
fn with_header(bytes: &[u8], edit: impl Fn(&mut serde_json::Value), extra: usize) -> Vec<u8> {
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[20..20 + len]).unwrap();
    edit(&mut header);
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = bytes[..12].to_vec();
    out.extend((json.len() as u64).to_le_bytes());
    out.extend(json);
    out.extend(&bytes[20 + len..]);
    out.extend(vec![0; extra]);
    out
}

/// An index of another encoder's vectors is refused by name when searched, not multiplied.
#[test]
fn cpu_an_index_of_another_encoder_is_refused() {
    let encoder = encoder(&ComputeDevice::cpu());
    let mut index = Index::new("all-MiniLM-L6-v2", 384, ChunkOptions::default());
    let text = "Working from home is allowed up to three days a week.";
    block_on(index.upsert("wfh.md", "Home", text, &encoder)).unwrap();
    let bytes = index.to_bytes();
    let chunks = index.len();
    let narrow = with_header(&bytes, |h| h["dimension"] = 96.into(), 0);
    let narrow = narrow[..narrow.len() - chunks * 288 * 4].to_vec();
    let other = Index::from_bytes("other.wtindex", &narrow).unwrap();
    for mode in [SearchMode::Dense, SearchMode::Hybrid] {
        let err = block_on(other.search("home", 3, mode, &encoder)).unwrap_err();
        assert_eq!(err.kind(), "index");
        assert!(
            err.to_string()
                .contains("the encoder gives 384 values, the index holds 96"),
            "{err}"
        );
    }
}

/// Indexing through the session hears each document with the count, and a stop ends it after
/// the document in hand: those indexed are whole and listed, the rest are not in the index.
#[test]
fn cpu_indexing_stops_after_the_document_in_hand() {
    use webtune::flow::Flow;
    use webtune::rag::Document;
    use webtune::session::Session;
    let mut session = Session::new(ComputeDevice::cpu());
    let files = webtune_tests::tiny_bert_files();
    block_on(session.open_encoder("tiny_bert", files)).unwrap();
    let docs: Vec<Document> = (0..4)
        .map(|i| Document {
            id: format!("doc{i}.md"),
            title: format!("Document {i}"),
            text: format!("## Part {i}\n\nPolicy number {i} says {i} days."),
        })
        .collect();
    let mut heard = Vec::new();
    let added =
        block_on(
            session.add_documents(docs, ChunkOptions::default(), |added, done, of| {
                heard.push((added.id.clone(), done, of));
                match heard.len() {
                    2 => Flow::Stop,
                    _ => Flow::Continue,
                }
            }),
        )
        .unwrap();
    let ids: Vec<&str> = added.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["doc0.md", "doc1.md"]);
    assert!(added.iter().all(|a| a.added > 0));
    assert_eq!(heard, [("doc0.md".into(), 1, 4), ("doc1.md".into(), 2, 4)]);
    let indexed: Vec<String> = session.documents().into_iter().map(|d| d.id).collect();
    assert_eq!(indexed, ["doc0.md", "doc1.md"]);
}
