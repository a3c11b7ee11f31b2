//! The hostile-input corpus (`tests/hostile/cases.jsonl`, the CLI's in `crate/tests/hostile.rs`)
//! through the JavaScript API, as a page meets it: each case's bad model, adapter, checkpoint,
//! dataset, document, index or setting goes in through the calls the page makes (`openModel`,
//! `importAdapter`, `restoreCheckpoint` + `resume`, `loadDataset` + `evaluate`,
//! `addDocuments`, `importIndex` + `search`, `train`). Each must end in an `Error` with a
//! `kind` (a wasm trap has none) whose message names the file or setting the case expects —
//! or, for the controls and harmless edits, succeed; and after every case the same object still
//! opens the tiny Llama and answers (a trap or a poisoned lock would show there). Cases that
//! only exist on the command line (a path that does not exist, `--memory-budget`, a TOML file
//! that does not parse) are counted apart.

use std::collections::BTreeMap;

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::console_log;
use webtune::js::Webtune;

use crate::api::{call, get, json, named_blobs};

#[path = "../hostile/spec.rs"]
mod spec;

const CASES: &str = include_str!("../hostile/cases.jsonl");
const SUPPORT: &str = include_str!("../../static/demo/support.jsonl");

/// Named files.
type Files = Vec<(String, Vec<u8>)>;

macro_rules! files {
    ($dir:literal: $($name:literal),*) => {
        vec![$(($name.to_string(), include_bytes!(concat!("../", $dir, "/", $name)).to_vec())),*]
    };
}

/// A folder the corpus edits, as its files.
fn folder(path: &str) -> Files {
    match path {
        "tests/fixtures/tiny/llama" => files!("fixtures/tiny/llama": "config.json",
            "generation_config.json", "model.safetensors.index.json",
            "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
            "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors",
            "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"),
        "tests/fixtures/lora/adapter" => {
            files!("fixtures/lora/adapter": "adapter_config.json", "adapter_model.safetensors")
        }
        "tests/hostile/checkpoint" => files!("hostile/checkpoint": "adapter_config.json",
            "adapter_model.safetensors", "optimizer.safetensors", "state.json"),
        "tests/fixtures/tiny_bert/model" => files!("fixtures/tiny_bert/model": "config.json",
            "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json",
            "1_Pooling/config.json", "sentence_bert_config.json"),
        other => panic!("the corpus edits {other}, which this runner does not embed"),
    }
}

/// A file the corpus splices into.
fn base(path: &str) -> Vec<u8> {
    let (dir, name) = path.rsplit_once('/').unwrap();
    match path {
        "tests/fixtures/tiny/qwen2.gguf" => include_bytes!("../fixtures/tiny/qwen2.gguf").to_vec(),
        "tests/hostile/handbook.wtindex" => include_bytes!("../hostile/handbook.wtindex").to_vec(),
        _ => {
            folder(dir)
                .into_iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no {path}"))
                .1
        }
    }
}

/// The bytes an input spec describes, splicing into the embedded files.
fn content(spec: &Value) -> Vec<u8> {
    spec::content(spec, base)
}

/// The files an input spec makes: one file, or a folder's with some replaced or removed.
fn input(spec: &Value) -> Files {
    let Some(dir) = spec["folder"].as_str() else {
        return vec![(spec["name"].as_str().unwrap().to_string(), content(spec))];
    };
    let mut files = folder(dir);
    for (name, edit) in spec["files"].as_object().into_iter().flatten() {
        files.retain(|(n, _)| n != name);
        if !edit.is_null() {
            files.push((name.clone(), content(edit)));
        }
    }
    files
}

async fn blobs(files: Files) -> JsValue {
    let sources = files
        .into_iter()
        .map(|(name, bytes)| webtune::io::MemorySource::new(name, bytes))
        .collect();
    named_blobs(sources).await
}

/// What a case ran into, when it is not a clean result.
enum Outcome {
    /// It succeeded.
    Passed,
    /// A JS `Error` with this kind and message.
    Refused(String, String),
    /// A thrown value without a `kind`: a trap, or not the API's error.
    Untyped(String),
    /// The case has no JS API form.
    NotApplicable,
}

