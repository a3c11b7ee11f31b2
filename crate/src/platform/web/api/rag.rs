//! Retrieval and the advisor in the JavaScript API: open a sentence encoder, add / remove
//! documents in the session's index, search it, answer with citations, save the index as bytes
//! (the page keeps them in OPFS) and load it back, and run the advisor on the open model.

use burn::module::Module;
use js_sys::{Function, Promise};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::convert::{self, from_js, js_error, notify, send_text, to_js};
use super::session::{NamedText, State};
use super::{Webtune, busy};
use crate::advise::{self, AdviseConfig, Engines, Inputs, Progress, read_questions};
use crate::data::{DataOptions, read_dataset};
use crate::error::{Error, Result};
use crate::generate::{Flow, GenerateConfig};
use crate::io::ByteSource;
use crate::lora;
use crate::models::checkpoint::read_all;
use crate::platform::BlobSource;
use crate::rag::{self, ChunkOptions, Document, Hit, Index, SearchMode, SentenceEncoder};

/// The session's encoder and index.
#[derive(Default)]
pub struct Retrieval {
    encoder: Option<(String, SentenceEncoder)>,
    index: Option<Index>,
}

/// What `openEncoder` reports.
#[derive(Debug, Serialize)]
pub struct EncoderInfo {
    name: String,
    dimension: usize,
    pooling: rag::Pooling,
    normalize: bool,
    max_len: usize,
}

/// What `addDocuments` reports for each document.
#[derive(Debug, Serialize)]
pub struct Added {
    id: String,
    title: String,
    added: usize,
    removed: usize,
}

/// `search`'s and `ask`'s options.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AskOptions {
    /// Chunks to retrieve.
    k: usize,
    /// Ranking (`dense`, `keyword`, `hybrid`).
    mode: SearchMode,
    /// Tokens the answer may have.
    max_new_tokens: usize,
    /// Answer with the adapter (default) or with the base model.
    adapter: Option<bool>,
}

impl Default for AskOptions {
    fn default() -> Self {
        Self {
            k: 4,
            mode: SearchMode::Hybrid,
            max_new_tokens: 128,
            adapter: None,
        }
    }
}

/// `advise`'s inputs (documents as `File`s or `{name, data}`; the rest as `{name, text}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdviseTexts {
    training: NamedText,
    questions: NamedText,
    changed_questions: Option<NamedText>,
}

fn no_encoder() -> Error {
    Error::Input {
        problem: "no sentence encoder is open: call openEncoder first".into(),
    }
}

async fn read_documents(files: Vec<BlobSource>) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    for file in files {
        let bytes = read_all(&file).await?;
        out.push(rag::read_document(file.name(), &bytes)?);
    }
    Ok(out)
}

impl State {
    fn encoder(&self) -> Result<&SentenceEncoder> {
        self.retrieval
            .encoder
            .as_ref()
            .map(|(_, e)| e)
            .ok_or_else(no_encoder)
    }

    fn index(&self) -> Result<&Index> {
        self.retrieval.index.as_ref().ok_or_else(|| Error::Input {
            problem: "the index is empty: add documents first".into(),
        })
    }

