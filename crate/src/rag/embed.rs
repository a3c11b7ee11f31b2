//! Sentence embeddings from a sentence-transformers folder (all-MiniLM-L6-v2, bge, e5): a
//! BERT encoder ([`crate::models::bert`]), its tokenizer with `[CLS]`/`[SEP]` and truncation
//! to the folder's `max_seq_length`, pooling as `1_Pooling/config.json` says (mean over real
//! tokens, or the `[CLS]` token), and L2 normalisation when `modules.json` lists `Normalize`.
//! Texts are batched on the device, sorted by length, each batch closed before padding passes
//! a quarter of its positions, and come back in the caller's order.

use burn::tensor::{Int, Tensor, TensorData};
use serde_json::Value;

use crate::device::{ComputeDevice, read_f32};
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::models::bert::{self, Bert, BertConfig};
use crate::models::checkpoint::{base_name, read_all};
use crate::models::weights::{Placement, SafetensorsWeights};
use crate::tokenizer::Tokenizer;

/// The files of a sentence-transformers folder that [`SentenceEncoder::load`] reads (its
/// weights may also come as several `*.safetensors` shards).
pub const FOLDER_FILES: [&str; 7] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];

/// How token states become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The mean over real (not padding) tokens.
    Mean,
    /// The first token's state (`[CLS]`).
    Cls,
}

/// A sentence encoder on a device.
#[derive(Debug)]
pub struct SentenceEncoder {
    model: Bert,
    tokenizer: Tokenizer,
    /// How token states are pooled.
    pub pooling: Pooling,
    /// Whether vectors are L2-normalised.
    pub normalize: bool,
    /// Longest input in tokens (with `[CLS]` and `[SEP]`); longer texts are truncated.
    pub max_len: usize,
    pad_id: u32,
    placement: Placement,
}

fn config_error(file: &str, problem: impl Into<String>) -> Error {
    Error::Checkpoint {
        file: file.to_string(),
        problem: problem.into(),
    }
}

async fn json<S: ByteSource>(source: &S) -> Result<Value> {
    serde_json::from_slice(&read_all(source).await?)
        .map_err(|err| config_error(source.name(), format!("is not valid JSON: {err}")))
}

impl SentenceEncoder {
    /// Loads a sentence-transformers folder's files (`config.json`, `*.safetensors`,
    /// `tokenizer.json`, and when present `modules.json`, `1_Pooling/config.json`,
    /// `sentence_bert_config.json`) onto `device`. `name` is what errors call the folder.
    pub async fn load<S: ByteSource>(
        name: &str,
        files: Vec<S>,
        device: &ComputeDevice,
    ) -> Result<Self> {
        let is_pooling = |f: &S| f.name().replace('\\', "/").ends_with("Pooling/config.json");
        let find = |base: &str| {
            files
                .iter()
                .find(|f| base_name(*f) == base && !is_pooling(f))
        };
        let missing = |what: &str| config_error(name, format!("has no {what}"));
        let config_file = find("config.json").ok_or_else(|| missing("config.json"))?;
        let config = BertConfig::from_json(config_file.name(), &read_all(config_file).await?)?;
        let tokenizer_file = find("tokenizer.json").ok_or_else(|| missing("tokenizer.json"))?;
        let tokenizer =
            Tokenizer::from_json(tokenizer_file.name(), &read_all(tokenizer_file).await?)?;

        let pooling = match files.iter().find(|f| is_pooling(f)) {
            Some(f) => {
                let p = json(f).await?;
                let on = |key: &str| p.get(key).and_then(Value::as_bool).unwrap_or(false);
                // sentence-transformers ≥ 5 writes `"pooling_mode": "mean"`; earlier versions
                // one boolean per mode.
                let mode = p.get("pooling_mode").and_then(Value::as_str);
                match (
                    mode,
                    on("pooling_mode_mean_tokens"),
                    on("pooling_mode_cls_token"),
                ) {
                    (Some("mean"), ..) | (None, true, false) => Pooling::Mean,
                    (Some("cls"), ..) | (None, false, true) => Pooling::Cls,
                    _ => {
                        return Err(config_error(
                            f.name(),
                            "asks for a pooling other than mean or CLS (max and sqrt-length \
                             pooling are not supported)",
                        ));
                    }
                }
            }
            // sentence-transformers' default for a plain transformer.
            None => Pooling::Mean,
        };
        let normalize = match find("modules.json") {
            Some(f) => json(f).await?.as_array().is_some_and(|m| {
                m.iter().any(|module| {
                    module
                        .get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.ends_with(".Normalize"))
                })
            }),
            None => false,
        };
        // sentence-transformers < 6 writes `max_seq_length` in sentence_bert_config.json; 6
        // leaves it to the tokenizer's `model_max_length` (a huge number when unset).
        let read_len = async |file: &str, key: &str| -> Result<Option<usize>> {
            Ok(match find(file) {
                Some(f) => json(f)
                    .await?
                    .get(key)
                    .and_then(Value::as_u64)
                    .filter(|&n| n < 1 << 20)
                    .map(|n| n as usize),
                None => None,
            })
        };
        let max_len = match read_len("sentence_bert_config.json", "max_seq_length").await? {
            Some(n) => n,
            None => read_len("tokenizer_config.json", "model_max_length")
                .await?
                .unwrap_or(config.max_position_embeddings),
        }
        .clamp(2, config.max_position_embeddings);
        let pad_id = tokenizer.token_id("[PAD]").unwrap_or(0);

