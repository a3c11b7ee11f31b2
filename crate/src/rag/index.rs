//! The retrieval index: a document set's chunks with their embeddings (exact cosine search as
//! one matrix product on the device) and a BM25 keyword index, fused by reciprocal rank
//! (hybrid). Documents are added, updated and deleted one at a time; an update replaces the
//! document's chunks only once all of its new chunks are embedded, so a failure part-way
//! leaves the index as it was. It persists as bytes in a versioned format (a file natively,
//! OPFS in the page).
//!
//! Format (little-endian): `WTINDEX\0`, the format version (u32), the header's length (u64),
//! the header (JSON: model, dimension, chunking, documents, chunks), then each chunk's vector
//! (f32 × dimension) in the header's order.

use std::cell::RefCell;
use std::collections::BTreeMap;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::bm25::{Bm25, top_k};
use super::chunk::{Chunk, ChunkOptions, chunk};
use super::embed::SentenceEncoder;
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::nn::VocabMatrix;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"WTINDEX\0";
/// Reciprocal rank fusion's constant (Cormack et al. 2009).
const RRF_K: f64 = 60.0;

/// How to rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Cosine similarity of embeddings.
    Dense,
    /// BM25 over terms.
    Keyword,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

/// A document in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRecord {
    /// Its id (a path, a URL).
    pub id: String,
    /// Its title.
    pub title: String,
    /// A hash of its text: an update with the same text changes nothing.
    pub hash: String,
    /// Its chunks' ids.
    pub chunk_ids: Vec<u64>,
}

/// A search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The chunk's id.
    pub id: u64,
    /// The chunk.
    pub chunk: Chunk,
    /// The ranking's score (cosine, BM25, or fused reciprocal rank).
    pub score: f64,
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Update {
    /// Chunks added.
    pub added: usize,
    /// Chunks removed.
    pub removed: usize,
}

#[derive(Serialize, Deserialize)]
struct Header {
    model: String,
    dimension: usize,
    options: ChunkOptions,
    next_id: u64,
    documents: Vec<DocumentRecord>,
    chunks: Vec<(u64, Chunk)>,
}

/// The index (see the module docs).
#[derive(Debug)]
pub struct Index {
    model: String,
    dimension: usize,
    options: ChunkOptions,
    next_id: u64,
    documents: BTreeMap<String, DocumentRecord>,
    chunks: BTreeMap<u64, Chunk>,
    vectors: BTreeMap<u64, Vec<f32>>,
    keywords: Bm25,
    /// The vectors on the device, in `chunks`' order, built at the first dense search after a
    /// change.
    matrix: RefCell<Option<(Vec<u64>, VocabMatrix)>>,
}

impl Clone for Index {
    /// A copy without the device matrix (the copy builds its own at its first dense search).
    fn clone(&self) -> Self {
        Self {
            model: self.model.clone(),
            dimension: self.dimension,
            options: self.options,
            next_id: self.next_id,
            documents: self.documents.clone(),
            chunks: self.chunks.clone(),
            vectors: self.vectors.clone(),
            keywords: self.keywords.clone(),
            matrix: RefCell::new(None),
        }
    }
}

