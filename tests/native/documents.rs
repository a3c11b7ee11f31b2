//! Data preparation beyond the format: documents become windows of `max_len` tokens with an
//! EOS after each document and every token trained, whole documents held out, bad input
//! named; and the data report finds planted near-duplicates, leaked validation rows and a
//! skewed label set, and drops or rebalances them when asked.

use webtune::data::{DataFormat, DataOptions, Document, prepare, prepare_documents, read_document};
use webtune::tokenizer::Tokenizer;

fn tokenizer() -> Tokenizer {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny/llama");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    Tokenizer::from_hf(
        "tiny",
        &read("tokenizer.json"),
        Some(&read("tokenizer_config.json")),
        None,
    )
    .unwrap()
}

fn doc(id: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: id.into(),
        text: text.into(),
    }
}

fn options(max_len: usize, validation_fraction: f64) -> DataOptions {
    let mut options = DataOptions {
        validation_fraction,
        ..DataOptions::default()
    };
    options.encode.max_len = max_len;
    options
}

#[test]
fn documents_become_windows_with_whole_documents_held_out() {
    let tokenizer = tokenizer();
    let eos = tokenizer.eos_id.expect("the tiny tokenizer has an EOS");
    let texts: Vec<String> = (0..5)
        .map(|i| format!("Document {i} says: the quick brown fox {i} jumps over {i} lazy dogs."))
        .collect();
    let mut docs: Vec<Document> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| doc(&format!("d{i}.md"), t))
        .collect();
    docs.push(doc("copy.md", &texts[0]));
    docs.push(doc("blank.md", "  \n"));
    let data = prepare_documents("docs", &docs, &tokenizer, &options(16, 0.4)).unwrap();
    let report = &data.report;
    assert_eq!(report.format, DataFormat::Documents);
    assert_eq!(
        (report.rows, report.duplicate_rows, report.empty_rows),
        (7, 1, 1)
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("copy.md repeats"))
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("blank.md has no text"))
    );
    // Two of the five kept documents are held out, whole: the held-out windows are exactly
    // their tokens, each followed by EOS, in order.
    let held = report
        .warnings
        .iter()
        .find_map(|w| w.strip_prefix("held out for validation: "))
        .expect("names the held-out documents");
    let held: Vec<usize> = held
        .split(", ")
        .map(|id| id[1..2].parse().unwrap())
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    let stream = |which: &mut dyn Iterator<Item = usize>| -> Vec<u32> {
        which
            .flat_map(|i| {
                let mut ids = tokenizer.encode(&texts[i]).unwrap();
                ids.push(eos);
                ids
            })
            .collect()
    };
    let joined = |windows: &[webtune::data::Encoded]| -> Vec<u32> {
        windows.iter().flat_map(|w| w.ids.clone()).collect()
    };
    assert_eq!(joined(&data.validation), stream(&mut held.iter().copied()));
    assert_eq!(
        joined(&data.train),
        stream(&mut (0..5).filter(|i| !held.contains(i)))
    );
    for w in data.train.iter().chain(&data.validation) {
        assert!(w.ids.len() <= 16 && w.ids.len() >= 2);
        let labels: Vec<i64> = w.ids.iter().map(|&id| i64::from(id)).collect();
        assert_eq!(w.labels, labels, "every token is trained");
    }
    assert_eq!(data.validation_examples.len(), data.validation.len());
}

#[test]
fn one_document_holds_out_its_last_windows() {
    let tokenizer = tokenizer();
    let text = "word ".repeat(200);
    let data = prepare_documents(
        "book.txt",
        &[doc("book.txt", &text)],
        &tokenizer,
        &options(32, 0.25),
    )
    .unwrap();
    let all = data.train.len() + data.validation.len();
    assert_eq!(data.validation.len(), (all as f64 * 0.25).round() as usize);
    let last = data.train.last().unwrap().line;
    assert!(data.validation.iter().all(|w| w.line > last), "the tail");
    assert!(
        data.report
            .warnings
            .iter()
            .any(|w| w.contains("one document"))
    );
}

