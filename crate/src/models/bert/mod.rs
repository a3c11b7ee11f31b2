//! BERT-family encoders (BERT, MiniLM, bge, e5): the `BertModel` of transformers — word,
//! position and token-type embeddings with a LayerNorm, then post-norm layers of biased
//! self-attention and a GELU MLP. It returns every token's hidden state; sentence embeddings
//! (pooling, normalisation) are `rag::embed`'s business.
//!
//! On the CPU tier a layer's attention is burn-flex's fused kernel (scores, mask, softmax and
//! the weighted sum per head, heads on every core); elsewhere it is burn's ops.
//!
//! Checkpoints name tensors with or without the `bert.` prefix (sentence-transformers saves
//! them without); both load.

use burn::module::{Module, Param};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Int, Tensor};

use super::hf_config::HfConfig;
use super::weights::{
    Placement, Weights, check_plausible, layer_norm, linear, matrix, vocab_matrix,
};
use crate::error::Result;
use crate::nn::{LayerNorm, Linear, VocabMatrix, cpu_fused, gelu};

/// A BERT encoder's hyper-parameters (`config.json`, `model_type` `bert`).
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// The MLP's inner width.
    pub intermediate_size: usize,
    /// Longest input, in tokens (learned positions).
    pub max_position_embeddings: usize,
    /// Token types (segments).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

impl BertConfig {
    /// Reads a `config.json` (named `file` in errors).
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Self> {
        let c = HfConfig::parse(file, bytes)?;
        match c.str("model_type") {
            Some("bert") => {}
            other => {
                return Err(c.error(format!(
                    "`model_type` is {other:?}: only BERT-family encoders (\"bert\") embed text"
                )));
            }
        }
        if let Some(act) = c.str("hidden_act").filter(|a| *a != "gelu") {
            return Err(c.error(format!("`hidden_act` {act:?} is not supported (gelu)")));
        }
        if let Some(kind) = c
            .str("position_embedding_type")
            .filter(|k| *k != "absolute")
        {
            return Err(c.error(format!(
                "`position_embedding_type` {kind:?} is not supported (absolute)"
            )));
        }
        let config = Self {
            vocab_size: c.usize("vocab_size")?,
            hidden_size: c.usize("hidden_size")?,
            num_hidden_layers: c.usize("num_hidden_layers")?,
            num_attention_heads: c.usize("num_attention_heads")?,
            intermediate_size: c.usize("intermediate_size")?,
            max_position_embeddings: c.usize_or(&["max_position_embeddings"], Some(512))?,
            type_vocab_size: c.usize_or(&["type_vocab_size"], Some(2))?,
            layer_norm_eps: c.f64_or("layer_norm_eps", 1e-12)?,
        };
        if config.max_position_embeddings < 2 {
            return Err(c.error(format!(
                "describes an impossible model: max_position_embeddings is {}, and a sentence \
                 takes at least [CLS] and [SEP]",
                config.max_position_embeddings
            )));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(c.error(format!(
                "describes an impossible model: hidden_size {} is not a multiple of {} heads",
                config.hidden_size, config.num_attention_heads
            )));
        }
        Ok(config)
    }
}

/// One encoder layer.
#[derive(Module, Debug)]
pub struct BertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    heads: usize,
}

/// A BERT encoder.
#[derive(Module, Debug)]
pub struct Bert {
    word_embeddings: VocabMatrix,
    position_embeddings: Param<Tensor<2>>,
    token_type_embeddings: Param<Tensor<2>>,
    embeddings_norm: LayerNorm,
    layers: Vec<BertLayer>,
}

/// Which padding keys each query must not attend to, in the form the layers' attention takes.
enum KeyMask {
    /// burn-flex's fused attention (the CPU tier): `true` at padding keys, `[batch, 1, seq, seq]`.
    Fused(Tensor<4, Bool>),
    /// burn's ops: a large negative score at padding keys, `[batch, 1, 1, seq]`.
    Additive(Tensor<4>),
}

impl BertLayer {
    fn forward(&self, x: Tensor<3>, mask: &KeyMask) -> Tensor<3> {
        let [batch, seq, hidden] = x.dims();
        let heads = |t: Tensor<3>| -> Tensor<4> {
            t.reshape([batch, seq, self.heads, hidden / self.heads])
                .swap_dims(1, 2)
        };
        let q = heads(self.query.forward(x.clone()));
        let k = heads(self.key.forward(x.clone()));
        let v = heads(self.value.forward(x.clone()));
        let scale = ((hidden / self.heads) as f64).sqrt();
        let attended = match mask {
            KeyMask::Fused(masked) => {
                let options = AttentionModuleOptions {
                    scale: Some(scale.recip()),
                    softcap: None,
                    is_causal: false,
                };
                attention(q, k, v, Some(masked.clone()), None, options)
            }
            KeyMask::Additive(additive) => {
                let scores = q.matmul(k.swap_dims(2, 3)).div_scalar(scale) + additive.clone();
                crate::nn::softmax(scores, 3).matmul(v)
            }
        };
        let context = attended.swap_dims(1, 2).reshape([batch, seq, hidden]);
        let x = self
            .attention_norm
            .forward(self.attention_output.forward(context) + x);
        let inner = gelu(self.intermediate.forward(x.clone()));
        self.output_norm.forward(self.output.forward(inner) + x)
    }
}

