//! The Llama family's names, written once: each tensor's Hugging Face name, llama.cpp's GGUF
//! name, what llama.cpp does to its rows, its shape, and the module field that holds it.
//! Loading ([`super::load`]), the linear layers adapters attach to (`LinearLayers`), export
//! (`models::export`) and the GGUF reader ([`super::gguf`]) all read these tables, so adding a
//! tensor or a family touches one place.
//!
//! Fields and names are paired by position: [`LINEAR`] lists the layer's linear layers in the
//! order [`DecoderLayer::linears`], [`DecoderLayer::linears_mut`] and
//! [`DecoderLayer::from_parts`] take them; [`NORMS`] likewise.

use super::LlamaConfig;
use super::model::{Attention, DecoderLayer, Mlp};
use crate::nn::{Linear, RmsNorm};

/// Where the decoder layers live: `model.layers.N.…`.
pub const LAYERS: &str = "model.layers.";

/// Tensors outside the layers: Hugging Face name, GGUF name.
pub const GLOBAL: [(&str, &str); 3] = [
    ("model.embed_tokens.weight", "token_embd.weight"),
    ("model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
];

/// What llama.cpp's converter does to a tensor's rows for the `llama` architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Nothing.
    Same,
    /// Interleaves each query head's rotary halves.
    RopeQueries,
    /// The same for each key/value head.
    RopeKeys,
}

/// A linear layer of every decoder layer.
#[derive(Debug, Clone, Copy)]
pub struct LinearName {
    /// Its module path after `model.layers.N.` (weight `….weight`, bias `….bias`).
    pub hf: &'static str,
    /// Its GGUF name after `blk.N.`.
    pub gguf: &'static str,
    /// What llama.cpp does to its rows.
    pub rows: Rows,
    /// `[out, in]` and whether it has a bias, for a config.
    pub shape: fn(&LlamaConfig) -> ([usize; 2], bool),
}

/// The decoder layer's linear layers, in the order of [`DecoderLayer::linears`].
pub const LINEAR: [LinearName; 7] = [
    LinearName {
        hf: "self_attn.q_proj",
        gguf: "attn_q",
        rows: Rows::RopeQueries,
        shape: |c| {
            (
                [c.num_attention_heads * c.head_dim, c.hidden_size],
                c.qkv_bias,
            )
        },
    },
    LinearName {
        hf: "self_attn.k_proj",
        gguf: "attn_k",
        rows: Rows::RopeKeys,
        shape: |c| {
            (
                [c.num_key_value_heads * c.head_dim, c.hidden_size],
                c.qkv_bias,
            )
        },
    },
    LinearName {
        hf: "self_attn.v_proj",
        gguf: "attn_v",
        rows: Rows::Same,
        shape: |c| {
            (
                [c.num_key_value_heads * c.head_dim, c.hidden_size],
                c.qkv_bias,
            )
        },
    },
    LinearName {
        hf: "self_attn.o_proj",
        gguf: "attn_output",
        rows: Rows::Same,
        shape: |c| {
            (
                [c.hidden_size, c.num_attention_heads * c.head_dim],
                c.o_bias,
            )
        },
    },
    LinearName {
        hf: "mlp.gate_proj",
        gguf: "ffn_gate",
        rows: Rows::Same,
        shape: |c| ([c.intermediate_size, c.hidden_size], c.mlp_bias),
    },
    LinearName {
        hf: "mlp.up_proj",
        gguf: "ffn_up",
        rows: Rows::Same,
        shape: |c| ([c.intermediate_size, c.hidden_size], c.mlp_bias),
    },
    LinearName {
        hf: "mlp.down_proj",
        gguf: "ffn_down",
        rows: Rows::Same,
        shape: |c| ([c.hidden_size, c.intermediate_size], c.mlp_bias),
    },
];

/// The decoder layer's norms (Hugging Face module path, GGUF name), in the order of
/// [`DecoderLayer::norms`].
pub const NORMS: [(&str, &str); 2] = [
    ("input_layernorm", "attn_norm"),
    ("post_attention_layernorm", "ffn_norm"),
];

impl DecoderLayer {
    /// The linear layers, in [`LINEAR`]'s order.
    pub fn linears(&self) -> [&Linear; 7] {
        let (a, m) = (&self.self_attn, &self.mlp);
        [
            &a.q_proj,
            &a.k_proj,
            &a.v_proj,
            &a.o_proj,
            &m.gate_proj,
            &m.up_proj,
            &m.down_proj,
        ]
    }

    /// The same, mutable.
    pub fn linears_mut(&mut self) -> [&mut Linear; 7] {
        let (a, m) = (&mut self.self_attn, &mut self.mlp);
        [
            &mut a.q_proj,
            &mut a.k_proj,
            &mut a.v_proj,
            &mut a.o_proj,
            &mut m.gate_proj,
            &mut m.up_proj,
            &mut m.down_proj,
        ]
    }

    /// The norms, in [`NORMS`]' order.
    pub fn norms(&self) -> [&RmsNorm; 2] {
        [&self.input_layernorm, &self.post_attention_layernorm]
    }

    /// A layer of `config`'s shape from its linear layers and norms in the tables' order.
    pub fn from_parts(config: &LlamaConfig, linears: [Linear; 7], norms: [RmsNorm; 2]) -> Self {
        let [
            q_proj,
            k_proj,
            v_proj,
            o_proj,
            gate_proj,
            up_proj,
            down_proj,
        ] = linears;
        let [input_layernorm, post_attention_layernorm] = norms;
        Self {
            input_layernorm,
            self_attn: Attention {
                q_proj,
                k_proj,
                v_proj,
                o_proj,
                heads: config.num_attention_heads,
                kv_heads: config.num_key_value_heads,
                head_dim: config.head_dim,
            },
            post_attention_layernorm,
            mlp: Mlp {
                gate_proj,
                up_proj,
                down_proj,
            },
        }
    }
}

/// `model.layers.{n}.{module}`.
pub fn layer_path(n: usize, module: &str) -> String {
    format!("{LAYERS}{n}.{module}")
}
