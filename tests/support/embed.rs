//! all-MiniLM-L6-v2 against sentence-transformers (`fixtures/minilm/make_fixture.py`): token
//! ids with `[CLS]`/`[SEP]` and truncation, and every sentence's embedding by cosine.

use webtune::ComputeDevice;
use webtune::io::MemorySource;
use webtune::rag::{Pooling, SentenceEncoder};
use webtune::{Error, Result};

/// sentence-transformers' ids and embeddings for the test sentences.
pub const MINILM_REFERENCE_JSON: &str = include_str!("../fixtures/minilm/reference.json");

/// The folder `scripts/fetch-models.sh` unpacks under `.cache/models/`.
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";

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

/// Loads the encoder from `files` on `device` and checks it against the fixture: every
/// sentence's ids equal, every embedding's cosine ≥ 0.9999 and unit length.
pub async fn minilm_matches_sentence_transformers(
    files: Vec<MemorySource>,
    device: &ComputeDevice,
) -> Result<EmbedCheck> {
    let now = webtune::platform::seconds_now;
    let start = now();
    let reference: serde_json::Value =
        serde_json::from_str(MINILM_REFERENCE_JSON).map_err(|e| mismatch(e.to_string()))?;
    let encoder = SentenceEncoder::load(MINILM_DIR, files, device).await?;
    let loaded = now();
    if encoder.pooling != Pooling::Mean || !encoder.normalize || encoder.max_len != 256 {
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
