//! The JavaScript API as JavaScript sees it: methods looked up by their JS names on the
//! object `Webtune.create` resolves to, plain objects in and out, `Error`s with a `kind`.
//! LoRA steps on WebGPU follow the CPU backend's losses, a paused run resumes on the same
//! trajectory (also in a fresh object from the saved checkpoint files, as after a reload),
//! generation streams, the exported adapter equals the CPU run's, bad files are refused.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webtune::io::safetensors::SafetensorsFile;
use webtune::io::{ByteSource, MemorySource};
use webtune::js::Webtune;

pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap()
}

/// Calls `object.name(...args)` and awaits the result when it is a promise.
pub(crate) async fn call(
    object: &JsValue,
    name: &str,
    args: &[JsValue],
) -> Result<JsValue, JsValue> {
    let function: Function = get(object, name)
        .dyn_into()
        .unwrap_or_else(|_| panic!("the API has no method {name}"));
    let result = function.apply(object, &args.iter().collect::<Array>())?;
    match result.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(value) => Ok(value),
    }
}

pub(crate) fn json(value: serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap()
}

pub(crate) fn to_json(value: &JsValue) -> serde_json::Value {
    serde_json::from_str(&js_sys::JSON::stringify(value).unwrap().as_string().unwrap()).unwrap()
}

pub(crate) fn blob(bytes: &[u8]) -> JsValue {
    let constructor: Function = get(&js_sys::global().into(), "Blob").dyn_into().unwrap();
    let parts = Array::of1(&Uint8Array::from(bytes));
    Reflect::construct(&constructor, &Array::of1(&parts)).unwrap()
}

/// `[{name, data: Blob}]`, as a page hands over files it fetched.
pub(crate) async fn named_blobs(files: Vec<MemorySource>) -> JsValue {
    let array = Array::new();
    for file in files {
        let bytes = file.read(0, file.len() as usize).await.unwrap();
        let item = Object::new();
        Reflect::set(&item, &"name".into(), &file.name().into()).unwrap();
        Reflect::set(&item, &"data".into(), &blob(&bytes)).unwrap();
        array.push(&item);
    }
    array.into()
}

pub(crate) async fn blob_bytes(blob: &JsValue) -> Vec<u8> {
    let buffer = call(blob, "arrayBuffer", &[]).await.unwrap();
    Uint8Array::new(&buffer).to_vec()
}

fn config(dropout: f64) -> JsValue {
    json(serde_json::json!({
        "lora": {"r": 4, "lora_alpha": 8.0, "lora_dropout": dropout},
        "optimizer": {"lr": 5e-3},
        "warmup_steps": 1, "max_steps": 6, "batch_size": 4, "eval_every": 0, "seed": 3,
    }))
}

/// A `Webtune` on `tier` with the tiny Llama and the dataset loaded.
async fn ready(tier: &str) -> JsValue {
    // The process's one GPU device is the tests' capped one, whichever test runs first.
    crate::webgpu().await;
    let webtune = JsFuture::from(Webtune::create(Some(tier.into())))
        .await
        .unwrap_or_else(|err| panic!("create({tier}): {err:?}"));
    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    let info = to_json(&call(&webtune, "openModel", &[files]).await.unwrap());
    assert_eq!(info["architecture"], "llama", "{info}");
    // By default f16 where the adapter has shader-f16 (SwiftShader has not), else f32.
    let half = tier == "gpu" && crate::webgpu().await.supports_f16();
    assert_eq!(
        info["precision"],
        if half { "f16" } else { "f32" },
        "{info}"
    );
    assert_eq!(info["parameters"], 39072, "{info}");
    let report = call(
        &webtune,
        "loadDataset",
        &["chat.jsonl".into(), webtune_tests::chat_jsonl(24).into()],
    )
    .await
    .unwrap();
    let report = to_json(&report);
    assert_eq!(report["rows"], 24, "{report}");
    webtune
}

/// The step losses among `events`.
fn losses(events: &serde_json::Value) -> Vec<f64> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "step")
        .map(|e| e["report"]["loss"].as_f64().unwrap())
        .collect()
}

