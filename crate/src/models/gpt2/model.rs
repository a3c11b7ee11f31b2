//! The GPT-2 decoder, its forward pass, and building it from [`Weights`].

use burn::module::{Module, Param};
use burn::tensor::{Int, Tensor, TensorData};

use super::Gpt2Config;
use super::names::{GLOBAL, LINEAR, NORMS, PREFIX, block_path};
use crate::error::Result;
use crate::models::weights::{Placement, Weights, layer_norm, matrix, vocab_matrix};
use crate::models::{Attend, CausalLm, KvCache, LayerCache, LinearLayers};
use crate::nn::{LayerNorm, Linear, VocabMatrix, gelu, gelu_tanh};

/// Self-attention with a fused Q/K/V projection.
#[derive(Module, Debug)]
pub struct Gpt2Attention {
    /// `hidden → 3·hidden` (queries, keys, values).
    pub c_attn: Linear,
    /// `hidden → hidden`.
    pub c_proj: Linear,
    /// Heads.
    pub heads: usize,
}

/// The feed-forward block.
#[derive(Module, Debug)]
pub struct Gpt2Mlp {
    /// `hidden → inner`.
    pub c_fc: Linear,
    /// `inner → hidden`.
    pub c_proj: Linear,
    /// GELU's tanh approximation (`gelu_new`) rather than exact GELU.
    pub gelu_tanh: bool,
}

/// One block: pre-norm attention and pre-norm MLP, each with a residual.
#[derive(Module, Debug)]
pub struct Gpt2Block {
    /// Norm before attention.
    pub ln_1: LayerNorm,
    /// Attention.
    pub attn: Gpt2Attention,
    /// Norm before the MLP.
    pub ln_2: LayerNorm,
    /// Feed-forward block.
    pub mlp: Gpt2Mlp,
}

/// A GPT-2 causal language model. Field names follow the Hugging Face checkpoint
/// (`transformer.h.N.attn.c_attn`, …) so that adapters can attach by module path.
#[derive(Module, Debug)]
pub struct Gpt2 {
    /// `[vocab, hidden]` token embedding, also the LM head.
    pub wte: VocabMatrix,
    /// `[positions, hidden]` learned position embedding.
    pub wpe: Param<Tensor<2>>,
    /// Blocks.
    pub h: Vec<Gpt2Block>,
    /// Final norm.
    pub ln_f: LayerNorm,
}

impl Gpt2Attention {
    fn forward(&self, x: Tensor<3>, mask: Tensor<4>, cache: &mut LayerCache) -> Tensor<3> {
        let [batch, seq, hidden] = x.dims();
        let qkv = self.c_attn.forward(x);
        let split = |part: usize| -> Tensor<4> {
            // [batch, seq, hidden] → [batch, heads, seq, head_dim]
            qkv.clone()
                .narrow(2, part * hidden, hidden)
                .reshape([batch as i32, seq as i32, self.heads as i32, -1])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let (k, v) = cache.append(k, v);
        let head_dim = hidden / self.heads;
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .div_scalar((head_dim as f64).sqrt())
            + mask;
        let out = crate::nn::softmax(scores, 3).matmul(v);
        let out = out.swap_dims(1, 2).reshape([batch as i32, seq as i32, -1]);
        self.c_proj.forward(out)
    }
}

impl Gpt2Mlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.c_fc.forward(x);
        let x = if self.gelu_tanh {
            gelu_tanh(x)
        } else {
            gelu(x)
        };
        self.c_proj.forward(x)
    }
}

impl LinearLayers for Gpt2 {
    fn linear_layers(&self) -> Vec<(String, &Linear)> {
        let mut out = Vec::new();
        for (n, block) in self.h.iter().enumerate() {
            for (name, linear) in LINEAR.iter().zip(block.linears()) {
                out.push((format!("{PREFIX}{}", block_path(n, name.hf)), linear));
            }
        }
        out
    }

