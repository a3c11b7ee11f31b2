//! Retrieval on a session: the sentence encoder, the index of documents, search, and answers
//! that cite their sources.

use burn::module::Module;
use serde::{Deserialize, Serialize};

use super::Session;
use crate::device::Precision;
use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::generate::GenerateConfig;
use crate::io::ByteSource;
use crate::lora;
use crate::rag::{
    self, ChunkOptions, Document, Hit, Index, SearchMode, SentenceEncoder, index::DocumentRecord,
};

/// The session's encoder and index.
#[derive(Default)]
pub(super) struct Retrieval {
    encoder: Option<(String, SentenceEncoder)>,
    index: Option<Index>,
}

/// An open sentence encoder.
#[derive(Debug, Clone, Serialize)]
pub struct EncoderInfo {
    /// Its folder's name.
    pub name: String,
    /// Vector size.
    pub dimension: usize,
    /// How token vectors become one.
    pub pooling: rag::Pooling,
    /// Whether vectors are L2-normalised.
    pub normalize: bool,
    /// Longest input in tokens.
    pub max_len: usize,
}

/// What adding one document did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// The document's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Chunks added.
    pub added: usize,
    /// Chunks removed (an older version's).
    pub removed: usize,
}

/// Options of search and of answers from the index.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AskOptions {
    /// Chunks to retrieve.
    pub k: usize,
    /// Ranking (`dense`, `keyword`, `hybrid`).
    pub mode: SearchMode,
    /// Tokens the answer may have.
    pub max_new_tokens: usize,
    /// Answer with the adapter (default) or with the base model.
    pub adapter: Option<bool>,
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

fn no_encoder() -> Error {
    Error::Input {
        problem: "no sentence encoder is open: open one first".into(),
    }
}

impl Session {
    /// The open encoder.
    pub fn encoder(&self) -> Result<&SentenceEncoder> {
        self.retrieval
            .encoder
            .as_ref()
            .map(|(_, e)| e)
            .ok_or_else(no_encoder)
    }

    /// The index (an error when nothing was indexed yet).
    pub fn index(&self) -> Result<&Index> {
        self.retrieval.index.as_ref().ok_or_else(|| Error::Input {
            problem: "the index is empty: add documents first".into(),
        })
    }

    /// Opens a sentence-transformers encoder (a folder's files) called `name`. It computes in
    /// f32 whatever the model's precision: index vectors must not depend on it.
    pub async fn open_encoder<S: ByteSource>(
        &mut self,
        name: &str,
        files: Vec<S>,
    ) -> Result<EncoderInfo> {
        let device = self.device.with_precision(Precision::F32).await?;
        let encoder = SentenceEncoder::load(name, files, &device).await?;
        let info = EncoderInfo {
            name: name.to_string(),
            dimension: encoder.dimension(),
            pooling: encoder.pooling,
            normalize: encoder.normalize,
            max_len: encoder.max_len,
        };
        self.retrieval.encoder = Some((name.to_string(), encoder));
        Ok(info)
    }

    /// Adds `documents` to the index (made with `chunking` if there is none yet), replacing
    /// those of the same id; unchanged ones are skipped. `on_added(added, done, of)` hears
    /// each one (the `done`th of `of`); [`Flow::Stop`] ends the work there, each document
    /// either indexed whole or not at all, and the result lists those indexed.
    pub async fn add_documents(
        &mut self,
        documents: Vec<Document>,
        chunking: ChunkOptions,
        mut on_added: impl FnMut(&Added, usize, usize) -> Flow,
    ) -> Result<Vec<Added>> {
        let (name, encoder) = self.retrieval.encoder.as_ref().ok_or_else(no_encoder)?;
        let index = self
            .retrieval
            .index
            .get_or_insert_with(|| Index::new(name, encoder.dimension(), chunking));
        let mut out = Vec::new();
        let of = documents.len();
        for doc in documents {
            let update = index
                .upsert(&doc.id, &doc.title, &doc.text, encoder)
                .await?;
            let added = Added {
                id: doc.id,
                title: doc.title,
                added: update.added,
                removed: update.removed,
            };
            let flow = on_added(&added, out.len() + 1, of);
            out.push(added);
            if flow == Flow::Stop {
                break;
            }
        }
        Ok(out)
    }

    /// Removes document `id`; returns the chunks removed.
    pub fn remove_document(&mut self, id: &str) -> usize {
        self.retrieval.index.as_mut().map_or(0, |i| i.remove(id))
    }

    /// The indexed documents.
    pub fn documents(&self) -> Vec<DocumentRecord> {
        self.retrieval
            .index
            .iter()
            .flat_map(|i| i.documents())
            .cloned()
            .collect()
    }

    /// Replaces the index with `index` (read from its bytes, say); returns its documents.
    pub fn set_index(&mut self, index: Index) -> Vec<DocumentRecord> {
        self.retrieval.index = Some(index);
        self.documents()
    }

    /// The best chunks for `question`.
    pub async fn search(&self, question: &str, options: &AskOptions) -> Result<Vec<Hit>> {
        self.index()?
            .search(question, options.k, options.mode, self.encoder()?)
            .await
    }

    /// Answers `question` from the index's best chunks with the open model (adapter on unless
    /// `options.adapter` is false), streaming text to `on_text`; the answer lists its sources
    /// and which of them it cites.
    pub async fn ask(
        &self,
        question: &str,
        options: &AskOptions,
        on_text: impl FnMut(&str) -> Flow,
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
            on_text,
        )
        .await
    }
}