#[test]
fn bad_documents_are_named() {
    let tokenizer = tokenizer();
    let err = prepare_documents("folder", &[], &tokenizer, &options(32, 0.1)).unwrap_err();
    assert!(err.to_string().contains("folder") && err.to_string().contains("no documents"));
    let blank = [doc("a.md", ""), doc("b.md", "\n\n")];
    let err = prepare_documents("folder", &blank, &tokenizer, &options(32, 0.1)).unwrap_err();
    assert!(
        err.to_string()
            .contains("no text to train on in its 2 documents"),
        "{err}"
    );
    // A file read as a document: empty and binary files are refused with their names.
    let err = read_document("notes/empty.md", b"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("notes/empty.md"), "{err}");
    let err = read_document("x.txt", &[0, 159, 146, 150])
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.txt"), "{err}");
}

/// 40 questions answered No 36 times and Yes 4 times (lines 1–40), line 41 a copy of line 5
/// in other case and spacing, line 42 line 5 with a word added; a validation file whose
/// lines 1 and 2 repeat training lines 7 and 9 and whose lines 3–6 are new.
fn planted() -> (String, String) {
    let question = |i: usize| {
        format!(
            "Is the blue ceramic teapot with the bamboo handle, item {i}, still in stock at \
             the store on {} street this week?",
            ["Elm", "Oak", "Pine", "Birch"][i % 4]
        )
    };
    let answer = |i: usize| if i % 10 == 3 { "Yes" } else { "No" };
    let mut rows: Vec<(String, String)> =
        (1..=40).map(|i| (question(i), answer(i).into())).collect();
    rows.push((question(5).to_uppercase().replace(' ', "  "), "No".into()));
    rows.push((format!("{} Thanks", question(5)), "No".into()));
    let held: Vec<(String, String)> = [7, 9]
        .iter()
        .map(|&i| (format!("{}!", question(i)), answer(i).to_string()))
        .chain((0..4).map(|k| (format!("Which colour is parcel {k}?"), "Red".into())))
        .collect();
    let jsonl = |rows: &[(String, String)]| {
        webtune_tests::conversations_jsonl(rows.len(), |i| rows[i].clone())
    };
    (jsonl(&rows), jsonl(&held))
}

#[test]
fn the_report_finds_repeats_leaks_and_skew_and_fixes_them_when_asked() {
    let tokenizer = tokenizer();
    let (train, held) = planted();
    let mut options = options(2048, 0.0);
    let data = prepare(
        "planted.jsonl",
        &train,
        Some(("held.jsonl", &held)),
        &tokenizer,
        &options,
    )
    .unwrap();
    let report = &data.report;
    assert_eq!(report.repeats.len(), 1, "{:?}", report.repeats);
    assert_eq!(report.repeats[0].lines, [5, 41, 42]);
    let leaks: Vec<(usize, usize)> = report
        .leaks
        .iter()
        .map(|l| (l.validation_line, l.training_line))
        .collect();
    assert_eq!(leaks, [(1, 7), (2, 9)]);
    let answers = report.answers.as_ref().expect("a label set");
    assert_eq!(
        answers.counts,
        [("no".to_string(), 38), ("yes".to_string(), 4)]
    );
    assert!(answers.imbalanced && answers.rebalanced.is_none());
    assert_eq!(report.train_rows, 42);
    let warned = |what: &str| report.warnings.iter().any(|w| w.contains(what));
    assert!(warned(
        "2 training rows repeat an earlier one, exactly or nearly (lines 41, 42)"
    ));
    assert!(warned(
        "2 validation rows repeat training rows (validation line = training line: 1 = 7, 2 = 9)"
    ));
    assert!(warned(
        "the answers are imbalanced: \"no\" 90 % (38), \"yes\" 10 % (4)"
    ));

    // Asked to: the repeats and leaked rows are dropped, then the rarer answer is repeated
    // until both are as frequent, and the trained rows say so.
    options.drop_repeats = true;
    options.drop_leaked = true;
    options.rebalance = true;
    let data = prepare(
        "planted.jsonl",
        &train,
        Some(("held.jsonl", &held)),
        &tokenizer,
        &options,
    )
    .unwrap();
    let answers = data.report.answers.as_ref().unwrap();
    assert_eq!(
        answers.counts,
        [("no".to_string(), 34), ("yes".to_string(), 4)]
    );
    assert_eq!(
        answers.rebalanced.as_deref(),
        Some(&[("no".to_string(), 34), ("yes".to_string(), 34)][..])
    );
    assert_eq!(data.train.len(), 68);
    let trained: Vec<String> = data
        .train
        .iter()
        .map(|e| {
            let ids: Vec<u32> = e
                .labels
                .iter()
                .filter(|&&l| l >= 0)
                .map(|&l| l as u32)
                .collect();
            tokenizer.decode(&ids, true).unwrap()
        })
        .collect();
    let yes = trained.iter().filter(|t| t.starts_with("Yes<")).count();
    let no = trained.iter().filter(|t| t.starts_with("No<")).count();
    assert_eq!((yes, no), (34, 34), "{:?}", &trained[..3]);
    let lines: std::collections::HashSet<usize> = data.train.iter().map(|e| e.line).collect();
    for gone in [7, 9, 41, 42] {
        assert!(!lines.contains(&gone), "line {gone} was trained");
    }
}
