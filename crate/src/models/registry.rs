//! The families webtune implements, by `config.json`'s `model_type` and GGUF's
//! `general.architecture`, and a [`Model`] that is any of them.

use burn::module::Module;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::gpt2::{self, Gpt2, Gpt2Config};
use super::hf_config::HfConfig;
use super::llama::{self, Llama, LlamaConfig};
use super::qwen2;
use super::weights::{GgufWeights, Layout, Placement, Weights};
use super::{Attend, CausalLm, KvCache, LinearLayers};
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::io::gguf::{GgufFile, Value};
use crate::nn::Linear;

/// A supported architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Llama 2/3, SmolLM/SmolLM2, TinyLlama.
    Llama,
    /// Qwen2 / Qwen2.5.
    Qwen2,
    /// GPT-2.
    Gpt2,
}

impl Architecture {
    /// Every supported architecture.
    pub const ALL: [Architecture; 3] = [Self::Llama, Self::Qwen2, Self::Gpt2];

    /// The name `config.json` (`model_type`) and GGUF (`general.architecture`) use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Gpt2 => "gpt2",
        }
    }

    /// The architecture called `name` in `config.json` or GGUF metadata.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    fn unsupported(file: &str, key: &str, name: &str) -> Error {
        let known: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
        Error::Config {
            file: file.to_string(),
            problem: format!(
                "`{key}` {name:?} is not supported (webtune implements {})",
                known.join(", ")
            ),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A model's hyper-parameters, per family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "lowercase")]
pub enum ModelConfig {
    /// The Llama family.
    Llama(LlamaConfig),
    /// Qwen2: Llama's decoder with Q/K/V biases.
    Qwen2(LlamaConfig),
    /// GPT-2.
    Gpt2(Gpt2Config),
}

impl ModelConfig {
    /// Which family this is.
    pub fn architecture(&self) -> Architecture {
        match self {
            Self::Llama(_) => Architecture::Llama,
            Self::Qwen2(_) => Architecture::Qwen2,
            Self::Gpt2(_) => Architecture::Gpt2,
        }
    }

    /// Reads a `config.json` (named `file` in errors), choosing the family by `model_type`.
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Self> {
        let c = HfConfig::parse(file, bytes)?;
        let model_type = c
            .str("model_type")
            .ok_or_else(|| c.error("`model_type` is missing"))?;
        match Architecture::from_name(model_type) {
            Some(Architecture::Llama) => Ok(Self::Llama(LlamaConfig::from_hf(&c, false)?)),
            Some(Architecture::Qwen2) => Ok(Self::Qwen2(qwen2::config_from_hf(&c)?)),
            Some(Architecture::Gpt2) => Ok(Self::Gpt2(Gpt2Config::from_hf(&c)?)),
            None => Err(Architecture::unsupported(file, "model_type", model_type)),
        }
    }

    /// Reads a GGUF file's metadata, choosing the family by `general.architecture`.
    pub fn from_gguf(name: &str, file: &GgufFile) -> Result<Self> {
        let arch = file
            .get("general.architecture")
            .and_then(Value::as_str)
            .unwrap_or("llama");
        let gguf = |source| Error::Gguf {
            file: name.to_string(),
            source,
        };
        match Architecture::from_name(arch) {
            Some(Architecture::Llama) => {
                Ok(Self::Llama(LlamaConfig::from_gguf(file).map_err(gguf)?))
            }
            Some(Architecture::Qwen2) => {
                Ok(Self::Qwen2(LlamaConfig::from_gguf(file).map_err(gguf)?))
            }
            Some(Architecture::Gpt2) => Ok(Self::Gpt2(Gpt2Config::from_gguf(file).map_err(gguf)?)),
            None => Err(Architecture::unsupported(
                name,
                "general.architecture",
                arch,
            )),
        }
    }

    /// The longest sequence it was trained for (its position table or RoPE context).
    pub fn context_length(&self) -> usize {
        match self {
            Self::Llama(c) | Self::Qwen2(c) => c.max_position_embeddings,
            Self::Gpt2(c) => c.n_positions,
        }
    }

    /// The sizes that set how much memory it computes with.
    pub fn shape(&self) -> Shape {
        match self {
            Self::Llama(c) | Self::Qwen2(c) => Shape {
                hidden: c.hidden_size,
                layers: c.num_hidden_layers,
                heads: c.num_attention_heads,
                kv_dim: c.num_key_value_heads * c.head_dim,
                ffn: c.intermediate_size,
                vocab: c.vocab_size,
            },
            Self::Gpt2(c) => Shape {
                hidden: c.n_embd,
                layers: c.n_layer,
                heads: c.n_head,
                kv_dim: c.n_embd,
                ffn: c.n_inner,
                vocab: c.vocab_size,
            },
        }
    }

    /// Its parameters: (in linear layers, elsewhere). In f64: sizes come from files that may
    /// be hostile, and this must neither overflow nor wrap.
    pub fn parameters(&self) -> (f64, f64) {
        let n = |x: usize| x as f64;
        match self {
            Self::Llama(c) | Self::Qwen2(c) => {
                let (h, q, kv, f) = (
                    n(c.hidden_size),
                    n(c.num_attention_heads) * n(c.head_dim),
                    n(c.num_key_value_heads) * n(c.head_dim),
                    n(c.intermediate_size),
                );
                let (layers, vocab) = (n(c.num_hidden_layers), n(c.vocab_size));
                let per_layer = h * q + 2.0 * h * kv + q * h + 3.0 * h * f;
                let head = if c.tie_word_embeddings {
                    0.0
                } else {
                    vocab * h
                };
                let biases = if c.qkv_bias { q + 2.0 * kv } else { 0.0 };
                (
                    layers * per_layer,
                    vocab * h + head + layers * (2.0 * h + biases) + h,
                )
            }
            Self::Gpt2(c) => {
                let (h, f, layers) = (n(c.n_embd), n(c.n_inner), n(c.n_layer));
                let per_layer = 4.0 * h * h + 2.0 * h * f;
                // Biases and two layer norms per layer; the embeddings; the final norm.
                let small = 9.0 * h + f;
                (
                    layers * per_layer,
                    (n(c.vocab_size) + n(c.n_positions)) * h + layers * small + 2.0 * h,
                )
            }
        }
    }

    /// Its decoder's linear layers as a loaded model lists them (`LinearLayers`): Hugging
    /// Face path and `[in, out]`. The memory planner sizes a model from them before its
    /// weights are fetched.
    pub fn linear_shapes(&self) -> Vec<(String, [usize; 2])> {
        match self {
            Self::Llama(c) | Self::Qwen2(c) => (0..c.num_hidden_layers)
                .flat_map(|n| {
                    super::llama::names::LINEAR.iter().map(move |l| {
                        let ([out, inp], _) = (l.shape)(c);
                        (super::llama::names::layer_path(n, l.hf), [inp, out])
                    })
                })
                .collect(),
            Self::Gpt2(c) => {
                use super::gpt2::names::{LINEAR, PREFIX, block_path};
                (0..c.n_layer)
                    .flat_map(|n| {
                        LINEAR.iter().map(move |l| {
                            (format!("{PREFIX}{}", block_path(n, l.hf)), (l.shape)(c))
                        })
                    })
                    .collect()
            }
        }
    }

    /// Bytes its weights take on the device: f32, or with `quantize` its linear layers in
    /// 4-bit blocks (0.75 bytes per weight: codes, a scale and a minimum per 32).
    pub fn weight_bytes(&self, quantize: bool) -> u64 {
        self.weight_bytes_in(quantize, 4)
    }

    /// The same with `float_bytes` per float (4 in f32, 2 in f16).
    pub fn weight_bytes_in(&self, quantize: bool, float_bytes: u64) -> u64 {
        let (linear, other) = self.parameters();
        let float = float_bytes as f64;
        let per_linear = if quantize { 0.75 } else { float };
        // `as` saturates: an absurd config sizes to u64::MAX, never wraps.
        (linear * per_linear + other * float) as u64
    }

    /// Refuses a config that describes more parameters than `stored` bytes of tensors can
    /// hold (see [`super::weights::check_plausible`]).
    pub fn check_plausible(&self, name: &str, stored: u64) -> Result<()> {
        let (linear, other) = self.parameters();
        let s = self.shape();
        super::weights::check_plausible(name, linear + other, stored, || {
            format!(
                "num_hidden_layers {}, hidden_size {}, intermediate_size {}, vocab_size {}, \
                 num_attention_heads {}",
                s.layers, s.hidden, s.ffn, s.vocab, s.heads
            )
        })
    }

    /// llama.cpp's `general.architecture` for this family.
    pub fn gguf_architecture(&self) -> &'static str {
        match self {
            Self::Llama(_) => "llama",
            Self::Qwen2(_) => "qwen2",
            Self::Gpt2(_) => "gpt2",
        }
    }

    /// llama.cpp's name for Hugging Face tensor `hf` and how its layout differs, or `None`
    /// when GGUF has no such tensor. llama.cpp permutes Q/K rows for `llama` only.
    pub fn gguf_name(&self, hf: &str) -> Option<(String, Layout)> {
        match self {
            Self::Llama(c) => llama::gguf::gguf_name(hf, c, true),
            Self::Qwen2(c) => qwen2::gguf_name(hf, c),
            Self::Gpt2(_) => gpt2::gguf_name(hf.strip_prefix("transformer.").unwrap_or(hf)),
        }
    }

    /// The vocabulary size.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Llama(c) | Self::Qwen2(c) => c.vocab_size,
            Self::Gpt2(c) => c.vocab_size,
        }
    }
}

