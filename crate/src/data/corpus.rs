//! Domain adaptation on raw documents (continued pre-training): each document is tokenized
//! with an EOS after it, the documents are joined into one stream and cut into windows of
//! `max_len` tokens, every token trained (packing, as Hugging Face's `run_clm` groups texts;
//! attention may cross a document's end, which the EOS marks). Whole documents are held out
//! for validation, or, when there is only one, the last share of its windows, so held-out
//! perplexity measures text the model has not trained on.

use std::collections::HashSet;

use super::shuffle;
use super::{DataFormat, DataOptions, DataReport, Document, Encoded, Example, Prepared};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// Fewer trained tokens than this gets a warning: a domain is not learnt from a page.
const FEW_TOKENS: usize = 50_000;

/// Cuts `stream` into windows of at most `max_len` tokens, every token trained; a last
/// window of a single token (nothing to predict) is dropped. `first` numbers the windows.
pub fn windows(stream: &[u32], max_len: usize, first: usize) -> Vec<Encoded> {
    stream
        .chunks(max_len.max(2))
        .filter(|w| w.len() >= 2)
        .enumerate()
        .map(|(i, w)| Encoded {
            ids: w.to_vec(),
            labels: w.iter().map(|&id| i64::from(id)).collect(),
            truncated: false,
            line: first + i,
        })
        .collect()
}

/// The documents of `documents` (by index) joined into one stream, an `eos` after each.
fn stream(tokens: &[Vec<u32>], which: &[usize], eos: Option<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    for &i in which {
        out.extend(&tokens[i]);
        out.extend(eos);
    }
    out
}

/// Reads `documents` (named `name` in messages and the report) as training windows for
/// domain adaptation, holding out a seeded `options.validation_fraction` of the documents.
/// Empty and repeated documents are dropped and counted.
pub fn prepare_documents(
    name: &str,
    documents: &[Document],
    tokenizer: &Tokenizer,
    options: &DataOptions,
) -> Result<Prepared> {
    let bad = |problem: String| Error::Data {
        file: name.to_string(),
        line: 0,
        problem,
    };
    let mut report = DataReport {
        format: DataFormat::Documents,
        rows: documents.len(),
        ..DataReport::empty(name)
    };
    let mut seen = HashSet::new();
    let mut tokens = Vec::new();
    let mut kept = Vec::new();
    for document in documents {
        if document.text.trim().is_empty() {
            report.empty_rows += 1;
            report
                .warnings
                .push(format!("{} has no text and was left out", document.id));
            continue;
        }
        if !seen.insert(document.text.as_str()) {
            report.duplicate_rows += 1;
            report.warnings.push(format!(
                "{} repeats an earlier document and was left out",
                document.id
            ));
            continue;
        }
        tokens.push(tokenizer.encode(&document.text)?);
        kept.push(document);
    }
    if kept.is_empty() {
        return Err(bad(match documents.len() {
            0 => "has no documents: give text, Markdown or HTML files".into(),
            n => format!("has no text to train on in its {n} documents"),
        }));
    }
    let max_len = options.encode.max_len;
    let eos = tokenizer.eos_id;
    let fraction = options.validation_fraction.clamp(0.0, 1.0);
    let (train, validation) = if kept.len() >= 2 {
        let mut order: Vec<usize> = (0..kept.len()).collect();
        shuffle(&mut order, options.seed);
        let held = ((kept.len() as f64 * fraction).round() as usize)
            .max(usize::from(fraction > 0.0))
            .min(kept.len() - 1);
        let (mut held_out, mut trained) = (order[..held].to_vec(), order[held..].to_vec());
        held_out.sort_unstable();
        trained.sort_unstable();
        let names: Vec<&str> = held_out.iter().map(|&i| kept[i].id.as_str()).collect();
        if !names.is_empty() {
            report
                .warnings
                .push(format!("held out for validation: {}", names.join(", ")));
        }
        let train = windows(&stream(&tokens, &trained, eos), max_len, 1);
        let validation = windows(&stream(&tokens, &held_out, eos), max_len, train.len() + 1);
        (train, validation)
    } else {
        let mut all = windows(&stream(&tokens, &[0], eos), max_len, 1);
        let held = ((all.len() as f64 * fraction).round() as usize)
            .max(usize::from(fraction > 0.0 && all.len() >= 2))
            .min(all.len().saturating_sub(1));
        let validation = all.split_off(all.len() - held);
        if held > 0 {
            report.warnings.push(format!(
                "one document: its last {held} of {} windows are held out for validation; give \
                 several documents to hold out whole ones",
                all.len() + held
            ));
        }
        (all, validation)
    };
    if train.is_empty() {
        return Err(bad(format!(
            "has too little text to train on: {} tokens",
            tokens.iter().map(Vec::len).sum::<usize>()
        )));
    }
    let validation_examples = validation
        .iter()
        .map(|w| tokenizer.decode(&w.ids, false).map(Example::Text))
        .collect::<Result<Vec<_>>>()?;
    report.count(&train, &validation);
    if report.trained_tokens < FEW_TOKENS {
        report.warnings.push(format!(
            "only {} tokens of text: domain adaptation usually needs far more (hundreds of \
             thousands); with this little, retrieval (RAG) over the same documents may serve \
             better",
            report.trained_tokens
        ));
    }
    if validation.is_empty() {
        report
            .warnings
            .push("no held-out text: the perplexity on unseen text cannot be measured".into());
    }
    Ok(Prepared {
        train,
        validation,
        validation_examples,
        pad_id: eos.unwrap_or(0),
        report,
        pairs: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_stream_and_train_every_token() {
        let stream: Vec<u32> = (0..10).collect();
        let w = windows(&stream, 4, 1);
        let ids: Vec<Vec<u32>> = w.iter().map(|e| e.ids.clone()).collect();
        assert_eq!(ids, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        assert_eq!(w[2].labels, vec![8, 9]);
        assert_eq!(w.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 2, 3]);
        // A last window of one token predicts nothing and is dropped.
        assert_eq!(windows(&stream[..9], 4, 1).len(), 2);
    }

    #[test]
    fn documents_are_joined_with_eos() {
        let tokens = vec![vec![5, 6], vec![7]];
        assert_eq!(stream(&tokens, &[1, 0], Some(2)), [7, 2, 5, 6, 2]);
        assert_eq!(stream(&tokens, &[0, 1], None), [5, 6, 7]);
    }
}