/// Trains with `config(dropout)` (`method` `train`) or resumes (`resume`), calling
/// `halt.0` (`pause` or `stop`) from the event callback after step `halt.1`.
async fn train(
    webtune: &JsValue,
    method: &str,
    dropout: f64,
    halt: Option<(&'static str, u64)>,
) -> Vec<f64> {
    let target = webtune.clone();
    let on_event = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let event = to_json(&event);
        let step = event["report"]["step"].as_u64();
        if let Some((how, after)) = halt.filter(|_| event["event"] == "step" && step.is_some())
            && step == Some(after)
        {
            let halt: Function = get(&target, how).dyn_into().unwrap();
            halt.call0(&target).unwrap();
        }
    });
    let args: Vec<JsValue> = match method {
        "train" => vec![config(dropout), on_event.as_ref().clone()],
        _ => vec![on_event.as_ref().clone()],
    };
    let log = call(webtune, method, &args)
        .await
        .unwrap_or_else(|err| panic!("{method}: {err:?}"));
    losses(&to_json(&log))
}

/// `create("auto")`, `create("gpu")` and a tier that does not exist.
pub async fn engine_chooses_its_tier() {
    let device =
        |webtune: JsValue| async move { to_json(&call(&webtune, "device", &[]).await.unwrap()) };
    let auto = JsFuture::from(Webtune::create(None)).await.unwrap();
    let auto = device(auto).await;
    assert_eq!(auto["tier_note"]["reason"], "software_gpu", "{auto}");
    let note = auto["tier_note"]["text"].as_str().unwrap_or_default();
    wasm_bindgen_test::console_log!("create(): {} — {note}", auto["tier"]);
    assert_eq!(auto["tier"], "CPU (flex)", "{auto}");
    assert!(note.to_lowercase().contains("swiftshader"), "{auto}");
    assert!(!note.contains('{') && !note.contains("Wgpu"), "{note}");
    let gpu = JsFuture::from(Webtune::create(Some("gpu".into())))
        .await
        .unwrap();
    let gpu = device(gpu).await;
    assert_eq!(gpu["tier"], "GPU (WebGPU)", "{gpu}");
    assert!(gpu["tier_note"].is_null(), "{gpu}");
    // A software renderer is known by its name, so `auto` did not time it; timed, it computes
    // the engine's test products slower than the tab's CPU tier.
    assert!(auto["tier_timing"].is_null() && gpu["tier_timing"].is_null());
    let swiftshader = webtune::ComputeDevice::gpu().await.unwrap();
    let cpu = webtune::ComputeDevice::cpu();
    let timing = webtune::session::TierTiming::measure(&swiftshader, &cpu)
        .await
        .unwrap();
    wasm_bindgen_test::console_log!("timed products: {timing:?}");
    assert!(timing.gpu_speedup() < 1.0, "{timing:?}");
    let err = JsFuture::from(Webtune::create(Some("fast".into())))
        .await
        .unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("input"));
}

/// The exported adapter's tensors; the same files in one ZIP with `archive`.
async fn adapter(webtune: &JsValue) -> Vec<(String, Vec<f32>)> {
    let files = call(webtune, "exportAdapter", &[]).await.unwrap();
    let zip = call(webtune, "exportAdapter", &[JsValue::FALSE, JsValue::TRUE])
        .await
        .unwrap();
    let zip = blob_bytes(&get(&zip, "webtune-adapter.zip")).await;
    assert!(zip.starts_with(b"PK\x03\x04"), "not a ZIP");
    for name in ["adapter_config.json", "adapter_model.safetensors"] {
        // Stored, not compressed: each file's bytes are in the archive as they are.
        let bytes = blob_bytes(&get(&files, name)).await;
        assert!(
            zip.windows(bytes.len()).any(|w| w == bytes.as_slice()),
            "{name} is not in the archive"
        );
    }
    let config = blob_bytes(&get(&files, "adapter_config.json")).await;
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    let weights = blob_bytes(&get(&files, "adapter_model.safetensors")).await;
    let source = MemorySource::new("adapter_model.safetensors", weights);
    let file = SafetensorsFile::open(&source).await.unwrap();
    let mut out = Vec::new();
    for key in file.tensors.keys() {
        out.push((key.clone(), file.read_f32(&source, key).await.unwrap()));
    }
    out
}

