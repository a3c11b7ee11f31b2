//! Documents, retrieval and the advisor in the JavaScript API: open a sentence encoder, add /
//! remove documents in the session's index, search it, answer with citations, save the index
//! as bytes (the page keeps them in OPFS) and load it back, run the advisor on the open model,
//! and load documents as training data (domain adaptation).

use std::cell::Cell;

use js_sys::{Function, Promise};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::convert::{self, NamedText, from_js, js_error, notify, send_text, to_js};
use super::settings;
use super::{Halt, Webtune, busy, first_name, go_on};
use crate::advise::{AdviseConfig, Progress};
use crate::error::Result;
use crate::io::ByteSource;
use crate::models::checkpoint::read_all;
use crate::platform::BlobSource;
use crate::rag::{self, ChunkOptions, Document, Index};
use crate::session::{AdviseFiles, AskOptions, Session};

/// `advise`'s inputs (documents as `File`s or `{name, data}`; the rest as `{name, text}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdviseTexts {
    training: NamedText,
    generated: Option<NamedText>,
    questions: NamedText,
    changed_questions: Option<NamedText>,
}

async fn read_documents(files: Vec<BlobSource>) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    for file in files {
        let bytes = read_all(&file).await?;
        out.push(rag::read_document(file.name(), &bytes)?);
    }
    Ok(out)
}

/// The advisor on `session` with documents and texts as the page passes them.
async fn advise(
    session: &Session,
    documents: Vec<BlobSource>,
    changed: Vec<BlobSource>,
    texts: AdviseTexts,
    config: &AdviseConfig,
    on_event: Option<Function>,
    halt: &Cell<Halt>,
) -> Result<crate::advise::Report> {
    let documents = read_documents(documents).await?;
    let changed = read_documents(changed).await?;
    fn named(t: &NamedText) -> (&str, &str) {
        (t.name.as_str(), t.text.as_str())
    }
    let files = AdviseFiles {
        documents: &documents,
        changed_documents: &changed,
        training: named(&texts.training),
        generated: texts.generated.as_ref().map(named),
        questions: named(&texts.questions),
        changed_questions: texts.changed_questions.as_ref().map(named),
    };
    session
        .advise_files(&files, config, |progress: &Progress| {
            notify(&on_event, progress);
            go_on(halt)
        })
        .await
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
            let name = first_name(&sources, true);
            let info = state
                .open_encoder(&name, sources)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&info)
        })
    }

    /// The files of a sentence-transformers folder that `openEncoder` reads (paths inside the
    /// folder), so that a page fetches or keeps exactly those.
    #[wasm_bindgen(js_name = encoderFiles, unchecked_return_type = "string[]")]
    pub fn encoder_files(&self) -> Result<JsValue, JsValue> {
        to_js(&rag::FOLDER_FILES)
    }

    /// Adds documents (`.md`, `.txt`, `.html` files) to the index, or replaces those of the
    /// same name; unchanged ones are skipped. `onProgress({done, total, id})` hears each one
    /// indexed; [`Webtune::stop`] ends the work after the document in hand. Resolves to
    /// `[{id, title, added, removed}]`, the documents indexed.
    #[wasm_bindgen(js_name = addDocuments, unchecked_return_type = "Promise<DocumentUpdate[]>")]
    pub fn add_documents(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
        #[wasm_bindgen(
            js_name = onProgress,
            unchecked_param_type = "(progress: {done: number, total: number, id: string}) => void"
        )]
        on_progress: Option<Function>,
    ) -> Promise {
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            halt.set(Halt::None);
            let sources = convert::sources(&files)?;
            let docs = read_documents(sources).await.map_err(|e| js_error(&e))?;
            let added = state
                .add_documents(docs, ChunkOptions::default(), |added, done, total| {
                    let progress = serde_json::json!({
                        "done": done, "total": total, "id": added.id });
                    notify(&on_progress, &progress);
                    go_on(&halt)
                })
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&added)
        })
    }

    /// Reads documents (`.md`, `.txt`, `.html` files) as the training data for domain
    /// adaptation: windows of `options.encode.max_len` tokens with every token trained, whole
    /// documents held out for validation. `name` says what they are in messages and the
    /// report. Resolves to the `DataReport` (format `documents`); `train` then trains on them.
    #[wasm_bindgen(js_name = loadDocuments, unchecked_return_type = "Promise<DataReport>")]
    pub fn load_documents(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Array<File | NamedBlob>")] files: JsValue,
        #[wasm_bindgen(unchecked_param_type = "DataOptions | undefined")] options: JsValue,
    ) -> Promise {
        locked!(self.state, |state| {
            let options = settings::settings_from_js(options, "data options")?;
            let sources = convert::sources(&files)?;
            let docs = read_documents(sources).await.map_err(|e| js_error(&e))?;
            let report = state
                .load_documents(&name, &docs, &options)
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }

    /// Removes document `id` from the index. Resolves to the chunks removed.
    #[wasm_bindgen(js_name = removeDocument, unchecked_return_type = "Promise<number>")]
    pub fn remove_document(&self, id: String) -> Promise {
        locked!(self.state, |state| {
            let removed = state.remove_document(&id);
            Ok((removed as f64).into())
        })
    }

    /// The indexed documents: `[{id, title, hash, chunks}]`.
    #[wasm_bindgen(unchecked_return_type = "IndexedDocument[]")]
    pub fn documents(&self) -> Result<JsValue, JsValue> {
        let state = self.state.try_lock().ok_or_else(busy)?;
        to_js(&state.documents())
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
    /// `options.adapter` is false), calling `onText` as text arrives; [`Webtune::stop`] ends
    /// the answer where it is. Resolves to `{text, sources: [{number, chunk}], cited:
    /// [numbers]}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<RagAnswer>")]
    pub fn ask(
        &self,
        question: String,
        #[wasm_bindgen(unchecked_param_type = "AskOptions | undefined")] options: JsValue,
        #[wasm_bindgen(js_name = onText, unchecked_param_type = "(text: string) => void")]
        on_text: Option<Function>,
    ) -> Promise {
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            let options: AskOptions = from_js(options, "ask options")?;
            halt.set(Halt::None);
            let answer = state
                .ask(&question, &options, |text| {
                    send_text(&on_text, text);
                    go_on(&halt)
                })
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
            to_js(&state.set_index(index))
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
        let halt = self.stop.clone();
        locked!(self.state, |state| {
            halt.set(Halt::None);
            let documents = convert::sources(&documents)?;
            let changed = convert::sources(&changed_documents)?;
            let texts: AdviseTexts = from_js(texts, "advisor inputs")?;
            let config: AdviseConfig = from_js(config, "advisor config")?;
            let report = advise(&state, documents, changed, texts, &config, on_event, &halt)
                .await
                .map_err(|e| js_error(&e))?;
            to_js(&report)
        })
    }
}
