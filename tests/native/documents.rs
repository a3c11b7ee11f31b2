//! Domain adaptation data: documents become windows of `max_len` tokens with an EOS after
//! each document and every token trained; whole documents are held out; bad input is named.

use webtune::data::{DataFormat, DataOptions, Document, prepare_documents, read_document};
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
