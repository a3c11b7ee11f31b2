//! The Llama decoder and its forward pass.

use burn::module::Module;
use burn::tensor::{Int, Tensor, activation};

use super::names::{LINEAR, layer_path};
use crate::models::{Attend, CausalLm, KvCache, LayerCache, LinearLayers};
use crate::nn::{Linear, RmsNorm, Rope, RopeConfig, VocabMatrix};

/// Self-attention with grouped-query heads.
#[derive(Module, Debug)]
pub struct Attention {
    /// `hidden → heads·head_dim`.
    pub q_proj: Linear,
    /// `hidden → kv_heads·head_dim`.
    pub k_proj: Linear,
    /// `hidden → kv_heads·head_dim`.
    pub v_proj: Linear,
    /// `heads·head_dim → hidden`.
    pub o_proj: Linear,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Per-head width.
    pub head_dim: usize,
}

/// The SwiGLU feed-forward block.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `hidden → intermediate`, through SiLU.
    pub gate_proj: Linear,
    /// `hidden → intermediate`.
    pub up_proj: Linear,
    /// `intermediate → hidden`.
    pub down_proj: Linear,
}

/// One decoder layer: pre-norm attention and pre-norm MLP, each with a residual.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Attention.
    pub self_attn: Attention,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
    /// Feed-forward block.
    pub mlp: Mlp,
}

/// A Llama-family causal language model. Field names follow the Hugging Face checkpoint
/// (`model.layers.N.self_attn.q_proj`, …) so that adapters can attach by module path.
#[derive(Module, Debug)]
pub struct Llama {
    /// `[vocab, hidden]` token embedding (also the LM head when tied).
    pub embed_tokens: VocabMatrix,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Separate LM head (`[vocab, hidden]`, PyTorch's layout), when not tied to the
    /// embedding.
    pub lm_head: Option<VocabMatrix>,
    /// Rotary embedding.
    #[module(skip)]
    pub rope: RopeConfig,
    /// Longest context the model was trained for.
    pub max_position_embeddings: usize,
}

impl Attention {
    /// `[batch, seq, hidden]` → same shape; attends to `cache` and the new positions
    /// (causally), and appends the new keys and values to `cache`. `mask` is
    /// `[rows, 1, group·seq, seen + seq]`: the additive mask repeated once per query head of
    /// a key head's group.
    fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        mask: Tensor<4>,
        cache: &mut LayerCache,
    ) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        // [batch, seq, heads·head_dim] → [batch, seq, heads, head_dim]
        let split = |t: Tensor<3>, heads: usize| -> Tensor<4> {
            t.reshape([batch as i32, seq as i32, heads as i32, -1])
        };
        // → [batch, heads, seq, head_dim], rotated before the move (see `Rope::apply`).
        let q = rope.apply(split(self.q_proj.forward(x.clone()), self.heads));
        let k = rope
            .apply(split(self.k_proj.forward(x.clone()), self.kv_heads))
            .swap_dims(1, 2);
        let v = split(self.v_proj.forward(x), self.kv_heads).swap_dims(1, 2);
        // [batch, kv_heads, seen + seq, head_dim]
        let (k, v) = cache.append(k, v);
        // One new position (a decoded token) attends to everything before it: no mask (every
        // `Attend` masks nothing for a single position), one kernel on the GPU tier.
        if let Some(out) = crate::nn::fused::decode_attention(&q, &k, &v) {
            return self.o_proj.forward(out);
        }
        // Grouped-query attention without copies of the keys and values: query head `h`
        // reads key head `h / group`, so the `group` query heads of one key head stack into
        // its rows — [batch, kv_heads, group·seq, head_dim] — and each key head is multiplied
        // once (PyTorch's `repeat_kv` would copy it `group` times first).
        let group = self.heads / self.kv_heads;
        let q = q.swap_dims(1, 2).reshape([
            batch as i32,
            self.kv_heads as i32,
            (group * seq) as i32,
            -1,
        ]);
        // [batch, kv_heads, group·seq, seen + seq]
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .div_scalar((self.head_dim as f64).sqrt())
            + mask;
        // [batch, heads, seq, head_dim] → [batch, seq, heads·head_dim]
        let out = crate::nn::softmax(scores, 3).matmul(v).reshape([
            batch,
            self.heads,
            seq,
            self.head_dim,
        ]);
        let out = out.swap_dims(1, 2).reshape([batch as i32, seq as i32, -1]);
        self.o_proj.forward(out)
    }
}

impl Mlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = activation::silu(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}

impl DecoderLayer {
    fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        mask: Tensor<4>,
        cache: &mut LayerCache,
    ) -> Tensor<3> {
        let x = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), rope, mask, cache);
        x.clone() + self.mlp.forward(self.post_attention_layernorm.forward(x))
    }
}

impl LinearLayers for Llama {
    fn linear_layers(&self) -> Vec<(String, &Linear)> {
        let mut out = Vec::new();
        for (n, layer) in self.layers.iter().enumerate() {
            for (name, linear) in LINEAR.iter().zip(layer.linears()) {
                out.push((layer_path(n, name.hf), linear));
            }
        }
        out
    }

    fn linear_layers_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut out = Vec::new();
        for (n, layer) in self.layers.iter_mut().enumerate() {
            for (name, linear) in LINEAR.iter().zip(layer.linears_mut()) {
                out.push((layer_path(n, name.hf), linear));
            }
        }
        out
    }
}

impl CausalLm for Llama {
    fn hidden_with(&self, ids: Tensor<2, Int>, attend: Attend, cache: &mut KvCache) -> Tensor<3> {
        let [_, seq] = ids.dims();
        if cache.layers.len() != self.layers.len() {
            *cache = self.new_cache();
        }
        let device = ids.device();
        // [batch, seq, hidden]
        let mut x = self.embed_tokens.embed(ids);
        // A model without layers is only embedding → norm → head; it needs no RoPE width.
        let head_dim = self
            .layers
            .first()
            .map_or(2, |layer| layer.self_attn.head_dim);
        let rope = Rope::at(
            &self.rope,
            head_dim,
            &attend.positions,
            attend.rows,
            seq,
            &device,
        );
        // The query heads of one key head are rows of one matrix (`Attention::forward`): the
        // mask repeats once per head of a group, made once for every layer.
        let group = self
            .layers
            .first()
            .map_or(1, |layer| layer.self_attn.heads / layer.self_attn.kv_heads);
        let mask = match group {
            1 => attend.mask,
            _ => attend.mask.repeat_dim(2, group),
        };
        for (layer, layer_cache) in self.layers.iter().zip(&mut cache.layers) {
            x = layer.forward(x, &rope, mask.clone(), layer_cache);
        }
        self.norm.forward(x)
    }

    fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.lm_head
            .as_ref()
            .unwrap_or(&self.embed_tokens)
            .project(hidden)
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    fn vocab_size(&self) -> usize {
        self.embed_tokens.rows()
    }

    fn context_length(&self) -> usize {
        self.max_position_embeddings
    }
}