/// A decoder's sizes (see [`ModelConfig::shape`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shape {
    /// Hidden size.
    pub hidden: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Attention (query) heads.
    pub heads: usize,
    /// Width of the keys (and of the values): key/value heads × head size.
    pub kv_dim: usize,
    /// The MLP's inner width.
    pub ffn: usize,
    /// Vocabulary size.
    pub vocab: usize,
}

/// A model of any supported family.
#[derive(Module, Debug)]
pub enum Model {
    /// Llama and Qwen2.
    Llama(Llama),
    /// GPT-2.
    Gpt2(Gpt2),
}

impl Model {
    /// Builds the model `config` describes from `weights`, one tensor at a time.
    pub async fn load(
        config: &ModelConfig,
        weights: &impl Weights,
        placement: &Placement,
    ) -> Result<Self> {
        placement.check(weights.name(), config)?;
        let config_file = format!("{}/config.json", weights.name());
        config.check_plausible(&config_file, weights.stored_bytes())?;
        Ok(match config {
            ModelConfig::Llama(c) | ModelConfig::Qwen2(c) => {
                Self::Llama(llama::load(c, weights, placement).await?)
            }
            ModelConfig::Gpt2(c) => Self::Gpt2(gpt2::load(c, weights, placement).await?),
        })
    }

