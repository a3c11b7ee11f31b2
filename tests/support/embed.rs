//! Sentence encoders against sentence-transformers: all-MiniLM-L6-v2
//! (`fixtures/minilm/make_fixture.py`, mean pooling) and a tiny random BERT
//! (`fixtures/tiny_bert/make_fixture.py`, CLS pooling): token ids with `[CLS]`/`[SEP]` and
//! truncation, and every sentence's embedding by cosine.

use webtune::ComputeDevice;
use webtune::io::MemorySource;
use webtune::rag::{Pooling, SentenceEncoder};
use webtune::{Error, Result};

/// sentence-transformers' ids and embeddings for the test sentences.
pub const MINILM_REFERENCE_JSON: &str = include_str!("../fixtures/minilm/reference.json");

/// The folder `scripts/fetch-models.sh` unpacks under `.cache/models/`.
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";

/// An encoder with sentence-transformers' outputs for its test sentences.
#[derive(Debug, Clone, Copy)]
pub struct EncoderFixture {
    /// What errors call it.
    pub name: &'static str,
    /// `reference.json`: sentences, ids and embeddings.
    pub reference_json: &'static str,
    /// The pooling its folder declares.
    pub pooling: Pooling,
    /// Its `max_seq_length`.
    pub max_len: usize,
}

/// all-MiniLM-L6-v2 (its files come from `scripts/fetch-models.sh`).
pub const MINILM: EncoderFixture = EncoderFixture {
    name: MINILM_DIR,
    reference_json: MINILM_REFERENCE_JSON,
    pooling: Pooling::Mean,
    max_len: 256,
};

/// The tiny random BERT of `fixtures/tiny_bert/` (see [`tiny_bert_files`]).
pub const TINY_BERT: EncoderFixture = EncoderFixture {
    name: "tiny_bert",
    reference_json: include_str!("../fixtures/tiny_bert/reference.json"),
    pooling: Pooling::Cls,
    max_len: 32,
};

/// The tiny BERT's sentence-transformers folder, as in-memory files.
pub fn tiny_bert_files() -> Vec<MemorySource> {
    macro_rules! files {
        ($($path:literal),*) => {
            vec![$(MemorySource::new($path, include_bytes!(concat!("../fixtures/tiny_bert/model/", $path)).to_vec())),*]
        };
    }
    files!(
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "1_Pooling/config.json",
        "sentence_bert_config.json"
    )
}

fn mismatch(problem: String) -> Error {
    Error::Input { problem }
}

/// What [`minilm_matches_sentence_transformers`] measured.
#[derive(Debug, Clone, Copy)]
pub struct EmbedCheck {
    /// The lowest cosine with sentence-transformers' embedding.
    pub worst_cosine: f64,
    /// Seconds to load the encoder from the files' bytes.
    pub load_seconds: f64,
    /// Seconds to embed the test sentences.
    pub embed_seconds: f64,
}

/// all-MiniLM-L6-v2 from `files` against its fixture (see [`encoder_matches_sentence_transformers`]).
pub async fn minilm_matches_sentence_transformers(
    files: Vec<MemorySource>,
    device: &ComputeDevice,
) -> Result<EmbedCheck> {
    encoder_matches_sentence_transformers(&MINILM, files, device).await
}

/// Loads the encoder from `files` on `device` and checks it against `fixture`: the folder's
/// pooling and length read right, every sentence's ids equal, every embedding's cosine ≥
/// 0.9999 and unit length.
pub async fn encoder_matches_sentence_transformers(
    fixture: &EncoderFixture,
    files: Vec<MemorySource>,
    device: &ComputeDevice,
) -> Result<EmbedCheck> {
    let now = webtune::platform::seconds_now;
    let start = now();
    let reference: serde_json::Value =
        serde_json::from_str(fixture.reference_json).map_err(|e| mismatch(e.to_string()))?;
    let encoder = SentenceEncoder::load(fixture.name, files, device).await?;
    let loaded = now();
    if encoder.pooling != fixture.pooling
        || !encoder.normalize
        || encoder.max_len != fixture.max_len
    {
        return Err(mismatch(format!(
            "read the folder as {:?} pooling, normalize {}, max_len {}",
            encoder.pooling, encoder.normalize, encoder.max_len
        )));
    }
    let sentences: Vec<&str> = reference["sentences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect();
    for (i, text) in sentences.iter().enumerate() {
        let want: Vec<u32> = serde_json::from_value(reference["ids"][i].clone())
            .map_err(|e| mismatch(e.to_string()))?;
        let got = encoder.tokenize(text)?;
        if got != want {
            return Err(mismatch(format!(
                "ids of {text:?}: {got:?}, sentence-transformers {want:?}"
            )));
        }
    }
    let embed_start = now();
    let vectors = encoder.embed(&sentences).await?;
    let embed_seconds = now() - embed_start;
    if vectors.len() != sentences.len() {
        return Err(mismatch(format!(
            "{} vectors for {} sentences",
            vectors.len(),
            sentences.len()
        )));
    }
    let mut worst = 1.0f64;
    for (i, got) in vectors.iter().enumerate() {
        let want: Vec<f64> = serde_json::from_value(reference["embeddings"][i].clone())
            .map_err(|e| mismatch(e.to_string()))?;
        let dot: f64 = got.iter().zip(&want).map(|(a, b)| *a as f64 * b).sum();
        let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
        let (ng, nw) = (
            norm(&mut got.iter().map(|&x| x as f64)),
            norm(&mut want.iter().copied()),
        );
        let cosine = dot / (ng * nw);
        if got.len() != want.len() || cosine < 0.9999 || (ng - 1.0).abs() > 1e-4 {
            return Err(mismatch(format!(
                "embedding of {:?}: cosine {cosine:.6} with sentence-transformers, norm {ng:.6}",
                sentences[i]
            )));
        }
        worst = worst.min(cosine);
    }
    Ok(EmbedCheck {
        worst_cosine: worst,
        load_seconds: loaded - start,
        embed_seconds,
    })
}