/// LoRA through the JS API on WebGPU and on the CPU backend: the same losses (1e-2
/// relative) and the same exported adapter without dropout; with dropout (whose masks each
/// backend draws from its own generator), a paused run resumes on the uninterrupted run's
/// trajectory (bit for bit on the CPU backend); generation streams what it returns.
pub async fn js_api_trains_pauses_resumes_and_exports() {
    let mut runs = Vec::new();
    for tier in ["cpu", "gpu"] {
        let webtune = ready(tier).await;
        let plain = train(&webtune, "train", 0.0, None).await;
        assert_eq!(plain.len(), 6, "{tier}: {plain:?}");
        let exported = adapter(&webtune).await;

        let webtune = ready(tier).await;
        let uninterrupted = train(&webtune, "train", 0.1, None).await;
        assert_ne!(uninterrupted, plain, "{tier}: dropout changed nothing");

        // Paused after step 2, resumed in the same object and, from the saved files, in a
        // fresh one (a reloaded page).
        let paused = ready(tier).await;
        let first = train(&paused, "train", 0.1, Some(("pause", 2))).await;
        assert_eq!(first.len(), 3, "{tier}: paused after step 2: {first:?}");
        let files = call(&paused, "checkpointFiles", &[]).await.unwrap();
        assert!(!files.is_null(), "pausing saves a checkpoint");
        let reloaded = ready(tier).await;
        let step = call(&reloaded, "restoreCheckpoint", &[files])
            .await
            .unwrap();
        assert_eq!(step.as_f64(), Some(3.0));
        for webtune in [&paused, &reloaded] {
            let rest = train(webtune, "resume", 0.1, None).await;
            let resumed: Vec<f64> = first.iter().chain(&rest).copied().collect();
            let exact = tier == "cpu";
            for (k, (a, b)) in uninterrupted.iter().zip(&resumed).enumerate() {
                let same = if exact {
                    a == b
                } else {
                    (a - b).abs() <= 1e-6 * a.abs()
                };
                assert!(same, "{tier} step {k}: uninterrupted {a}, resumed {b}");
            }
            assert_eq!(resumed.len(), uninterrupted.len());
        }

        // `stop()` ends the run: nothing to resume, and what it trained exports.
        if tier == "cpu" {
            let stopped = ready(tier).await;
            let steps = train(&stopped, "train", 0.0, Some(("stop", 1))).await;
            assert_eq!(steps.len(), 2, "stopped after step 1: {steps:?}");
            let files = call(&stopped, "checkpointFiles", &[]).await.unwrap();
            assert!(files.is_null(), "a stopped run leaves nothing to resume");
            assert!(
                call(&stopped, "resume", &[JsValue::UNDEFINED])
                    .await
                    .is_err()
            );
            assert_eq!(adapter(&stopped).await.len(), exported.len());
        }

        // Generation streams what it returns, with and without the adapter.
        let streamed = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
        let sink = streamed.clone();
        let on_text = Closure::<dyn FnMut(JsValue)>::new(move |text: JsValue| {
            sink.borrow_mut().push_str(&text.as_string().unwrap());
        });
        for adapter in [true, false] {
            streamed.borrow_mut().clear();
            let out = call(
                &webtune,
                "generate",
                &[
                    "Hello 3".into(),
                    json(serde_json::json!({"max_new_tokens": 4, "adapter": adapter})),
                    on_text.as_ref().clone(),
                ],
            )
            .await
            .unwrap();
            let out = to_json(&out);
            assert!(out["tokens"].as_u64().unwrap() > 0, "{out}");
            assert_eq!(out["text"].as_str().unwrap(), streamed.borrow().as_str());
        }
        runs.push((plain, exported));
    }
    let ((cpu_losses, cpu_adapter), (gpu_losses, gpu_adapter)) = (&runs[0], &runs[1]);
    for (k, (c, g)) in cpu_losses.iter().zip(gpu_losses).enumerate() {
        assert!(
            (c - g).abs() <= 1e-2 * c.abs(),
            "step {k}: CPU {c}, WebGPU {g}"
        );
    }
    for ((name, c), (_, g)) in cpu_adapter.iter().zip(gpu_adapter) {
        let scale = c.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = c.iter().zip(g).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= 1e-3 * scale.max(1e-6),
            "{name}: exports differ by {diff}"
        );
    }
    wasm_bindgen_test::console_log!(
        "JS API: WebGPU vs CPU losses {:?} vs {:?}",
        gpu_losses,
        cpu_losses
    );
}