    fn linear_layers_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut out = Vec::new();
        for (n, block) in self.h.iter_mut().enumerate() {
            for (name, linear) in LINEAR.iter().zip(block.linears_mut()) {
                out.push((format!("{PREFIX}{}", block_path(n, name.hf)), linear));
            }
        }
        out
    }
}

impl CausalLm for Gpt2 {
    fn hidden_with(&self, ids: Tensor<2, Int>, attend: Attend, cache: &mut KvCache) -> Tensor<3> {
        let [_, seq] = ids.dims();
        if cache.layers.len() != self.h.len() {
            *cache = self.new_cache();
        }
        let device = ids.device();
        let positions: Vec<i32> = attend.positions.iter().map(|&p| p as i32).collect();
        let n = positions.len();
        let positions = Tensor::<1, Int>::from_data(TensorData::new(positions, [n]), &device);
        let width = self.wpe.dims()[1];
        let learned = self
            .wpe
            .val()
            .select(0, positions)
            .reshape([attend.rows, seq, width]);
        let mut x = self.wte.embed(ids) + learned;
        let mask = attend.mask;
        for (block, layer_cache) in self.h.iter().zip(&mut cache.layers) {
            let attn = block
                .attn
                .forward(block.ln_1.forward(x.clone()), mask.clone(), layer_cache);
            x = x + attn;
            x = x.clone() + block.mlp.forward(block.ln_2.forward(x));
        }
        self.ln_f.forward(x)
    }

    fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.wte.project(hidden)
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.h.len())
    }

    fn vocab_size(&self) -> usize {
        self.wte.rows()
    }

    fn context_length(&self) -> usize {
        self.wpe.dims()[0]
    }
}

/// Loads GPT-2 from `w`, whose names may or may not carry the `transformer.` prefix (Hugging
/// Face's `GPT2LMHeadModel` saves it; the original checkpoints do not).
pub async fn load(config: &Gpt2Config, w: &impl Weights, placement: &Placement) -> Result<Gpt2> {
    let (c, device) = (config, &placement.device);
    let prefix = match w.has(&format!("{PREFIX}{}", GLOBAL[0].0)) {
        true => PREFIX,
        false => "",
    };
    let (e, eps) = (c.n_embd, c.layer_norm_epsilon);
    // Conv1D stores [in, out]: exactly the layout `Linear` keeps.
    let conv1d = |name: String, [inp, out]: [usize; 2]| async move {
        let weight = w.read(&format!("{name}.weight"), &[inp, out]).await?;
        let bias = w.read(&format!("{name}.bias"), &[out]).await?;
        Ok::<_, crate::Error>(Linear::from_in_out_quantized(
            weight,
            [inp, out],
            Some(bias),
            placement.quantize,
            device,
        ))
    };
    let mut h = Vec::with_capacity(c.n_layer);
    for n in 0..c.n_layer {
        let p = |module: &str| format!("{prefix}{}", block_path(n, module));
        let mut norms = Vec::with_capacity(NORMS.len());
        for (module, _) in NORMS {
            norms.push(layer_norm(w, &p(module), e, eps, device).await?);
        }
        let mut linears = Vec::with_capacity(LINEAR.len());
        for name in &LINEAR {
            linears.push(conv1d(p(name.hf), (name.shape)(c)).await?);
        }
        let (Ok(linears), Ok(norms)) = (linears.try_into(), norms.try_into()) else {
            unreachable!("one module per table entry");
        };
        h.push(Gpt2Block::from_parts(c, linears, norms));
    }
    let [(wte, _), (wpe, _), (ln_f, _), _] = GLOBAL;
    let ln_f = ln_f.trim_end_matches(".weight");
    Ok(Gpt2 {
        wte: vocab_matrix(w, &format!("{prefix}{wte}"), [c.vocab_size, e], placement).await?,
        wpe: matrix(w, &format!("{prefix}{wpe}"), [c.n_positions, e], device).await?,
        h,
        ln_f: layer_norm(w, &format!("{prefix}{ln_f}"), e, eps, device).await?,
    })
}
