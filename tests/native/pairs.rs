//! Training pairs written from documents by the real default model (SmolLM2-135M, CPU): every
//! kept pair passes the checks it was kept by, none repeats another, the JSONL of both kinds
//! reads back as training data, and a stop keeps what was made. (The demo handbook's counts
//! and the advisor's table with the pairs are in docs/advisor.md.)

use webtune::ComputeDevice;
use webtune::data::{DataOptions, read_dataset, read_document};
use webtune::generate::Flow;
use webtune::platform::{FileSource, block_on};
use webtune::qa::{QaConfig, QaProgress, filter, to_jsonl};
use webtune::session::{OpenOptions, Purpose, Session};
use webtune_tests::{SMOLLM2_GGUF, model_path};

fn session() -> Session {
    let mut session = Session::new(ComputeDevice::cpu());
    let source = FileSource::open(model_path(SMOLLM2_GGUF)).unwrap();
    let options = OpenOptions {
        quantize: false,
        precision: None,
        purpose: Purpose::Read,
    };
    block_on(session.open_model(SMOLLM2_GGUF, vec![source], &options)).unwrap();
    session
}

#[test]
fn smollm2_writes_checked_pairs_from_a_handbook_page() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/demo/policies/");
    let docs: Vec<_> = ["hr-work.md", "it.md"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(format!("{root}{name}")).unwrap();
            read_document(name, &bytes).unwrap()
        })
        .collect();
    let session = session();
    // The first three passages (of twelve): each costs ~30 s of generation in a test build, and
    // the defaults keep pairs from the first two (HR-110, HR-111).
    let config = QaConfig {
        max_passages: Some(3),
        ..QaConfig::default()
    };
    let mut heard = 0;
    let report = block_on(session.generate_pairs(Some(&docs), &config, |event| {
        if let QaProgress::Kept(_) = event {
            heard += 1;
        }
        Flow::Continue
    }))
    .unwrap();
    eprintln!(
        "{} passages, {} candidates, {} kept, dropped {:?}",
        report.passages,
        report.candidates,
        report.kept.len(),
        report.dropped_by_reason()
    );
    for pair in &report.kept {
        eprintln!("Q: {}\nA: {}", pair.question, pair.answer);
    }
    assert_eq!(report.passages, 3, "max_passages is kept to");
    assert!(!report.kept.is_empty(), "{report:?}");
    assert_eq!(heard, report.kept.len());
    assert!(report.dropped.iter().all(|d| !d.question.is_empty()));
    assert_eq!(
        report.candidates,
        report.kept.len() + report.dropped.len(),
        "every candidate is kept or dropped with a reason"
    );
    let mut seen = filter::Seen::new(config.repeat_similarity);
    for pair in &report.kept {
        assert_eq!(filter::question(&pair.question, &pair.passage.text), Ok(()));
        let overlap = filter::answer(
            &pair.answer,
            &pair.question,
            &pair.passage.text,
            config.min_overlap,
        )
        .unwrap();
        assert_eq!(overlap, pair.overlap);
        assert!(!seen.repeats(&pair.question), "{} repeats", pair.question);
        seen.add(&pair.question);
    }
    let per_passage = |doc: &str, heading: &str| {
        report
            .kept
            .iter()
            .filter(|p| p.passage.doc_id == doc && p.passage.heading == heading)
            .count()
    };
    for p in &report.kept {
        assert!(per_passage(&p.passage.doc_id, &p.passage.heading) <= 3);
    }
    for keep_passage in [false, true] {
        let text = to_jsonl(&report.kept, None, keep_passage);
        let data = read_dataset("pairs.jsonl", &text, &DataOptions::default()).unwrap();
        assert_eq!(data.examples.len(), report.kept.len());
    }

    // Stopped at the second passage: the first passage's pairs are kept, and it says so.
    let mut passages = 0;
    let stopped = block_on(session.generate_pairs(Some(&docs), &config, |event| {
        if let QaProgress::Passage { .. } = event {
            passages += 1;
        }
        if passages == 2 {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }))
    .unwrap();
    assert!(stopped.stopped && passages == 2);
    // Greedy questions, seeded samples: the same pairs as the whole run's first ones.
    assert_eq!(stopped.kept[..], report.kept[..stopped.kept.len()]);
    assert!(stopped.kept.len() <= 3);
}

#[test]
fn pairs_refuse_bad_settings_and_no_documents() {
    let session = session();
    let config = QaConfig {
        questions_per_passage: 0,
        ..QaConfig::default()
    };
    let err = block_on(session.generate_pairs(Some(&[]), &config, |_| Flow::Continue)).unwrap_err();
    assert_eq!(err.kind(), "setting");
    assert!(err.to_string().contains("questions_per_passage"), "{err}");
    let err = block_on(session.generate_pairs(Some(&[]), &QaConfig::default(), |_| Flow::Continue))
        .unwrap_err();
    assert!(err.to_string().contains("no documents"), "{err}");
    // No documents given and none indexed: it says what to do.
    let err = block_on(session.generate_pairs(None, &QaConfig::default(), |_| Flow::Continue))
        .unwrap_err();
    assert!(err.to_string().contains("add documents first"), "{err}");
}