/// A corrupt model file and a malformed dataset are refused with a message and a `kind`; the
/// object keeps working.
pub async fn js_api_refuses_bad_input() {
    let webtune = JsFuture::from(Webtune::create(Some("cpu".into())))
        .await
        .unwrap();
    let item = Object::new();
    Reflect::set(&item, &"name".into(), &"broken.gguf".into()).unwrap();
    Reflect::set(&item, &"data".into(), &blob(b"GGUF\x03\x00\x00\x00garbage")).unwrap();
    let err = call(&webtune, "openModel", &[Array::of1(&item).into()])
        .await
        .unwrap_err();
    assert!(err.is_instance_of::<js_sys::Error>());
    let message = get(&err, "message").as_string().unwrap();
    assert_eq!(
        get(&err, "kind").as_string().as_deref(),
        Some("gguf"),
        "{message}"
    );
    assert!(message.contains("broken.gguf"), "{message}");

    let err = call(&webtune, "loadDataset", &["d.jsonl".into(), "{}".into()])
        .await
        .unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("input"));

    // f16 asked of the CPU tier, and a precision that does not exist.
    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    let err = call(
        &webtune,
        "openModel",
        &[files, JsValue::FALSE, "f16".into()],
    )
    .await
    .unwrap_err();
    let message = get(&err, "message").as_string().unwrap();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("device"));
    assert!(
        message.contains("f16") && message.contains("f32"),
        "{message}"
    );
    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    let err = call(
        &webtune,
        "openModel",
        &[files, JsValue::FALSE, "f64".into()],
    )
    .await
    .unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("input"));

    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    call(&webtune, "openModel", &[files]).await.unwrap();
    let err = call(
        &webtune,
        "loadDataset",
        &["d.jsonl".into(), "{\"messages\": [\n".into()],
    )
    .await
    .unwrap_err();
    let message = get(&err, "message").as_string().unwrap();
    assert_eq!(
        get(&err, "kind").as_string().as_deref(),
        Some("data"),
        "{message}"
    );
    assert!(
        message.contains("d.jsonl") && message.contains("line 1"),
        "{message}"
    );
}

/// The JavaScript API gives what the command line gives for the same inputs: the evaluation
/// report of the tiny Llama with PEFT's adapter on `fixtures/edges/held.jsonl`, and the files
/// of the merged model (`fixtures/edges/expected.json`, written from `webtune eval` and
/// `webtune merge` by `crate/tests/cli.rs`). On the CPU backend in wasm, to 1e-5.
pub async fn js_api_gives_the_edges_record() {
    use webtune_tests::{EDGES_EXPECTED, EDGES_HELD, EDGES_MAX_LEN};
    let webtune = JsFuture::from(Webtune::create(Some("cpu".into())))
        .await
        .unwrap();
    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    call(&webtune, "openModel", &[files]).await.unwrap();
    let adapter = named_blobs(webtune_tests::peft_adapter_files()).await;
    let layers = call(&webtune, "importAdapter", &[adapter]).await.unwrap();
    assert!(layers.as_f64().unwrap_or(0.0) > 0.0, "no layer adapted");
    let options = json(serde_json::json!({"encode": {"max_len": EDGES_MAX_LEN}}));
    let held = json(serde_json::json!({"name": "held.jsonl", "text": EDGES_HELD}));
    call(
        &webtune,
        "loadDataset",
        &["held.jsonl".into(), EDGES_HELD.into(), options, held],
    )
    .await
    .unwrap();
    let evaluation = to_json(&call(&webtune, "evaluate", &[true.into()]).await.unwrap());
    let merged = call(&webtune, "exportAdapter", &[true.into()])
        .await
        .unwrap();
    let mut files = Vec::new();
    for name in js_sys::Object::keys(merged.unchecked_ref::<js_sys::Object>()).iter() {
        let name = name.as_string().unwrap();
        files.push((name.clone(), blob_bytes(&get(&merged, &name)).await));
    }
    let record = webtune_tests::edges_record(evaluation, webtune_tests::digest(&files).await);
    let expected: serde_json::Value = serde_json::from_str(EDGES_EXPECTED).unwrap();
    webtune_tests::assert_same(&record, &expected, 1e-5, "edges");
}

/// The tiny Llama's GGUF export fixture (`fixtures/gguf_export/`), for [`js_api_writes_the_clis_gguf`].
const GGUF_REFERENCE: &str = include_str!("../fixtures/gguf_export/reference.json");

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))
}

