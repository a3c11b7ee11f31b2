//! Writing a model back out: as a Hugging Face checkpoint ([`hf`]: `config.json` and
//! `model.safetensors` with transformers' names and layouts) or as a GGUF file for llama.cpp
//! ([`gguf`]). Both walk the same list of tensors by Hugging Face name, read back from the
//! device one at a time.

mod gguf;
mod hf;

pub use gguf::gguf_model;
pub use hf::{checkpoint_files, config_json, safetensors};

use burn::tensor::Tensor;

use super::Model;
use crate::device::read_f32;
use crate::error::{Error, Result};
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

impl Named {
    /// Its values read back from the device, row-major for `shape` (Hugging Face's layout).
    async fn read(self) -> Result<(String, Vec<usize>, Vec<f32>)> {
        let mut values = Vec::new();
        for block in self.values {
            let [rows, cols] = block.dims();
            let block = read_f32(block, &self.name).await?;
            values.extend(match self.transposed {
                true => transpose(&block, rows, cols),
                false => block,
            });
        }
        Ok((self.name, self.shape, values))
    }
}