    async fn open_encoder(&mut self, files: Vec<BlobSource>) -> Result<EncoderInfo> {
        let name = files
            .first()
            .map(|f| f.name().split('/').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        // In f32 whatever the model's precision: the index's vectors do not depend on it.
        let device = self
            .device
            .with_precision(crate::device::Precision::F32)
            .await?;
        let encoder = SentenceEncoder::load(&name, files, &device).await?;
        let info = EncoderInfo {
            name: name.clone(),
            dimension: encoder.dimension(),
            pooling: encoder.pooling,
            normalize: encoder.normalize,
            max_len: encoder.max_len,
        };
        self.retrieval.encoder = Some((name, encoder));
        Ok(info)
    }

    async fn add_documents(&mut self, files: Vec<BlobSource>) -> Result<Vec<Added>> {
        let docs = read_documents(files).await?;
        let (name, encoder) = self.retrieval.encoder.as_ref().ok_or_else(no_encoder)?;
        let index = self
            .retrieval
            .index
            .get_or_insert_with(|| Index::new(name, encoder.dimension(), ChunkOptions::default()));
        let mut out = Vec::new();
        for doc in docs {
            let update = index
                .upsert(&doc.id, &doc.title, &doc.text, encoder)
                .await?;
            out.push(Added {
                id: doc.id,
                title: doc.title,
                added: update.added,
                removed: update.removed,
            });
        }
        Ok(out)
    }

    async fn search(&self, question: &str, options: &AskOptions) -> Result<Vec<Hit>> {
        self.index()?
            .search(question, options.k, options.mode, self.encoder()?)
            .await
    }

    async fn ask(
        &self,
        question: &str,
        options: &AskOptions,
        on_text: Option<Function>,
    ) -> Result<rag::Answer> {
        let hits = self.search(question, options).await?;
        let (loaded, tokenizer) = self.text_model("answer")?;
        let mut model = loaded.model.valid();
        if options.adapter == Some(false) {
            lora::detach(&mut model);
        }
        let config = GenerateConfig {
            max_new_tokens: options.max_new_tokens,
            stop_ids: loaded.stop_ids.clone(),
            ..Default::default()
        };
        rag::answer(
            &model,
            tokenizer,
            self.device.device(),
            question,
            &hits,
            &config,
            |text| {
                send_text(&on_text, text);
                Flow::Continue
            },
        )
        .await
    }

    async fn advise(
        &self,
        documents: Vec<BlobSource>,
        changed: Vec<BlobSource>,
        texts: AdviseTexts,
        config: &AdviseConfig,
        on_event: Option<Function>,
    ) -> Result<advise::Report> {
        let (loaded, tokenizer) = self.text_model("answer")?;
        let encoder = self.encoder()?;
        let documents = read_documents(documents).await?;
        let changed = read_documents(changed).await?;
        let training = read_dataset(
            &texts.training.name,
            &texts.training.text,
            &DataOptions::default(),
        )?;
        let training: Vec<_> = training.examples.into_iter().map(|(_, e)| e).collect();
        let questions = read_questions(&texts.questions.name, &texts.questions.text)?;
        let changed_questions = match &texts.changed_questions {
            Some(t) => read_questions(&t.name, &t.text)?,
            None => Vec::new(),
        };
        // The advisor trains its own adapters on a copy of the base (weights are shared), so
        // the session's model and adapter are left as they are.
        let mut model = loaded.model.clone().no_grad();
        lora::detach(&mut model);
        let train_device = self.device.autodiff();
        let mut engines = Engines {
            model: &mut model,
            tokenizer,
            stop_ids: &loaded.stop_ids,
            device: self.device.device(),
            train_device: &train_device,
            // As loaded: f16 where the model is, 4-bit blocks where quantized.
            model_bytes: crate::train::PlanModel::of(loaded).weight_bytes as u64,
            encoder,
        };
        let inputs = Inputs {
            documents: &documents,
            changed_documents: &changed,
            training: &training,
            questions: &questions,
            changed_questions: &changed_questions,
        };
        advise::advise(&mut engines, &inputs, config, |progress: &Progress| {
            notify(&on_event, progress);
            Flow::Continue
        })
        .await
    }
}

#[wasm_bindgen]
impl Webtune {
    /// Opens a sentence-transformers encoder from its folder's files (`config.json`,
    /// `model.safetensors`, `tokenizer.json`, `modules.json`, `1_Pooling/config.json`, …;
    /// `File`s or `{name, data}`) for retrieval. Resolves to `{name, dimension, pooling,
    /// normalize, max_len}`.
    #[wasm_bindgen(js_name = openEncoder, unchecked_return_type = "Promise<EncoderInfo>")]
    pub fn open_encoder(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let sources = convert::sources(&files)?;
            let info = state
                .open_encoder(sources)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&info)
        })
    }

    /// Adds documents (`.md`, `.txt`, `.html` files) to the index, or replaces those of the
    /// same name; unchanged ones are skipped. Resolves to `[{id, title, added, removed}]`.
    #[wasm_bindgen(js_name = addDocuments, unchecked_return_type = "Promise<DocumentUpdate[]>")]
    pub fn add_documents(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let sources = convert::sources(&files)?;
            let added = state
                .add_documents(sources)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&added)
        })
    }

    /// Removes document `id` from the index. Resolves to the chunks removed.
    #[wasm_bindgen(js_name = removeDocument, unchecked_return_type = "Promise<number>")]
    pub fn remove_document(&self, id: String) -> Promise {
        locked!(self.state, |state| {
            let removed = state.retrieval.index.as_mut().map_or(0, |i| i.remove(&id));
            Ok((removed as f64).into())
        })
    }

    /// The indexed documents: `[{id, title, hash, chunks}]`.
    #[wasm_bindgen(unchecked_return_type = "IndexedDocument[]")]
    pub fn documents(&self) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        let docs: Vec<_> = state
            .retrieval
            .index
            .iter()
            .flat_map(|i| i.documents())
            .collect();
        to_js(&docs)
    }

    /// The best chunks for `question` (`options`: `{k, mode}`). Resolves to `[{id, chunk,
    /// score}]`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Hit[]>")]
    pub fn search(
        &self,
        question: String,
        #[wasm_bindgen(unchecked_param_type = "AskOptions | undefined")] options: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let options: AskOptions = from_js(options, "search options")?;
            let hits = state
                .search(&question, &options)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&hits)
        })
    }

    /// Answers `question` from the index's best chunks with the open model (adapter on unless
    /// `options.adapter` is false), calling `onText` as text arrives. Resolves to `{text,
    /// sources: [{number, chunk}], cited: [numbers]}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<RagAnswer>")]
    pub fn ask(
        &self,
        question: String,
        #[wasm_bindgen(unchecked_param_type = "AskOptions | undefined")] options: JsValue,
        #[wasm_bindgen(js_name = onText, unchecked_param_type = "(text: string) => void")]
        on_text: Option<Function>,
    ) -> Promise {
        locked!(self.state, |state| {
            let options: AskOptions = from_js(options, "ask options")?;
            let answer = state
                .ask(&question, &options, on_text)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&answer)
        })
    }

    /// The index as bytes (its versioned format), e.g. to keep in OPFS.
    #[wasm_bindgen(js_name = exportIndex, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_index(&self) -> Promise {
        locked!(self.state, |state| {
            let bytes = state.index().map_err(|e| js_error(&e))?.to_bytes();
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Replaces the index with one saved by `exportIndex` (a `File` or `{name, data}`);
    /// fails with kind `index` for another version or damaged bytes. Resolves to its
    /// documents.
    #[wasm_bindgen(js_name = importIndex, unchecked_return_type = "Promise<IndexedDocument[]>")]
    pub fn import_index(
        &self,
        #[wasm_bindgen(unchecked_param_type = "File | NamedBlob")] file: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let array = js_sys::Array::of1(&file);
            let source = convert::sources(&array)?
                .pop()
                .ok_or_else(|| convert::error("input", "no index file given"))?;
            let bytes = read_all(&source).await.map_err(|e| js_error(&e))?;
            let index = Index::from_bytes(source.name(), &bytes).map_err(|e| js_error(&e))?;
            let docs: Vec<_> = index.documents().cloned().collect();
            state.retrieval.index = Some(index);
            to_js(&docs)
        })
    }

    /// The advisor (see `webtune advise`) on the open model and encoder: `documents` and
    /// `changedDocuments` as files, `texts` = `{training, questions, changedQuestions}` as
    /// `{name, text}`, `config` an `AdviseConfig`. `onEvent` hears its progress. The
    /// session's own model and adapter are left as they were. Resolves to the report.
    #[wasm_bindgen(unchecked_return_type = "Promise<AdviseReport>")]
    pub fn advise(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] documents: JsValue,
        #[wasm_bindgen(
            js_name = changedDocuments,
            unchecked_param_type = "Array<File | NamedBlob>"
        )]
        changed_documents: JsValue,
        #[wasm_bindgen(unchecked_param_type = "AdviseTexts")] texts: JsValue,
        #[wasm_bindgen(unchecked_param_type = "AdviseConfig | undefined")] config: JsValue,
        #[wasm_bindgen(js_name = onEvent, unchecked_param_type = "(event: AdviseEvent) => void")]
        on_event: Option<Function>,
    ) -> Promise {
        locked!(self.state, |state| {
            let documents = convert::sources(&documents)?;
            let changed = convert::sources(&changed_documents)?;
            let texts: AdviseTexts = from_js(texts, "advisor inputs")?;
            let config: AdviseConfig = from_js(config, "advisor config")?;
            let report = state
                .advise(documents, changed, texts, &config, on_event)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }
}