        let shards: Vec<S> = files
            .into_iter()
            .filter(|f| base_name(f).ends_with(".safetensors"))
            .collect();
        if shards.is_empty() {
            return Err(missing("*.safetensors weights"));
        }
        let placement = Placement::of(device);
        let weights = SafetensorsWeights::open(name, shards).await?;
        let model = bert::load(&config, &weights, &placement).await?;
        Ok(Self {
            model,
            tokenizer,
            pooling,
            normalize,
            max_len,
            pad_id,
            placement,
        })
    }

    /// The device it computes on.
    pub fn device(&self) -> &burn::tensor::Device {
        &self.placement.device
    }

    /// The largest tensor one kernel can bind on its device.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.placement.max_tensor_bytes
    }

    /// The bytes its weights take on the device (f32).
    pub fn weight_bytes(&self) -> u64 {
        burn::module::Module::num_params(&self.model) as u64 * 4
    }

    /// The length of its vectors.
    pub fn dimension(&self) -> usize {
        self.model.hidden_size()
    }

    /// `text`'s tokens without `[CLS]`/`[SEP]` and without truncation (to size chunks).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode(text)
            .map_or(usize::MAX, |ids| ids.len())
    }

    /// `text`'s ids as the model sees them: `[CLS] … [SEP]`, cut to [`Self::max_len`] (the
    /// text is cut, the final `[SEP]` kept, as transformers truncates).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.tokenizer.encode_special(text)?;
        if ids.len() > self.max_len {
            let last = ids[ids.len() - 1];
            ids.truncate(self.max_len - 1);
            ids.push(last);
        }
        Ok(ids)
    }

    /// Embeds `texts`, one vector per text in their order.
    pub async fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let tokenized: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(tokenized[i].len()));
        let mut out = vec![Vec::new(); texts.len()];
        let lengths: Vec<usize> = order.iter().map(|&i| tokenized[i].len()).collect();
        let mut start = 0;
        while start < order.len() {
            let rows = batch_len(&lengths[start..], self.batch_rows(lengths[start]));
            let batch: Vec<&[u32]> = order[start..start + rows]
                .iter()
                .map(|&i| tokenized[i].as_slice())
                .collect();
            let vectors = self.embed_batch(&batch).await?;
            for (&i, v) in order[start..start + rows].iter().zip(vectors) {
                out[i] = v;
            }
            start += rows;
        }
        Ok(out)
    }

    /// Rows per batch for inputs of at most `len` tokens: at most 32, and few enough that one layer's
    /// attention scores stay within a quarter of the device's largest binding.
    fn batch_rows(&self, len: usize) -> usize {
        let per_row = (self.model.heads() * len * len * 4) as u64;
        let fit = (self.placement.max_tensor_bytes / 4 / per_row.max(1)) as usize;
        fit.clamp(1, 32)
    }

    async fn embed_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let device = &self.placement.device;
        let (rows, seq) = (
            batch.len(),
            batch.iter().map(|b| b.len()).max().unwrap_or(0),
        );
        let mut ids = Vec::with_capacity(rows * seq);
        let mut mask = Vec::with_capacity(rows * seq);
        for row in batch {
            ids.extend(row.iter().map(|&t| t as i32));
            ids.extend(std::iter::repeat_n(self.pad_id as i32, seq - row.len()));
            mask.extend(std::iter::repeat_n(1f32, row.len()));
            mask.extend(std::iter::repeat_n(0f32, seq - row.len()));
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, seq]), device);
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [rows, seq]), device);
        let hidden = self.model.forward(ids, mask.clone());
        let [_, _, width] = hidden.dims();
        let pooled: Tensor<2> = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1).reshape([rows, width]),
            Pooling::Mean => {
                let weights = mask.clone().unsqueeze_dim::<3>(2);
                let sum = (hidden * weights).sum_dim(1).reshape([rows, width]);
                let count = mask.sum_dim(1).clamp_min(1e-9);
                sum / count
            }
        };
        let pooled = match self.normalize {
            true => {
                let norm = (pooled.clone() * pooled.clone())
                    .sum_dim(1)
                    .sqrt()
                    .clamp_min(1e-12);
                pooled / norm
            }
            false => pooled,
        };
        let values = read_f32(pooled, "sentence embeddings").await?;
        Ok(values.chunks(width).map(<[f32]>::to_vec).collect())
    }
}

