//! `Session::evaluate`: the answers' progress, and Stop keeping what was answered.

use webtune::ComputeDevice;
use webtune::data::DataOptions;
use webtune::flow::Flow;
use webtune::platform::block_on;
use webtune::session::{EvalData, OpenOptions, Session};

#[test]
fn evaluation_reports_progress_and_stops_where_asked() {
    let mut session = Session::new(ComputeDevice::cpu());
    let files = webtune_tests::tiny_files("llama");
    block_on(session.open_model("llama", files, &OpenOptions::default())).unwrap();
    let rows = webtune_tests::conversations_jsonl(16, |i| {
        (format!("What is {i} plus one?"), format!("{}", i + 1))
    });
    let options = DataOptions {
        validation_fraction: 0.25,
        ..DataOptions::default()
    };
    session
        .load_dataset("sums.jsonl", &rows, None, &options)
        .unwrap();
    let evaluate = |progress: &mut dyn FnMut(usize, usize) -> Flow| {
        block_on(session.evaluate(EvalData::Validation, true, true, progress)).unwrap()
    };

    let mut seen = Vec::new();
    let full = evaluate(&mut |answered, questions| {
        seen.push((answered, questions));
        Flow::Continue
    });
    let questions = full.answers.len();
    assert!(questions >= 2 && !full.stopped, "{full:?}");
    assert_eq!(seen.first(), Some(&(0, questions)));
    assert_eq!(seen.last(), Some(&(questions, questions)));
    assert!(
        seen.windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[1].0 <= w[0].0 + 1)
    );

    // Stopped once the first answer is in: that answer, the accuracy over it, the same loss.
    let one = evaluate(&mut |answered, _| match answered {
        0 => Flow::Continue,
        _ => Flow::Stop,
    });
    assert!(one.stopped, "{one:?}");
    assert_eq!(one.answers.len(), 1);
    assert_eq!(one.answers[0].got, full.answers[0].got);
    assert_eq!(one.loss, full.loss);
    let first_right = if full.answers[0].correct { 1.0 } else { 0.0 };
    assert_eq!(one.exact_match, Some(first_right));

    // Stopped at the first answer's first token: nothing answered, no accuracy.
    let mut calls = 0;
    let none = evaluate(&mut |_, _| {
        calls += 1;
        match calls {
            1 => Flow::Continue,
            _ => Flow::Stop,
        }
    });
    assert!(none.stopped && none.answers.is_empty(), "{none:?}");
    assert_eq!(none.exact_match, None);
}