    /// Reads the config from a GGUF file's metadata and builds the model from its tensors.
    pub async fn load_gguf(
        file: &GgufFile,
        source: &impl ByteSource,
        placement: &Placement,
    ) -> Result<(ModelConfig, Self)> {
        let mut config = ModelConfig::from_gguf(source.name(), file)?;
        placement.check(source.name(), &config)?;
        let stored = file.tensors.iter().map(|t| t.n_bytes).sum();
        config.check_plausible(source.name(), stored)?;
        if let ModelConfig::Llama(c) = &mut config {
            llama::gguf::read_rope_factors(file, source, c).await?;
        }
        let names = |hf: &str| config.gguf_name(hf);
        let weights = GgufWeights::new(file, source, &names);
        let model = match &config {
            ModelConfig::Llama(c) | ModelConfig::Qwen2(c) => {
                Self::Llama(llama::load(c, &weights, placement).await?)
            }
            ModelConfig::Gpt2(c) => Self::Gpt2(gpt2::load(c, &weights, placement).await?),
        };
        Ok((config, model))
    }

    /// Number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.num_params()
    }
}

impl LinearLayers for Model {
    fn linear_layers(&self) -> Vec<(String, &Linear)> {
        match self {
            Self::Llama(m) => m.linear_layers(),
            Self::Gpt2(m) => m.linear_layers(),
        }
    }

    fn linear_layers_mut(&mut self) -> Vec<(String, &mut Linear)> {
        match self {
            Self::Llama(m) => m.linear_layers_mut(),
            Self::Gpt2(m) => m.linear_layers_mut(),
        }
    }
}

impl CausalLm for Model {
    fn hidden_with(&self, ids: Tensor<2, Int>, attend: Attend, cache: &mut KvCache) -> Tensor<3> {
        match self {
            Self::Llama(m) => m.hidden_with(ids, attend, cache),
            Self::Gpt2(m) => m.hidden_with(ids, attend, cache),
        }
    }

    fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        match self {
            Self::Llama(m) => m.logits(hidden),
            Self::Gpt2(m) => m.logits(hidden),
        }
    }

    fn new_cache(&self) -> KvCache {
        match self {
            Self::Llama(m) => m.new_cache(),
            Self::Gpt2(m) => m.new_cache(),
        }
    }

    fn vocab_size(&self) -> usize {
        match self {
            Self::Llama(m) => m.vocab_size(),
            Self::Gpt2(m) => m.vocab_size(),
        }
    }

    fn context_length(&self) -> usize {
        match self {
            Self::Llama(m) => m.context_length(),
            Self::Gpt2(m) => m.context_length(),
        }
    }
}
