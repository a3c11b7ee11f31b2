//! The Data view's preview through the session: a page from a line the data report names (as
//! the page's "Rows to look at" links ask for one), on the tiny Llama's chat template.

use webtune::ComputeDevice;
use webtune::data::{DataOptions, PreviewStart};
use webtune::platform::block_on;
use webtune::session::{OpenOptions, Purpose, Session};

use crate::gguf_export::folder;

#[test]
fn preview_starts_at_a_line_the_report_names() {
    let mut session = Session::new(ComputeDevice::cpu());
    let options = OpenOptions {
        purpose: Purpose::Read,
        ..OpenOptions::default()
    };
    block_on(session.open_model("tiny/llama", folder("tiny/llama"), &options)).unwrap();
    let mut rows: Vec<String> = (1..=12)
        .map(|i| {
            serde_json::json!({"messages": [
                {"role": "user", "content": format!("Which shelf holds box {i}?")},
                {"role": "assistant", "content": format!("Shelf {}.", i % 4)},
            ]})
            .to_string()
        })
        .collect();
    rows[8] = rows[1].clone();
    let report = session
        .load_dataset(
            "boxes.jsonl",
            &rows.join("\n"),
            None,
            &DataOptions::default(),
        )
        .unwrap();
    assert_eq!(report.repeats.len(), 1, "{report:?}");
    assert_eq!(report.repeats[0].lines, [2, 9]);

    // Every line is one row here, so line 9 is row 8; a page from the row is the same page.
    let page = session.preview(PreviewStart::Line(9), 3).unwrap();
    assert_eq!((page.total, page.offset, page.rows.len()), (12, 8, 3));
    assert_eq!(page.rows[0].line, 9);
    assert_eq!(session.preview(PreviewStart::Row(8), 3).unwrap(), page);
    // A line past the last row (a repeat dropped at the end) shows the last row.
    let end = session.preview(PreviewStart::Line(99), 3).unwrap();
    assert_eq!((end.offset, end.rows.len(), end.rows[0].line), (11, 1, 12));
}