impl Bert {
    /// Every token's last hidden state `[batch, seq, hidden]` for `ids` `[batch, seq]`, where
    /// `mask` `[batch, seq]` is 1 for real tokens and 0 for padding (token type 0 throughout).
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<3> {
        let [batch, seq] = ids.dims();
        let positions = self
            .position_embeddings
            .val()
            .narrow(0, 0, seq)
            .unsqueeze::<3>();
        let token_type = self
            .token_type_embeddings
            .val()
            .narrow(0, 0, 1)
            .unsqueeze::<3>();
        let mut x = self
            .embeddings_norm
            .forward(self.word_embeddings.embed(ids) + positions + token_type);
        let mask = if cpu_fused(&x.device()) {
            KeyMask::Fused(
                mask.equal_elem(0.0)
                    .reshape([batch, 1, 1, seq])
                    .expand([batch, 1, seq, seq]),
            )
        } else {
            // Padding keys get a large negative score (transformers uses the dtype's minimum).
            // (In f32: `0 · -1e9` is NaN in f16, where -1e9 is -inf.)
            let additive = crate::device::to_f32(mask)
                .neg()
                .add_scalar(1.0)
                .mul_scalar(-1e9)
                .reshape([batch, 1, 1, seq]);
            KeyMask::Additive(crate::device::to_dtype(additive, x.dtype()))
        };
        for layer in &self.layers {
            x = layer.forward(x, &mask);
        }
        x
    }

    /// Longest input in tokens.
    pub fn max_positions(&self) -> usize {
        self.position_embeddings.dims()[0]
    }

    /// Attention heads.
    pub fn heads(&self) -> usize {
        self.layers.first().map_or(1, |l| l.heads)
    }

    /// Hidden size (the embedding's width).
    pub fn hidden_size(&self) -> usize {
        self.position_embeddings.dims()[1]
    }
}

/// Loads a BERT encoder from `w` (tensor names with or without `bert.`).
pub async fn load(config: &BertConfig, w: &impl Weights, placement: &Placement) -> Result<Bert> {
    let c = config;
    let device = &placement.device;
    let prefix = match w.has("bert.embeddings.word_embeddings.weight") {
        true => "bert.",
        false => "",
    };
    let (h, eps) = (c.hidden_size, c.layer_norm_eps);
    let n = |x: usize| x as f64;
    let (hf, ff) = (n(h), n(c.intermediate_size));
    let parameters = n(c.num_hidden_layers) * (4.0 * hf * hf + 2.0 * hf * ff)
        + (n(c.vocab_size) + n(c.max_position_embeddings) + n(c.type_vocab_size)) * hf;
    check_plausible(w.name(), parameters, w.stored_bytes(), || {
        format!(
            "num_hidden_layers {}, hidden_size {h}, vocab_size {}",
            c.num_hidden_layers, c.vocab_size
        )
    })?;
    let mut layers = Vec::with_capacity(c.num_hidden_layers);
    for n in 0..c.num_hidden_layers {
        let p = |s: &str| format!("{prefix}encoder.layer.{n}.{s}");
        layers.push(BertLayer {
            query: linear(w, &p("attention.self.query"), [h, h], true, placement).await?,
            key: linear(w, &p("attention.self.key"), [h, h], true, placement).await?,
            value: linear(w, &p("attention.self.value"), [h, h], true, placement).await?,
            attention_output: linear(w, &p("attention.output.dense"), [h, h], true, placement)
                .await?,
            attention_norm: layer_norm(w, &p("attention.output.LayerNorm"), h, eps, device).await?,
            intermediate: linear(
                w,
                &p("intermediate.dense"),
                [c.intermediate_size, h],
                true,
                placement,
            )
            .await?,
            output: linear(
                w,
                &p("output.dense"),
                [h, c.intermediate_size],
                true,
                placement,
            )
            .await?,
            output_norm: layer_norm(w, &p("output.LayerNorm"), h, eps, device).await?,
            heads: c.num_attention_heads,
        });
    }
    let e = |s: &str| format!("{prefix}embeddings.{s}");
    Ok(Bert {
        word_embeddings: vocab_matrix(
            w,
            &e("word_embeddings.weight"),
            [c.vocab_size, h],
            placement,
        )
        .await?,
        position_embeddings: matrix(
            w,
            &e("position_embeddings.weight"),
            [c.max_position_embeddings, h],
            device,
        )
        .await?,
        token_type_embeddings: matrix(
            w,
            &e("token_type_embeddings.weight"),
            [c.type_vocab_size, h],
            device,
        )
        .await?,
        embeddings_norm: layer_norm(w, &e("LayerNorm"), h, eps, device).await?,
        layers,
    })
}