fn hash(text: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn index_error(file: &str, problem: impl Into<String>) -> Error {
    Error::Index {
        file: file.to_string(),
        problem: problem.into(),
    }
}

impl Index {
    /// An empty index for embeddings of `model` (its name) with `dimension` values.
    pub fn new(model: &str, dimension: usize, options: ChunkOptions) -> Self {
        Self {
            model: model.to_string(),
            dimension,
            options,
            next_id: 0,
            documents: BTreeMap::new(),
            chunks: BTreeMap::new(),
            vectors: BTreeMap::new(),
            keywords: Bm25::default(),
            matrix: RefCell::new(None),
        }
    }

    /// The embedding model's name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The documents, by id.
    pub fn documents(&self) -> impl Iterator<Item = &DocumentRecord> {
        self.documents.values()
    }

    /// Chunks indexed.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// A chunk by id.
    pub fn chunk(&self, id: u64) -> Option<&Chunk> {
        self.chunks.get(&id)
    }

    /// Fails when `encoder` gives vectors of another width than the index holds (another
    /// model's index); `what` names what was being done.
    fn check_encoder(&self, what: &str, encoder: &SentenceEncoder) -> Result<()> {
        if encoder.dimension() == self.dimension {
            return Ok(());
        }
        Err(index_error(
            what,
            format!(
                "the encoder gives {} values, the index holds {} ({}): open the encoder the \
                 index was built with, or index the documents again",
                encoder.dimension(),
                self.dimension,
                self.model
            ),
        ))
    }

    /// Adds document `id` or replaces its text: chunks it, embeds every chunk with `encoder`,
    /// and only then swaps the new chunks in. The same text again changes nothing.
    pub async fn upsert(
        &mut self,
        id: &str,
        title: &str,
        text: &str,
        encoder: &SentenceEncoder,
    ) -> Result<Update> {
        self.check_encoder(id, encoder)?;
        if text.trim().is_empty() {
            return Err(Error::Input {
                problem: format!("document {id} has no text"),
            });
        }
        let digest = hash(text);
        if self.documents.get(id).is_some_and(|d| d.hash == digest) {
            return Ok(Update {
                added: 0,
                removed: 0,
            });
        }
        // Chunks the encoder can read whole: within its input length, less `[CLS]`/`[SEP]`.
        let options = ChunkOptions {
            max_tokens: self.options.max_tokens.min(encoder.max_len - 2),
            ..self.options
        };
        let count = |s: &str| encoder.count_tokens(s);
        let chunks = chunk(id, title, text, &options, &count);
        let inputs: Vec<String> = chunks.iter().map(context_text).collect();
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let vectors = encoder.embed(&refs).await?;
        // Everything is computed: now change the index.
        self.insert(id, title, &digest, chunks, vectors)
    }

    /// Puts document `id`'s chunks with their embeddings in, replacing its earlier ones
    /// (`hash` identifies the text they came from; see [`Index::upsert`], which computes
    /// them). Fails, changing nothing, when the counts or a vector's length do not fit.
    pub fn insert(
        &mut self,
        id: &str,
        title: &str,
        hash: &str,
        chunks: Vec<Chunk>,
        vectors: Vec<Vec<f32>>,
    ) -> Result<Update> {
        if chunks.len() != vectors.len() || vectors.iter().any(|v| v.len() != self.dimension) {
            return Err(index_error(
                id,
                format!(
                    "{} chunks came with {} vectors; each needs {} values",
                    chunks.len(),
                    vectors.len(),
                    self.dimension
                ),
            ));
        }
        let removed = self.remove(id);
        let mut ids = Vec::with_capacity(chunks.len());
        for (c, v) in chunks.into_iter().zip(vectors) {
            let chunk_id = self.next_id;
            self.next_id += 1;
            self.keywords.add(chunk_id, &context_text(&c));
            self.chunks.insert(chunk_id, c);
            self.vectors.insert(chunk_id, v);
            ids.push(chunk_id);
        }
        let added = ids.len();
        self.documents.insert(
            id.to_string(),
            DocumentRecord {
                id: id.to_string(),
                title: title.to_string(),
                hash: hash.to_string(),
                chunk_ids: ids,
            },
        );
        *self.matrix.borrow_mut() = None;
        Ok(Update { added, removed })
    }

    /// Deletes document `id`; returns the chunks removed (0 when it was not there).
    pub fn remove(&mut self, id: &str) -> usize {
        let Some(doc) = self.documents.remove(id) else {
            return 0;
        };
        for chunk_id in &doc.chunk_ids {
            self.chunks.remove(chunk_id);
            self.vectors.remove(chunk_id);
            self.keywords.remove(*chunk_id);
        }
        *self.matrix.borrow_mut() = None;
        doc.chunk_ids.len()
    }

    /// The `k` best chunks for `query`, best first.
    pub async fn search(
        &self,
        query: &str,
        k: usize,
        mode: SearchMode,
        encoder: &SentenceEncoder,
    ) -> Result<Vec<Hit>> {
        let pool = k.max(50);
        let ranked = match mode {
            SearchMode::Keyword => self.keywords.search(query, k),
            SearchMode::Dense => self.dense(query, k, encoder).await?,
            SearchMode::Hybrid => {
                let dense = self.dense(query, pool, encoder).await?;
                let keyword = self.keywords.search(query, pool);
                let mut fused: BTreeMap<u64, f64> = BTreeMap::new();
                for list in [&dense, &keyword] {
                    for (rank, (id, _)) in list.iter().enumerate() {
                        *fused.entry(*id).or_default() += 1.0 / (RRF_K + rank as f64 + 1.0);
                    }
                }
                top_k(fused.into_iter().collect(), k)
            }
        };
        Ok(ranked
            .into_iter()
            .filter_map(|(id, score)| {
                self.chunks.get(&id).map(|c| Hit {
                    id,
                    chunk: c.clone(),
                    score,
                })
            })
            .collect())
    }

    /// Cosine search: the query's embedding times every chunk's, on the device.
    async fn dense(
        &self,
        query: &str,
        k: usize,
        encoder: &SentenceEncoder,
    ) -> Result<Vec<(u64, f64)>> {
        if self.chunks.is_empty() {
            return Ok(Vec::new());
        }
        self.check_encoder("the index", encoder)?;
        let q = encoder.embed(&[query]).await?.remove(0);
        let device = encoder.device();
        // The borrow ends before the await: another search may run meanwhile (it can only
        // build the same matrix: changes need `&mut self`).
        let scores = {
            let mut cache = self.matrix.borrow_mut();
            let (_, matrix) = cache.get_or_insert_with(|| {
                let ids: Vec<u64> = self.vectors.keys().copied().collect();
                let values: Vec<f32> = self.vectors.values().flatten().copied().collect();
                let matrix = VocabMatrix::new(
                    values,
                    [ids.len(), self.dimension],
                    encoder.max_tensor_bytes(),
                    device,
                );
                (ids, matrix)
            });
            let q = Tensor::<1>::from_floats(q.as_slice(), device).reshape([1, 1, self.dimension]);
            matrix.project(q)
        };
        let scores = read_f32(scores, "search scores").await?;
        let cache = self.matrix.borrow();
        let Some((ids, _)) = cache.as_ref() else {
            return Ok(Vec::new());
        };
        Ok(top_k(
            ids.iter()
                .zip(scores)
                .map(|(&id, s)| (id, f64::from(s)))
                .collect(),
            k,
        ))
    }

    /// The index as bytes (see the module docs for the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            model: self.model.clone(),
            dimension: self.dimension,
            options: self.options,
            next_id: self.next_id,
            documents: self.documents.values().cloned().collect(),
            chunks: self.chunks.iter().map(|(id, c)| (*id, c.clone())).collect(),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(20 + json.len() + self.chunks.len() * self.dimension * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for id in self.chunks.keys() {
            for v in &self.vectors[id] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads an index written by [`Index::to_bytes`]; `file` names it in errors.
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(index_error(file, "is not a webtune index"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION {
            return Err(index_error(
                file,
                format!(
                    "was written in index format {version}; this webtune reads format \
                     {FORMAT_VERSION}: index the documents again"
                ),
            ));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[12..20]);
        let header_len = u64::from_le_bytes(len);
        let header_end = 20u64
            .checked_add(header_len)
            .filter(|&e| e <= bytes.len() as u64)
            .ok_or_else(|| index_error(file, "is truncated (its header is cut off)"))?
            as usize;
        let header: Header = serde_json::from_slice(&bytes[20..header_end])
            .map_err(|err| index_error(file, format!("has a damaged header: {err}")))?;
        let width = header
            .dimension
            .checked_mul(4)
            .filter(|&w| w > 0 || header.chunks.is_empty())
            .ok_or_else(|| {
                index_error(
                    file,
                    format!(
                        "has vectors of {} values, which no encoder gives",
                        header.dimension
                    ),
                )
            })?;
        let expected = (header.chunks.len() as u64).saturating_mul(width as u64);
        if (bytes.len() - header_end) as u64 != expected {
            return Err(index_error(
                file,
                format!(
                    "holds {} bytes of vectors where {} chunks of {} values need {expected}",
                    bytes.len() - header_end,
                    header.chunks.len(),
                    header.dimension
                ),
            ));
        }
        let mut index = Index::new(&header.model, header.dimension, header.options);
        index.next_id = header.next_id;
        for (i, (id, c)) in header.chunks.into_iter().enumerate() {
            if index.chunks.contains_key(&id) {
                return Err(index_error(file, format!("lists chunk {id} twice")));
            }
            let at = header_end + i * width;
            let vector = bytes[at..at + width]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            index.keywords.add(id, &context_text(&c));
            index.chunks.insert(id, c);
            index.vectors.insert(id, vector);
        }
        for doc in header.documents {
            if let Some(missing) = doc.chunk_ids.iter().find(|c| !index.chunks.contains_key(c)) {
                return Err(index_error(
                    file,
                    format!(
                        "document {} lists chunk {missing}, which is missing",
                        doc.id
                    ),
                ));
            }
            index.documents.insert(doc.id.clone(), doc);
        }
        Ok(index)
    }
}

/// What a chunk is embedded and keyword-indexed as: its title and heading give it context.
fn context_text(c: &Chunk) -> String {
    match c.heading.is_empty() {
        true => format!("{}\n{}", c.title, c.text),
        false => format!("{} — {}\n{}", c.title, c.heading, c.text),
    }
}
