//! Retrieval-augmented generation: documents in (read by [`crate::data::read_document`]: text, Markdown, HTML), cut into
//! chunks ([`chunk`]), embedded ([`embed`]: BERT-family sentence encoders) and indexed
//! ([`index`]: exact cosine on the device + BM25 ([`bm25`]), fused by reciprocal rank),
//! persisted in a versioned format; answers cite the chunks they use ([`answer`]). The
//! advisor builds on it.

pub mod answer;
pub mod bm25;
pub mod chunk;
pub mod embed;
pub mod index;

pub use crate::data::{Document, read_document};
pub use answer::{Answer, Source, answer};
pub use chunk::{Chunk, ChunkOptions, chunk};
pub use embed::{FOLDER_FILES, Pooling, SentenceEncoder};
pub use index::{FORMAT_VERSION, Hit, Index, SearchMode, Update};