/// How many of `lengths` (sorted longest first) go in the next batch: at most `cap`, and no
/// more than keep real tokens at least 3/4 of the batch's positions (padding is to the
/// first, longest row). One long text among short ones is embedded alone instead of padding
/// them all to its length: 12 sentences with one of 256 tokens took 3,072 positions in one
/// batch and take 453 in five (410 are real).
fn batch_len(lengths: &[usize], cap: usize) -> usize {
    let longest = lengths.first().copied().unwrap_or(0);
    let mut real = longest;
    let mut rows = 1;
    for &next in lengths.iter().skip(1).take(cap.saturating_sub(1)) {
        if 4 * (real + next) < 3 * (rows + 1) * longest {
            break;
        }
        real += next;
        rows += 1;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::batch_len;

    #[test]
    fn a_long_text_is_not_padded_onto_short_ones() {
        // all-MiniLM-L6-v2's 12 fixture sentences, longest first.
        let lengths = [256, 34, 20, 19, 18, 15, 13, 12, 9, 9, 3, 2];
        let mut batches = Vec::new();
        let mut start = 0;
        while start < lengths.len() {
            let rows = batch_len(&lengths[start..], 32);
            batches.push(lengths[start..start + rows].to_vec());
            start += rows;
        }
        assert_eq!(batches[0], [256]);
        assert_eq!(batches[1], [34, 20]);
        let positions: usize = batches.iter().map(|b| b.len() * b[0]).sum();
        assert_eq!((batches.len(), positions), (5, 453));
    }

    #[test]
    fn similar_lengths_fill_a_batch_up_to_the_cap() {
        assert_eq!(batch_len(&[40; 50], 32), 32);
        assert_eq!(batch_len(&[40, 39, 38, 1], 32), 3);
        assert_eq!(batch_len(&[40, 39, 38], 2), 2);
        assert_eq!(batch_len(&[7], 0), 1);
    }
}
