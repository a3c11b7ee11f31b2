//! GPT-2's names, written once: each tensor's Hugging Face name (without the `transformer.`
//! prefix that `GPT2LMHeadModel` adds), llama.cpp's GGUF name, its shape, and the module field
//! that holds it. Loading, the linear layers adapters attach to, export and the GGUF reader
//! read these tables; fields and names are paired by position ([`LINEAR`] with
//! [`Gpt2Block::linears`], [`NORMS`] with [`Gpt2Block::norms`]).

use super::Gpt2Config;
use super::model::{Gpt2Attention, Gpt2Block, Gpt2Mlp};
use crate::nn::{LayerNorm, Linear};

/// Where the blocks live: `h.N.…`.
pub const BLOCKS: &str = "h.";

/// The prefix Hugging Face's `GPT2LMHeadModel` puts before every name.
pub const PREFIX: &str = "transformer.";

/// Tensors outside the blocks: Hugging Face name, GGUF name.
pub const GLOBAL: [(&str, &str); 4] = [
    ("wte.weight", "token_embd.weight"),
    ("wpe.weight", "position_embd.weight"),
    ("ln_f.weight", "output_norm.weight"),
    ("ln_f.bias", "output_norm.bias"),
];

/// A block's `Conv1D` layer: its module path after `h.N.`, its GGUF name after `blk.N.`, and
/// its `[in, out]` for a config (GGUF stores these weights transposed).
#[derive(Debug, Clone, Copy)]
pub struct LinearName {
    /// Module path (weight `….weight`, bias `….bias`).
    pub hf: &'static str,
    /// GGUF name.
    pub gguf: &'static str,
    /// `[in, out]`.
    pub shape: fn(&Gpt2Config) -> [usize; 2],
}

/// The block's linear layers, in the order of [`Gpt2Block::linears`].
pub const LINEAR: [LinearName; 4] = [
    LinearName {
        hf: "attn.c_attn",
        gguf: "attn_qkv",
        shape: |c| [c.n_embd, 3 * c.n_embd],
    },
    LinearName {
        hf: "attn.c_proj",
        gguf: "attn_output",
        shape: |c| [c.n_embd, c.n_embd],
    },
    LinearName {
        hf: "mlp.c_fc",
        gguf: "ffn_up",
        shape: |c| [c.n_embd, c.n_inner],
    },
    LinearName {
        hf: "mlp.c_proj",
        gguf: "ffn_down",
        shape: |c| [c.n_inner, c.n_embd],
    },
];

/// The block's norms (module path, GGUF name), in the order of [`Gpt2Block::norms`].
pub const NORMS: [(&str, &str); 2] = [("ln_1", "attn_norm"), ("ln_2", "ffn_norm")];

impl Gpt2Block {
    /// The linear layers, in [`LINEAR`]'s order.
    pub fn linears(&self) -> [&Linear; 4] {
        [
            &self.attn.c_attn,
            &self.attn.c_proj,
            &self.mlp.c_fc,
            &self.mlp.c_proj,
        ]
    }

    /// The same, mutable.
    pub fn linears_mut(&mut self) -> [&mut Linear; 4] {
        let (a, m) = (&mut self.attn, &mut self.mlp);
        [&mut a.c_attn, &mut a.c_proj, &mut m.c_fc, &mut m.c_proj]
    }

    /// The norms, in [`NORMS`]' order.
    pub fn norms(&self) -> [&LayerNorm; 2] {
        [&self.ln_1, &self.ln_2]
    }

    /// A block of `config`'s shape from its linear layers and norms in the tables' order.
    pub fn from_parts(config: &Gpt2Config, linears: [Linear; 4], norms: [LayerNorm; 2]) -> Self {
        let [c_attn, attn_proj, c_fc, mlp_proj] = linears;
        let [ln_1, ln_2] = norms;
        Self {
            ln_1,
            attn: Gpt2Attention {
                c_attn,
                c_proj: attn_proj,
                heads: config.n_head,
            },
            ln_2,
            mlp: Gpt2Mlp {
                c_fc,
                c_proj: mlp_proj,
                gelu_tanh: config.gelu_tanh,
            },
        }
    }
}

/// `h.{n}.{module}`.
pub fn block_path(n: usize, module: &str) -> String {
    format!("{BLOCKS}{n}.{module}")
}
