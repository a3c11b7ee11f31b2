//! Writing a model back out as a Hugging Face checkpoint: `config.json` and
//! `model.safetensors` with transformers' names and layouts, so that a merged fine-tune loads
//! in transformers (and here).

use burn::tensor::Tensor;
use serde_json::{Value, json};

use super::{Model, ModelConfig};
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::io::safetensors::write_f32;
use crate::nn::{LayerNorm, Linear, RmsNorm, VocabMatrix, transpose};

/// One tensor to write: its Hugging Face name and shape, and where its values are (row blocks
/// read one by one, so that no block larger than a storage binding is formed).
struct Named {
    name: String,
    shape: Vec<usize>,
    values: Vec<Tensor<2>>,
    /// Stored transposed relative to `shape` (our `[in, out]` linear weights).
    transposed: bool,
}

fn vector(name: String, t: Tensor<1>) -> Named {
    let n = t.dims()[0];
    Named {
        name,
        shape: vec![n],
        values: vec![t.reshape([1, n])],
        transposed: false,
    }
}

fn vocab(name: &str, m: &VocabMatrix) -> Named {
    Named {
        name: name.to_string(),
        shape: vec![m.rows(), m.cols()],
        values: m.chunks.iter().map(|c| c.val()).collect(),
        transposed: false,
    }
}

/// A PyTorch `nn.Linear` (`[out, in]`) or, with `conv1d`, GPT-2's `Conv1D` (`[in, out]`).
fn linear(out: &mut Vec<Named>, prefix: &str, l: &Linear, conv1d: bool) -> Result<()> {
    if l.low_rank.is_some() {
        return Err(Error::Adapter {
            name: prefix.to_string(),
            problem: "still has an adapter branch: merge it first".into(),
        });
    }
    let [inp, o] = l.shape();
    out.push(Named {
        name: format!("{prefix}.weight"),
        shape: if conv1d { vec![inp, o] } else { vec![o, inp] },
        values: vec![l.weight.val()],
        transposed: !conv1d,
    });
    if let Some(b) = &l.bias {
        out.push(vector(format!("{prefix}.bias"), b.val()));
    }
    Ok(())
}

fn rms(out: &mut Vec<Named>, name: String, n: &RmsNorm) {
    out.push(vector(name, n.weight.val()));
}

fn layer_norm(out: &mut Vec<Named>, prefix: &str, n: &LayerNorm) {
    out.push(vector(format!("{prefix}.weight"), n.weight.val()));
    out.push(vector(format!("{prefix}.bias"), n.bias.val()));
}

fn tensors(model: &Model) -> Result<Vec<Named>> {
    let mut out = Vec::new();
    match model {
        Model::Llama(m) => {
            use super::llama::names::{GLOBAL, LINEAR, NORMS, layer_path};
            let [(embed, _), (norm, _), (head, _)] = GLOBAL;
            out.push(vocab(embed, &m.embed_tokens));
            for (n, layer) in m.layers.iter().enumerate() {
                for ((hf, _), norm) in NORMS.iter().zip(layer.norms()) {
                    rms(&mut out, layer_path(n, &format!("{hf}.weight")), norm);
                }
                for (name, l) in LINEAR.iter().zip(layer.linears()) {
                    linear(&mut out, &layer_path(n, name.hf), l, false)?;
                }
            }
            rms(&mut out, norm.into(), &m.norm);
            if let Some(lm_head) = &m.lm_head {
                out.push(vocab(head, lm_head));
            }
        }
        Model::Gpt2(m) => {
            use super::gpt2::names::{GLOBAL, LINEAR, NORMS, PREFIX, block_path};
            let [(wte, _), (wpe, _), (ln_f, _), _] = GLOBAL;
            out.push(vocab(&format!("{PREFIX}{wte}"), &m.wte));
            let weight = m.wpe.val();
            out.push(Named {
                name: format!("{PREFIX}{wpe}"),
                shape: weight.dims().to_vec(),
                values: vec![weight],
                transposed: false,
            });
            for (n, block) in m.h.iter().enumerate() {
                let p = |module: &str| format!("{PREFIX}{}", block_path(n, module));
                for ((module, _), norm) in NORMS.iter().zip(block.norms()) {
                    layer_norm(&mut out, &p(module), norm);
                }
                for (name, l) in LINEAR.iter().zip(block.linears()) {
                    linear(&mut out, &p(name.hf), l, true)?;
                }
            }
            let ln_f = ln_f.trim_end_matches(".weight");
            layer_norm(&mut out, &format!("{PREFIX}{ln_f}"), &m.ln_f);
        }
    }
    Ok(out)
}

