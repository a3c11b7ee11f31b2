//! Retrieval-augmented generation: sentence embeddings ([`embed`]) and chunking ([`chunk`]) —
//! the first parts of issue #6; the hybrid index and answering with citations build on them.

pub mod chunk;
pub mod embed;

pub use chunk::{Chunk, ChunkOptions, chunk};
pub use embed::{FOLDER_FILES, Pooling, SentenceEncoder};