/// `exportGguf` writes the bytes `webtune export --gguf` writes for the same model and
/// adapter — the ones llama.cpp read in `fixtures/gguf_export/make_fixture.py`: the tiny
/// Llama's adapter on `tier`, and on the CPU backend (where the merge's arithmetic is the
/// CLI's) its merged Q8_0 model. A DoRA adapter is refused with kind `export`.
pub async fn js_api_writes_the_clis_gguf(tier: &str) {
    // The process's one GPU device is the tests' capped one, whichever test runs first.
    crate::webgpu().await;
    let reference: serde_json::Value = serde_json::from_str(GGUF_REFERENCE).unwrap();
    let want = &reference["llama"];
    let webtune = JsFuture::from(Webtune::create(Some(tier.into())))
        .await
        .unwrap();
    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    call(&webtune, "openModel", &[files]).await.unwrap();
    let adapter = named_blobs(vec![
        MemorySource::new(
            "adapter_config.json",
            include_bytes!("../fixtures/gguf_export/llama_adapter/adapter_config.json").to_vec(),
        ),
        MemorySource::new(
            "adapter_model.safetensors",
            include_bytes!("../fixtures/gguf_export/llama_adapter/adapter_model.safetensors")
                .to_vec(),
        ),
    ])
    .await;
    call(&webtune, "importAdapter", &[adapter]).await.unwrap();
    let files = call(&webtune, "exportGguf", &[]).await.unwrap();
    let bytes = blob_bytes(&get(&files, "adapter.gguf")).await;
    assert_eq!(
        sha256(&bytes),
        want["adapter_sha256"].as_str().unwrap(),
        "{tier}: adapter.gguf"
    );
    let modelfile = blob_bytes(&get(&files, "Modelfile")).await;
    assert!(
        String::from_utf8(modelfile)
            .unwrap()
            .contains("ADAPTER ./adapter.gguf")
    );
    if tier == "cpu" {
        let files = call(&webtune, "exportGguf", &[true.into(), "q8_0".into()])
            .await
            .unwrap();
        let bytes = blob_bytes(&get(&files, "model-q8_0.gguf")).await;
        let want = want["merged"]["q8_0"]["sha256"].as_str().unwrap();
        assert_eq!(sha256(&bytes), want, "model-q8_0.gguf");
    }
    let dora = named_blobs(vec![
        MemorySource::new("adapter_config.json", webtune_tests::DORA.config.to_vec()),
        MemorySource::new(
            "adapter_model.safetensors",
            webtune_tests::DORA.weights.to_vec(),
        ),
    ])
    .await;
    call(&webtune, "importAdapter", &[dora]).await.unwrap();
    let err = call(&webtune, "exportGguf", &[]).await.unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("export"));
}

/// The export-job fixture (`fixtures/export_job/`), for [`js_api_writes_the_clis_job`].
const JOB_REFERENCE: &str = include_str!("../fixtures/export_job/reference.json");

/// The entries of a stored (uncompressed) ZIP archive by name, read from its local headers.
fn unzip_stored(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let (u16_at, u32_at) = (
        |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize,
        |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize,
    );
    let (mut at, mut entries) = (0, Vec::new());
    while u32_at(at) == 0x0403_4b50 {
        assert_eq!(u16_at(at + 8), 0, "stored, not compressed");
        let (size, name_len, extra) = (u32_at(at + 18), u16_at(at + 26), u16_at(at + 28));
        let name = String::from_utf8(zip[at + 30..at + 30 + name_len].to_vec()).unwrap();
        let start = at + 30 + name_len + extra;
        entries.push((name, zip[start..start + size].to_vec()));
        at = start + size;
    }
    entries
}