/// The value of `--flag` in `cmd` (its last, as a later flag overrides).
fn flag<'a>(cmd: &'a [String], name: &str) -> Option<&'a str> {
    cmd.iter()
        .rposition(|a| a == name)
        .and_then(|i| cmd.get(i + 1))
        .map(String::as_str)
}

/// The command line's settings flags and the `TrainConfig` setting each is (the data ones go to
/// `loadDataset`'s options, as the page passes them).
const SETTINGS: [(&str, &str); 12] = [
    ("--max-steps", "max_steps"),
    ("--lr", "optimizer.lr"),
    ("--alpha", "lora.lora_alpha"),
    ("--rank", "lora.r"),
    ("--dropout", "lora.lora_dropout"),
    ("--batch-size", "batch_size"),
    ("--epochs", "epochs"),
    ("--eval-every", "eval_every"),
    ("--checkpoint-every", "checkpoint_every"),
    ("--method", "method"),
    ("--max-len", "data.encode.max_len"),
    ("--validation-fraction", "data.validation_fraction"),
];

/// What a JS message may name for what the command line's names (`expect`): a flag's setting,
/// the file of "file's key = value".
fn js_names(expect: &[String]) -> Vec<String> {
    let mut names = expect.to_vec();
    for (flag, setting) in SETTINGS {
        if expect.iter().any(|e| e == flag) {
            names.push(setting.trim_start_matches("data.").to_string());
        }
    }
    if expect.iter().any(|e| e == "--tier") {
        names.push("tier".into());
    }
    names.extend(
        expect
            .iter()
            .filter_map(|e| e.split_once("'s ").map(|(file, _)| file.to_string())),
    );
    names
}

/// The command line's `name` value as the page would pass it: a number where it reads as one
/// (NaN and infinities included), else the string.
fn number_or_string(value: &str) -> JsValue {
    match value.parse::<f64>() {
        Ok(n) => n.into(),
        Err(_) => value.into(),
    }
}

/// Sets `path` (`"optimizer.lr"`) of `object`, making the objects on the way.
fn set_path(object: &JsValue, path: &str, value: JsValue) {
    let mut at = object.clone();
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        let next = get(&at, part);
        let next = if next.is_object() {
            next
        } else {
            let fresh: JsValue = Object::new().into();
            Reflect::set(&at, &(*part).into(), &fresh).unwrap();
            fresh
        };
        at = next;
    }
    Reflect::set(&at, &parts[parts.len() - 1].into(), &value).unwrap();
}

/// The training config a `train` case asks for, as a JS object (`None`: no JS form).
fn train_config(cmd: &[String], inputs: &BTreeMap<String, Files>) -> Option<JsValue> {
    if let Some(files) = inputs.get("config") {
        // The page passes objects; a TOML file is the CLI's way of writing one.
        let text = String::from_utf8(files[0].1.clone()).ok()?;
        return Some(json(toml_object(&text)?));
    }
    let config: JsValue = Object::new().into();
    for (name, path) in SETTINGS {
        if let (Some(value), false) = (flag(cmd, name), path.starts_with("data.")) {
            set_path(&config, path, number_or_string(value));
        }
    }
    if let Some(targets) = flag(cmd, "--targets") {
        set_path(
            &config,
            "lora.target_modules",
            Array::of1(&targets.into()).into(),
        );
    }
    Some(config)
}

/// The corpus's TOML configs as JSON: `[section]` headers and `key = value` lines whose values
/// read as JSON; `None` for anything else. (Not the `toml` crate: in the wasm build it would
/// switch on `indexmap/std`, which wgpu and cubecl share with the page, so Trunk could not
/// reuse this build's artifacts and would compile the whole engine again.)
fn toml_object(text: &str) -> Option<serde_json::Value> {
    let mut root = serde_json::Map::new();
    let mut section: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if name.contains(['[', ']']) {
                return None;
            }
            section = Some(name.trim().to_string());
            continue;
        }
        let (key, value) = line.split_once('=')?;
        let value: serde_json::Value = serde_json::from_str(value.trim()).ok()?;
        let table = match &section {
            Some(name) => root
                .entry(name.clone())
                .or_insert_with(|| serde_json::Value::Object(Default::default()))
                .as_object_mut()?,
            None => &mut root,
        };
        table.insert(key.trim().to_string(), value);
    }
    Some(serde_json::Value::Object(root))
}

