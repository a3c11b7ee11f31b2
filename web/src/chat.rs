//! The default model and a prompt box: the model is fetched from the page's own origin, loaded
//! onto WebGPU with the library's loader, and answers the prompt with streamed text.
//!
//! `#model` goes `pending` → `ready` (or `failed`); `#answer` goes `idle` → `generating` →
//! `done` (or `failed`).

use std::rc::Rc;

use webtune::ComputeDevice;
use webtune::generate::{Flow, GenerateConfig, generate_text};
use webtune::models::{Loaded, load_checkpoint};
use webtune::platform::BlobSource;
use webtune::tokenizer::Message;

use crate::dom::{append, enable, on_click, show, value};

/// The model the page loads with no manual step (copied into `dist/models/` by Trunk).
pub const DEFAULT_MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Loads the default model, then wires the prompt box to it.
pub async fn run(gpu: ComputeDevice) {
    show("model", "pending", &format!("Loading {DEFAULT_MODEL}…"));
    let start = js_sys::Date::now();
    let loaded = match load(&gpu).await {
        Ok(loaded) => loaded,
        Err(err) => {
            show(
                "model",
                "failed",
                &format!("The model could not be loaded: {err}"),
            );
            return;
        }
    };
    show(
        "model",
        "ready",
        &format!(
            "{} ({}, {:.1} M parameters) loaded on WebGPU in {:.1} s.",
            DEFAULT_MODEL.rsplit('/').next().unwrap_or(DEFAULT_MODEL),
            loaded.architecture(),
            loaded.model.parameter_count() as f64 / 1e6,
            (js_sys::Date::now() - start) / 1000.0
        ),
    );
    let loaded = Rc::new(loaded);
    let gpu = Rc::new(gpu);
    enable("generate", true);
    on_click("generate", move || {
        let (loaded, gpu) = (loaded.clone(), gpu.clone());
        wasm_bindgen_futures::spawn_local(async move { answer(&loaded, &gpu).await });
    });
}

async fn load(gpu: &ComputeDevice) -> webtune::Result<Loaded> {
    let source = BlobSource::fetch(DEFAULT_MODEL).await?;
    let name = webtune::io::ByteSource::name(&source).to_string();
    load_checkpoint(&name, vec![source], gpu).await
}

/// Answers the prompt box's text with the model's chat template, streaming into `#answer`.
async fn answer(loaded: &Loaded, gpu: &ComputeDevice) {
    let Some(tokenizer) = &loaded.tokenizer else {
        show("answer", "failed", "This model has no tokenizer.");
        return;
    };
    let prompt = match tokenizer.encode_chat(&[Message::new("user", &value("prompt"))]) {
        Ok(ids) => ids,
        Err(err) => {
            show("answer", "failed", &err.to_string());
            return;
        }
    };
    enable("generate", false);
    show("answer", "generating", "");
    let config = GenerateConfig {
        max_new_tokens: 64,
        stop_ids: loaded.stop_ids.clone(),
        ..GenerateConfig::default()
    };
    let start = js_sys::Date::now();
    let result = generate_text(
        &loaded.model,
        tokenizer,
        gpu.device(),
        &prompt,
        &config,
        |text| {
            append("answer", text);
            Flow::Continue
        },
    )
    .await;
    match result {
        Ok(out) => {
            let seconds = (js_sys::Date::now() - start) / 1000.0;
            show("answer", "done", &out.text);
            show(
                "answer-stats",
                "done",
                &format!(
                    "{} tokens in {seconds:.1} s ({:.1} tokens/s), stopped: {}",
                    out.ids.len(),
                    out.ids.len() as f64 / seconds.max(1e-3),
                    out.stop
                ),
            );
        }
        Err(err) => show("answer", "failed", &format!("Generation failed: {err}")),
    }
    enable("generate", true);
}
