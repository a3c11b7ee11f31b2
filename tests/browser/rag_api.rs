//! Retrieval and the advisor through the JavaScript API (CPU tier, tiny random models): an
//! encoder opens from files, documents go in, come out of a search and into an answer's
//! sources, the index survives `exportIndex`/`importIndex` into a fresh object (as the page
//! keeps it in OPFS), damaged index bytes are refused, and the advisor fills its table.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webtune::io::MemorySource;
use webtune::js::Webtune;

use crate::api::{blob, call, get, json, named_blobs, to_json};

async fn engine() -> JsValue {
    let webtune = JsFuture::from(Webtune::create(Some("cpu".into())))
        .await
        .unwrap();
    let info = call(
        &webtune,
        "openEncoder",
        &[named_blobs(webtune_tests::tiny_bert_files()).await],
    )
    .await
    .unwrap();
    assert_eq!(to_json(&info)["dimension"], 32, "{}", to_json(&info));
    webtune
}

fn docs(files: &[(&str, &str)]) -> Vec<MemorySource> {
    files
        .iter()
        .map(|(name, text)| MemorySource::new(*name, text.as_bytes().to_vec()))
        .collect()
}

const LEAVE: (&str, &str) = (
    "leave.md",
    "# Leave\n\n## Days\n\nYou get 25 vacation days.",
);
const WORK: (&str, &str) = (
    "work.md",
    "# Work\n\n## Overtime\n\nOvertime is paid at 130 percent.",
);

pub async fn js_api_indexes_asks_and_advises() {
    let webtune = engine().await;
    let added = call(
        &webtune,
        "addDocuments",
        &[named_blobs(docs(&[LEAVE, WORK])).await],
    )
    .await
    .unwrap();
    let added = to_json(&added);
    assert_eq!(added[0]["id"], "leave.md", "{added}");
    assert!(added[1]["added"].as_u64().unwrap() >= 1, "{added}");
    let options = json(serde_json::json!({"k": 1, "mode": "keyword", "max_new_tokens": 4}));
    let hits = call(
        &webtune,
        "search",
        &["How is overtime paid?".into(), options.clone()],
    )
    .await
    .unwrap();
    let hits = to_json(&hits);
    assert_eq!(hits[0]["chunk"]["doc_id"], "work.md", "{hits}");

    // An answer from the tiny Llama, with the retrieved chunk as its source.
    let model = named_blobs(webtune_tests::tiny_files("llama")).await;
    call(&webtune, "openModel", &[model]).await.unwrap();
    let answer = call(
        &webtune,
        "ask",
        &["How is overtime paid?".into(), options.clone()],
    )
    .await
    .unwrap();
    let answer = to_json(&answer);
    assert_eq!(
        answer["sources"][0]["chunk"]["doc_id"], "work.md",
        "{answer}"
    );

    // Saved and loaded into a fresh object: the same documents and the same search.
    let bytes = call(&webtune, "exportIndex", &[]).await.unwrap();
    let saved = Object::new();
    Reflect::set(&saved, &"name".into(), &"index.wtindex".into()).unwrap();
    let parts = Array::of1(&bytes);
    let blob_ctor: js_sys::Function = get(&js_sys::global().into(), "Blob").into();
    let data = Reflect::construct(&blob_ctor, &Array::of1(&parts)).unwrap();
    Reflect::set(&saved, &"data".into(), &data).unwrap();
    let fresh = engine().await;
    let restored = to_json(&call(&fresh, "importIndex", &[saved.into()]).await.unwrap());
    assert_eq!(restored.as_array().unwrap().len(), 2, "{restored}");
    let again = to_json(
        &call(
            &fresh,
            "search",
            &["How is overtime paid?".into(), options.clone()],
        )
        .await
        .unwrap(),
    );
    assert_eq!(again, hits);

    // Damaged bytes: kind "index", naming the file; the loaded index stays.
    let bad = Object::new();
    Reflect::set(&bad, &"name".into(), &"old.wtindex".into()).unwrap();
    Reflect::set(&bad, &"data".into(), &blob(b"WTINDEX\0\x09\x00\x00\x00")).unwrap();
    let err = call(&fresh, "importIndex", &[bad.into()])
        .await
        .unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("index"));
    assert!(
        get(&err, "message")
            .as_string()
            .unwrap()
            .contains("old.wtindex")
    );
    let removed = call(&fresh, "removeDocument", &["work.md".into()])
        .await
        .unwrap();
    assert!(removed.as_f64().unwrap() >= 1.0);
    assert_eq!(
        to_json(&call(&fresh, "documents", &[]).await.unwrap())
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The advisor on the open model: four rows and a recommendation; the session's model is
    // left without an adapter as it was.
    let training = (0..4)
        .map(|i| {
            serde_json::json!({"messages": [
                {"role": "user", "content": format!("Question {i}?")},
                {"role": "assistant", "content": format!("Answer: {i} days.\nPolicy: HR-{i}\n— Desk")}
            ]})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let texts = json(serde_json::json!({
        "training": {"name": "train.jsonl", "text": training},
        "questions": {"name": "q.jsonl", "text": "{\"question\": \"Vacation days?\", \"facts\": [\"25\"]}"},
        "changedQuestions": {"name": "c.jsonl", "text": "{\"question\": \"Overtime rate?\", \"facts\": [\"140\"], \"old_facts\": [\"130\"]}"},
    }));
    let config = json(serde_json::json!({
        "train": {"max_steps": 1, "batch_size": 2, "warmup_steps": 0, "eval_every": 0},
        "k": 1, "max_new_tokens": 2,
    }));
    let changed = docs(&[(
        "work.md",
        "# Work\n\n## Overtime\n\nOvertime is paid at 140 percent.",
    )]);
    let events = Array::new();
    let on_event = Closure::<dyn FnMut(JsValue)>::new({
        let events = events.clone();
        move |e: JsValue| {
            events.push(&e);
        }
    });
    let report = call(
        &webtune,
        "advise",
        &[
            named_blobs(docs(&[LEAVE, WORK])).await,
            named_blobs(changed).await,
            texts,
            config,
            on_event.as_ref().clone(),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("advise: {:?}", get(&e, "message")));
    let report = to_json(&report);
    assert_eq!(report["arms"].as_array().unwrap().len(), 4, "{report}");
    assert_eq!(report["answers"].as_array().unwrap().len(), 8, "{report}");
    assert!(
        report["recommendation"]["reasons"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    let kinds: Vec<String> = events
        .iter()
        .map(|e| get(&e, "kind").as_string().unwrap())
        .collect();
    assert!(kinds.iter().any(|k| k == "training") && kinds.iter().any(|k| k == "answer"));
    let info = to_json(&call(&webtune, "modelInfo", &[]).await.unwrap());
    assert_eq!(info["architecture"], "llama");
    wasm_bindgen_test::console_log!(
        "JS API: index, search, ask, export/import, advise: {}",
        report["recommendation"]["choice"]
    );
}