/// `model.safetensors` for `model` (adapters merged first), read back from the device one
/// tensor at a time.
pub async fn safetensors(model: &Model) -> Result<Vec<u8>> {
    let mut written = Vec::new();
    for t in tensors(model)? {
        let mut values = Vec::new();
        for block in t.values {
            let [rows, cols] = block.dims();
            let block = read_f32(block, &t.name).await?;
            values.extend(match t.transposed {
                true => transpose(&block, rows, cols),
                false => block,
            });
        }
        written.push((t.name, t.shape, values));
    }
    write_f32("model.safetensors", &written)
}

/// A whole Hugging Face checkpoint for `model`: `config.json` (from `config`) and
/// `model.safetensors`, by file name.
pub async fn checkpoint_files(
    model: &Model,
    config: &ModelConfig,
) -> Result<Vec<(String, Vec<u8>)>> {
    let config_json =
        serde_json::to_vec_pretty(&config_json(config)).map_err(|err| Error::Input {
            problem: format!("cannot write config.json: {err}"),
        })?;
    Ok(vec![
        ("config.json".into(), config_json),
        ("model.safetensors".into(), safetensors(model).await?),
    ])
}

/// A `config.json` that transformers reads as `config` (transformers v5's `rope_parameters`).
pub fn config_json(config: &ModelConfig) -> Value {
    match config {
        ModelConfig::Llama(c) | ModelConfig::Qwen2(c) => {
            let qwen = matches!(config, ModelConfig::Qwen2(_));
            let mut rope = serde_json::to_value(&c.rope.scaling).unwrap_or(json!({}));
            if let Value::Object(map) = &mut rope {
                map.insert("rope_theta".into(), json!(c.rope.theta));
            }
            json!({
                "architectures": [if qwen { "Qwen2ForCausalLM" } else { "LlamaForCausalLM" }],
                "model_type": if qwen { "qwen2" } else { "llama" },
                "vocab_size": c.vocab_size,
                "hidden_size": c.hidden_size,
                "intermediate_size": c.intermediate_size,
                "num_hidden_layers": c.num_hidden_layers,
                "num_attention_heads": c.num_attention_heads,
                "num_key_value_heads": c.num_key_value_heads,
                "head_dim": c.head_dim,
                "hidden_act": "silu",
                "rms_norm_eps": c.rms_norm_eps,
                "rope_parameters": rope,
                "rope_theta": c.rope.theta,
                "tie_word_embeddings": c.tie_word_embeddings,
                "max_position_embeddings": c.max_position_embeddings,
                "attention_bias": !qwen && c.qkv_bias,
                "mlp_bias": c.mlp_bias,
                "torch_dtype": "float32",
            })
        }
        ModelConfig::Gpt2(c) => json!({
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "vocab_size": c.vocab_size,
            "n_embd": c.n_embd,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_positions": c.n_positions,
            "n_inner": c.n_inner,
            "layer_norm_epsilon": c.layer_norm_epsilon,
            "activation_function": if c.gelu_tanh { "gelu_new" } else { "gelu" },
            "tie_word_embeddings": true,
            "torch_dtype": "float32",
        }),
    }
}
