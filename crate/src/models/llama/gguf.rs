//! Building a [`Llama`] from a GGUF file: the name table, llama.cpp's Q/K row permutation
//! undone, one tensor at a time onto the device.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use super::LlamaConfig;
use super::model::{Attention, DecoderLayer, Llama, Mlp};
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::io::gguf::{GgufError, GgufFile};
use crate::nn::{Linear, RmsNorm};

/// GGUF tensor names and their Hugging Face counterparts (per layer `N`):
///
/// | GGUF | Hugging Face |
/// | --- | --- |
/// | `token_embd` | `model.embed_tokens` |
/// | `blk.N.attn_norm` | `model.layers.N.input_layernorm` |
/// | `blk.N.attn_q` / `attn_k` / `attn_v` / `attn_output` | `…self_attn.q_proj` / `k_proj` / `v_proj` / `o_proj` |
/// | `blk.N.ffn_norm` | `model.layers.N.post_attention_layernorm` |
/// | `blk.N.ffn_gate` / `ffn_up` / `ffn_down` | `…mlp.gate_proj` / `up_proj` / `down_proj` |
/// | `output_norm` | `model.norm` |
/// | `output` | `lm_head` |
struct Reader<'a, S> {
    file: &'a GgufFile,
    source: &'a S,
    device: &'a Device,
}

impl<S: ByteSource> Reader<'_, S> {
    /// Reads tensor `name` as f32, checking its shape (outermost first).
    async fn read(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let info = self.file.tensor(name).ok_or_else(|| Error::Gguf {
            file: self.source.name().to_string(),
            source: GgufError::MissingTensor(name.to_string()),
        })?;
        if info.shape() != shape {
            return Err(Error::Gguf {
                file: self.source.name().to_string(),
                source: GgufError::Shape {
                    tensor: name.to_string(),
                    problem: format!("{:?}, but the config implies {shape:?}", info.shape()),
                },
            });
        }
        self.file.read_f32(self.source, info).await
    }

    async fn linear(&self, name: &str, out: usize, inp: usize) -> Result<Linear> {
        let w = self.read(name, &[out, inp]).await?;
        Ok(Linear::from_torch(w, [out, inp], None, self.device))
    }

    /// A Q or K projection, with llama.cpp's per-head row interleaving undone.
    async fn rope_linear(
        &self,
        name: &str,
        heads: usize,
        inp: usize,
        head_dim: usize,
    ) -> Result<Linear> {
        let out = heads * head_dim;
        let w = self.read(name, &[out, inp]).await?;
        let w = unpermute_rope_rows(&w, heads, head_dim, inp);
        Ok(Linear::from_torch(w, [out, inp], None, self.device))
    }

    async fn norm(&self, name: &str, n: usize, eps: f64) -> Result<RmsNorm> {
        Ok(RmsNorm::new(self.read(name, &[n]).await?, eps, self.device))
    }
}

/// Undoes llama.cpp's `permute` of Q/K rows. Its converter reorders each head's rows from
/// Hugging Face's rotate-half layout (`[first halves…, second halves…]`) to interleaved pairs;
/// GGUF row `h·d + 2i + j` holds Hugging Face row `h·d + j·d/2 + i`.
pub fn unpermute_rope_rows(w: &[f32], heads: usize, head_dim: usize, cols: usize) -> Vec<f32> {
    let half = head_dim / 2;
    let mut out = vec![0.0; w.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let from = (h * head_dim + 2 * i + j) * cols;
                let to = (h * head_dim + j * half + i) * cols;
                out[to..to + cols].copy_from_slice(&w[from..from + cols]);
            }
        }
    }
    out
}

/// Loads a Llama-family model from a GGUF file onto `device`, one tensor at a time (host
/// memory peaks at about twice the largest tensor, not the model).
pub async fn load_gguf(
    file: &GgufFile,
    source: &impl ByteSource,
    device: &Device,
) -> Result<(LlamaConfig, Llama)> {
    let config = LlamaConfig::from_gguf(file).map_err(|source_err| Error::Gguf {
        file: source.name().to_string(),
        source: source_err,
    })?;
    let r = Reader {
        file,
        source,
        device,
    };
    let (h, f, d) = (
        config.hidden_size,
        config.intermediate_size,
        config.head_dim(),
    );
    let (heads, kv) = (config.num_attention_heads, config.num_key_value_heads);
    let eps = config.rms_norm_eps;
    let embed = r.read("token_embd.weight", &[config.vocab_size, h]).await?;
    let embed_tokens = Param::from_tensor(Tensor::from_data(
        TensorData::new(embed, [config.vocab_size, h]),
        device,
    ));
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
    for n in 0..config.num_hidden_layers {
        let p = |s: &str| format!("blk.{n}.{s}.weight");
        layers.push(DecoderLayer {
            input_layernorm: r.norm(&p("attn_norm"), h, eps).await?,
            self_attn: Attention {
                q_proj: r.rope_linear(&p("attn_q"), heads, h, d).await?,
                k_proj: r.rope_linear(&p("attn_k"), kv, h, d).await?,
                v_proj: r.linear(&p("attn_v"), kv * d, h).await?,
                o_proj: r.linear(&p("attn_output"), h, heads * d).await?,
                heads,
                kv_heads: kv,
            },
            post_attention_layernorm: r.norm(&p("ffn_norm"), h, eps).await?,
            mlp: Mlp {
                gate_proj: r.linear(&p("ffn_gate"), f, h).await?,
                up_proj: r.linear(&p("ffn_up"), f, h).await?,
                down_proj: r.linear(&p("ffn_down"), h, f).await?,
            },
        });
    }
    let lm_head = if config.tie_word_embeddings {
        None
    } else {
        Some(r.linear("output.weight", config.vocab_size, h).await?)
    };
    let model = Llama {
        embed_tokens,
        layers,
        norm: r.norm("output_norm.weight", h, eps).await?,
        lm_head,
        rope_theta: config.rope_theta,
    };
    Ok((config, model))
}

#[cfg(test)]
mod tests {
    use super::unpermute_rope_rows;

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // llama.cpp: w.reshape(heads, 2, d/2, cols).swapaxes(1, 2).reshape(...)
        let (heads, d, cols) = (2, 6, 1);
        let hf: Vec<f32> = (0..heads * d).map(|x| x as f32).collect();
        let mut gguf = vec![0.0; hf.len()];
        for h in 0..heads {
            for j in 0..2 {
                for i in 0..d / 2 {
                    gguf[h * d + i * 2 + j] = hf[h * d + j * (d / 2) + i];
                }
            }
        }
        assert_eq!(unpermute_rope_rows(&gguf, heads, d, cols), hf);
    }
}