fn files_object(files: &Files) -> JsValue {
    let object = Object::new();
    for (name, bytes) in files {
        Reflect::set(&object, &name.into(), &Uint8Array::from(bytes.as_slice())).unwrap();
    }
    object.into()
}

/// Runs one case through the JS API on `webtune` (fresh state for what it opens).
async fn run(webtune: &JsValue, case: &Value) -> Result<Outcome, JsValue> {
    let cmd: Vec<String> = serde_json::from_value(case["cmd"].clone()).unwrap();
    let inputs: BTreeMap<String, Files> = case["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, spec)| (k.clone(), input(spec)))
        .collect();
    let llama = || folder("tests/fixtures/tiny/llama");
    let model = match flag(&cmd, "--model") {
        Some("{model}") => inputs["model"].clone(),
        Some("tests/fixtures/tiny/llama") | None => llama(),
        Some(_) => return Ok(Outcome::NotApplicable),
    };
    let open = || async { call(webtune, "openModel", &[blobs(model.clone()).await]).await };
    match cmd[0].as_str() {
        "merge" => {
            open().await?;
            let adapter = match inputs.get("adapter") {
                Some(files) => files.clone(),
                None => folder("tests/fixtures/lora/adapter"),
            };
            call(webtune, "importAdapter", &[blobs(adapter).await]).await?;
            call(webtune, "exportAdapter", &[true.into()]).await?;
        }
        "generate" => {
            open().await?;
            let options = json(serde_json::json!({
                "max_new_tokens": 2,
                "raw": flag(&cmd, "--prompt").is_some(),
            }));
            call(webtune, "generate", &["hello".into(), options]).await?;
        }
        "export" => {
            open().await?;
            call(
                webtune,
                "loadDataset",
                &["support.jsonl".into(), SUPPORT.into()],
            )
            .await?;
            let saved = files_object(&inputs["checkpoint"]);
            call(webtune, "restoreCheckpoint", &[saved]).await?;
            let quiet: Function = Function::new_no_args("");
            call(webtune, "resume", &[quiet.into()]).await?;
            call(webtune, "exportAdapter", &[]).await?;
        }
        "eval" => {
            open().await?;
            let (name, bytes) = &inputs["data"][0];
            // What `File.text()` gives the page for bytes that are not UTF-8.
            let text = String::from_utf8_lossy(bytes).to_string();
            call(webtune, "loadDataset", &[name.into(), text.into()]).await?;
            call(webtune, "evaluate", &[]).await?;
        }
        "index" | "query" => {
            let encoder = folder("tests/fixtures/tiny_bert/model");
            call(webtune, "openEncoder", &[blobs(encoder).await]).await?;
            if let Some(doc) = inputs.get("doc") {
                call(webtune, "addDocuments", &[blobs(doc.clone()).await]).await?;
            }
            if let Some(index) = inputs.get("index") {
                let saved = Array::from(&blobs(index.clone()).await).get(0);
                call(webtune, "importIndex", &[saved]).await?;
                call(webtune, "search", &["what?".into()]).await?;
            }
        }
        "train" => {
            if flag(&cmd, "--memory-budget").is_some()
                || flag(&cmd, "--data") != Some("static/demo/support.jsonl")
            {
                return Ok(Outcome::NotApplicable);
            }
            if let Some(tier) = flag(&cmd, "--tier").filter(|&t| t != "cpu") {
                JsFuture::from(Webtune::create(Some(tier.into()))).await?;
                return Ok(Outcome::Passed);
            }
            let Some(config) = train_config(&cmd, &inputs) else {
                return Ok(Outcome::NotApplicable);
            };
            let options: JsValue = Object::new().into();
            for (name, path) in SETTINGS {
                if let (Some(value), Some(path)) = (flag(&cmd, name), path.strip_prefix("data.")) {
                    set_path(&options, path, number_or_string(value));
                }
            }
            open().await?;
            let data = ["support.jsonl".into(), SUPPORT.into(), options];
            call(webtune, "loadDataset", &data).await?;
            call(webtune, "train", &[config]).await?;
        }
        other => panic!("no JS form for `{other}`"),
    }
    Ok(Outcome::Passed)
}

/// Whether `webtune` still opens the tiny Llama and answers.
async fn healthy(webtune: &JsValue) -> Result<(), String> {
    let files = blobs(folder("tests/fixtures/tiny/llama")).await;
    call(webtune, "openModel", &[files])
        .await
        .map_err(|e| format!("openModel: {e:?}"))?;
    let options = json(serde_json::json!({"max_new_tokens": 1}));
    call(webtune, "generate", &["hi".into(), options])
        .await
        .map_err(|e| format!("generate: {e:?}"))?;
    Ok(())
}

/// Every case of the corpus through the JS API on the CPU tier; see the module docs.
pub async fn corpus_through_the_js_api() {
    let webtune = JsFuture::from(Webtune::create(Some("cpu".into())))
        .await
        .unwrap();
    use Outcome::*;
    let mut counts: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut seconds: BTreeMap<String, f64> = BTreeMap::new();
    let mut last_turn = js_sys::Date::now();
    let loop_start = js_sys::Date::now();
    let mut failures = Vec::new();
    let mut lines = CASES.lines().filter(|l| !l.trim().is_empty()).peekable();
    while let Some(line) = lines.next() {
        let case: Value = serde_json::from_str(line).unwrap();
        let (id, class) = (
            case["id"].as_str().unwrap(),
            case["class"].as_str().unwrap(),
        );
        let may_pass = case["may_pass"].as_bool().unwrap_or(false);
        let expect: Vec<String> = serde_json::from_value(case["expect"].clone()).unwrap();
        let expect = js_names(&expect);
        let start = js_sys::Date::now();
        let outcome = match run(&webtune, &case).await {
            Ok(outcome) => outcome,
            Err(err) => match get(&err, "kind").as_string() {
                Some(kind) => Refused(kind, get(&err, "message").as_string().unwrap_or_default()),
                None => Outcome::Untyped(format!("{err:?}")),
            },
        };
        let verdict = match &outcome {
            Passed if may_pass => "passed (may)",
            Passed => {
                failures.push(format!("{id}: accepted"));
                "accepted"
            }
            Refused(_, message) if message.is_empty() => {
                failures.push(format!("{id}: refused with no message"));
                "no message"
            }
            Refused(kind, message)
                if !expect.is_empty() && !expect.iter().any(|e| message.contains(e.as_str())) =>
            {
                failures.push(format!(
                    "{id}: {kind}: {message:?} names none of {expect:?}"
                ));
                "unnamed"
            }
            Refused(..) => "refused",
            Untyped(what) => {
                failures.push(format!("{id}: threw without a kind: {what}"));
                "untyped"
            }
            NotApplicable => "CLI only",
        };
        *counts.entry((class.to_string(), verdict)).or_default() += 1;
        *seconds.entry(class.to_string()).or_default() += (js_sys::Date::now() - start) / 1e3;
        // The calls resolve without giving the event loop a turn; the test driver needs one
        // every few seconds (and a turn costs a timer's delay).
        if js_sys::Date::now() - last_turn > 1000.0 {
            webtune::platform::yield_now().await;
            last_turn = js_sys::Date::now();
        }
        // Every case leaves the object answering calls; after a class's last, still working.
        let class_ends = lines.peek().is_none_or(|next| {
            let next: Value = serde_json::from_str(next).unwrap_or_default();
            next["class"].as_str() != Some(class)
        });
        let check_start = js_sys::Date::now();
        let check = match class_ends {
            true => healthy(&webtune).await,
            false => call(&webtune, "adapters", &[])
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        };
        *seconds.entry("(checks after)".into()).or_default() +=
            (js_sys::Date::now() - check_start) / 1e3;
        if let Err(problem) = check {
            failures.push(format!("{id}: afterwards the object is broken: {problem}"));
            break;
        }
    }
    let total: usize = counts.values().sum();
    console_log!(
        "hostile corpus through the JS API: {total} cases in {:.0} s",
        (js_sys::Date::now() - loop_start) / 1e3
    );
    for ((class, verdict), n) in &counts {
        console_log!("  {class:12} {verdict:14} {n}");
    }
    for (class, s) in &seconds {
        console_log!("  {class:14} {s:.1} s");
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