/// `exportJob` downloads the job `webtune export-job` writes — the one TRL ran in
/// `fixtures/export_job/make_fixture.py` — as one ZIP or as its files, on `tier`; a full
/// fine-tune is refused with kind `export`.
pub async fn js_api_writes_the_clis_job(tier: &str) {
    crate::webgpu().await;
    let reference: serde_json::Value = serde_json::from_str(JOB_REFERENCE).unwrap();
    let want = &reference["runs"]["lora"];
    let config: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/export_job/lora.json")).unwrap();
    let webtune = JsFuture::from(Webtune::create(Some(tier.into())))
        .await
        .unwrap();
    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    call(&webtune, "openModel", &[files]).await.unwrap();
    let data = include_str!("../../static/demo/support.jsonl");
    call(
        &webtune,
        "loadDataset",
        &[
            "support.jsonl".into(),
            data.into(),
            json(config["data"].clone()),
        ],
    )
    .await
    .unwrap();
    let base = want["model"].as_str().unwrap();
    let files = call(&webtune, "exportJob", &[json(config.clone()), base.into()])
        .await
        .unwrap();
    let zip = blob_bytes(&get(&files, "webtune-job.zip")).await;
    let entries = unzip_stored(&zip);
    let expected = want["files"].as_object().unwrap();
    assert_eq!(entries.len(), expected.len(), "{tier}: files");
    for (name, bytes) in &entries {
        assert_eq!(
            sha256(bytes),
            expected[name].as_str().unwrap_or_default(),
            "{tier}: {name}"
        );
    }
    // Without the archive (for a folder the person picks): the same files, named by path.
    let loose = call(
        &webtune,
        "exportJob",
        &[json(config.clone()), base.into(), false.into()],
    )
    .await
    .unwrap();
    for (name, sha) in expected {
        let bytes = blob_bytes(&get(&loose, name)).await;
        assert_eq!(
            sha256(&bytes),
            sha.as_str().unwrap_or_default(),
            "{tier}: loose {name}"
        );
    }
    let mut full = config;
    full["method"] = "full".into();
    let err = call(&webtune, "exportJob", &[json(full)])
        .await
        .unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("export"));
}

/// Several adapters through the JavaScript API: `loadAdapter` keeps two on the tiny Llama,
/// `adapters()` lists them with their memory, `generate` with `adapter_name` answers as the
/// same adapter imported alone does, an unknown name fails with kind `input`,
/// `removeAdapter` forgets one.
pub async fn js_api_keeps_several_adapters() {
    let webtune = JsFuture::from(Webtune::create(Some("cpu".into())))
        .await
        .unwrap();
    let files = named_blobs(webtune_tests::tiny_files("llama")).await;
    call(&webtune, "openModel", &[files]).await.unwrap();
    let lora = || {
        vec![
            MemorySource::new("adapter_config.json", webtune_tests::LORA.config.to_vec()),
            MemorySource::new(
                "adapter_model.safetensors",
                webtune_tests::LORA.weights.to_vec(),
            ),
        ]
    };
    let dora = vec![
        MemorySource::new("adapter_config.json", webtune_tests::DORA.config.to_vec()),
        MemorySource::new(
            "adapter_model.safetensors",
            webtune_tests::DORA.weights.to_vec(),
        ),
    ];
    for (name, files) in [("lora", lora()), ("dora", dora)] {
        let kept = call(
            &webtune,
            "loadAdapter",
            &[name.into(), named_blobs(files).await],
        )
        .await
        .unwrap();
        assert!(to_json(&kept)["bytes"].as_u64().unwrap() > 0);
    }
    let listed = to_json(&call(&webtune, "adapters", &[]).await.unwrap());
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let answer = |options: serde_json::Value| {
        let webtune = webtune.clone();
        async move {
            let options = json(options);
            let noop = Function::new_no_args("");
            let out = call(
                &webtune,
                "generate",
                &["Hello".into(), options, noop.into()],
            )
            .await?;
            Ok::<_, JsValue>(to_json(&out)["text"].as_str().unwrap().to_string())
        }
    };
    let base = answer(serde_json::json!({"max_new_tokens": 8, "adapter": false}))
        .await
        .unwrap();
    let kept = answer(serde_json::json!({"max_new_tokens": 8, "adapter_name": "lora"}))
        .await
        .unwrap();
    let err = answer(serde_json::json!({"max_new_tokens": 8, "adapter_name": "none such"}))
        .await
        .unwrap_err();
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some("input"));
    call(&webtune, "importAdapter", &[named_blobs(lora()).await])
        .await
        .unwrap();
    let alone = answer(serde_json::json!({"max_new_tokens": 8}))
        .await
        .unwrap();
    assert_eq!(
        kept, alone,
        "a kept adapter answers as it does imported alone"
    );
    assert_ne!(kept, base, "the adapter changes the answer");
    call(&webtune, "removeAdapter", &["dora".into()])
        .await
        .unwrap();
    let listed = to_json(&call(&webtune, "adapters", &[]).await.unwrap());
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}
