//! Where a family loader gets its tensors: [`Weights`], addressed by Hugging Face names, over
//! safetensors shards or a GGUF file (whose names and layouts the family translates).
//!
//! Every read checks the tensor's shape against the one the config implies and converts one
//! tensor at a time, so host memory peaks at about one tensor, not the model.

use std::collections::HashMap;
use std::future::Future;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use crate::device::ComputeDevice;
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::io::gguf::{GgufFile, TensorInfo};
use crate::io::safetensors::SafetensorsFile;
use crate::nn::{LayerNorm, Linear, RmsNorm, VocabMatrix};

/// Where loaded tensors go: the device, and the most bytes one tensor may have there
/// (vocabulary matrices larger than that are split).
#[derive(Debug, Clone)]
pub struct Placement {
    /// The burn device.
    pub device: Device,
    /// The largest tensor the device's kernels can bind, in bytes.
    pub max_tensor_bytes: u64,
    /// Keep linear layers' weights in 4-bit blocks (QLoRA-style frozen base).
    pub quantize: bool,
    /// The most bytes the model's weights may take (`None`: no limit): a model whose config
    /// says it needs more is refused before any tensor is read.
    pub max_weight_bytes: Option<u64>,
}

impl Placement {
    /// Tensors on `device`, within its binding limit.
    pub fn of(device: &ComputeDevice) -> Self {
        Self {
            device: device.device().clone(),
            max_tensor_bytes: device.max_tensor_bytes(),
            quantize: false,
            max_weight_bytes: None,
        }
    }

    /// Tensors on the autodiff twin of `device` (for training), within its binding limit.
    pub fn training(device: &ComputeDevice) -> Self {
        Self {
            device: device.autodiff(),
            ..Self::of(device)
        }
    }

    /// The same, with linear layers' weights kept in 4-bit blocks ([`crate::nn::Quant4`]).
    pub fn quantized(mut self) -> Self {
        self.quantize = true;
        self
    }

    /// The same, refusing models whose weights would take more than `bytes`.
    pub fn with_max_weight_bytes(mut self, bytes: u64) -> Self {
        self.max_weight_bytes = Some(bytes);
        self
    }

    /// Refuses `config` (of checkpoint `name`) when its weights would exceed
    /// [`Placement::max_weight_bytes`], naming both sizes and what would help.
    pub fn check(&self, name: &str, config: &super::ModelConfig) -> crate::Result<()> {
        let Some(limit) = self.max_weight_bytes else {
            return Ok(());
        };
        let needed = config.weight_bytes(self.quantize);
        if needed <= limit {
            return Ok(());
        }
        let advice = match self.quantize {
            false if config.weight_bytes(true) <= limit => {
                "open it with its linear layers in 4-bit blocks (the quantize option), or choose a \
                 smaller model"
            }
            _ => "choose a smaller model",
        };
        Err(crate::Error::TooLarge {
            problem: format!(
                "{name}: this model's weights need about {} here, but this engine can hold {}: \
                 {advice}",
                crate::device::human_bytes(needed),
                crate::device::human_bytes(limit)
            ),
        })
    }

    /// The same device with a smaller limit (tests use it to force splitting).
    pub fn with_max_tensor_bytes(mut self, bytes: u64) -> Self {
        self.max_tensor_bytes = self.max_tensor_bytes.min(bytes);
        self
    }
}

/// Refuses a config that describes `parameters` weights when the checkpoint holds only
/// `stored` bytes of tensors — fewer than 1.5 bits a weight, below the most compact GGUF
/// types — before anything is allocated for it: `block_count` = 2^40 in a 1 MB file is a
/// broken or hostile header. `shape` says what the config claims.
pub fn check_plausible(
    name: &str,
    parameters: f64,
    stored: u64,
    shape: impl FnOnce() -> String,
) -> crate::Result<()> {
    if parameters * 1.5 / 8.0 <= stored as f64 {
        return Ok(());
    }
    Err(crate::Error::Config {
        file: name.to_string(),
        problem: format!(
            "describes a model of about {parameters:.3e} parameters ({}), more than its {} of \
             tensors can hold",
            shape(),
            crate::device::human_bytes(stored)
        ),
    })
}

/// Named tensors, read by their Hugging Face names (`model.layers.0.self_attn.q_proj.weight`).
pub trait Weights {
    /// What errors call the checkpoint.
    fn name(&self) -> &str;
    /// Whether the checkpoint has tensor `name`.
    fn has(&self, name: &str) -> bool;
    /// Bytes of tensor data it holds: what bounds the model a config may describe.
    fn stored_bytes(&self) -> u64;
    /// Reads `name` as f32, row-major for `shape` (outermost first), failing with a typed
    /// error when it is missing or its shape differs.
    fn read(&self, name: &str, shape: &[usize]) -> impl Future<Output = Result<Vec<f32>>>;
    /// Reads rows `rows` of the `[rows, cols]` matrix `name` (checked against `shape`), reading
    /// only their bytes where the format allows: vocabulary matrices larger than memory load
    /// piece by piece.
    fn read_rows(
        &self,
        name: &str,
        shape: [usize; 2],
        rows: std::ops::Range<usize>,
    ) -> impl Future<Output = Result<Vec<f32>>>;
}

/// One or more safetensors files (a sharded checkpoint's shards), read as one.
#[derive(Debug)]
pub struct SafetensorsWeights<S> {
    name: String,
    shards: Vec<(S, SafetensorsFile)>,
    index: HashMap<String, usize>,
}

impl<S: ByteSource> SafetensorsWeights<S> {
    /// Opens the header of every shard. A tensor in two shards is an error.
    pub async fn open(name: impl Into<String>, sources: Vec<S>) -> Result<Self> {
        let mut index = HashMap::new();
        let mut shards = Vec::with_capacity(sources.len());
        for source in sources {
            let file = SafetensorsFile::open(&source).await?;
            for tensor in file.tensors.keys() {
                if let Some(&other) = index.get(tensor) {
                    let (first, _): &(S, SafetensorsFile) = &shards[other];
                    return Err(Error::Checkpoint {
                        file: source.name().to_string(),
                        problem: format!("tensor `{tensor}` is also in {}", first.name()),
                    });
                }
                index.insert(tensor.clone(), shards.len());
            }
            shards.push((source, file));
        }
        Ok(Self {
            name: name.into(),
            shards,
            index,
        })
    }
}

impl<S: ByteSource> Weights for SafetensorsWeights<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    fn stored_bytes(&self) -> u64 {
        self.shards.iter().map(|(source, _)| source.len()).sum()
    }

    async fn read(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (source, file) = self.shard(name, shape)?;
        file.read_f32(source, name).await
    }

    async fn read_rows(
        &self,
        name: &str,
        shape: [usize; 2],
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let (source, file) = self.shard(name, &shape)?;
        file.read_f32_rows(source, name, rows).await
    }
}

impl<S: ByteSource> SafetensorsWeights<S> {
    /// The shard holding `name`, once its shape is checked against `shape`.
    fn shard(&self, name: &str, shape: &[usize]) -> Result<&(S, SafetensorsFile)> {
        let Some(&shard) = self.index.get(name) else {
            return Err(Error::MissingTensor {
                file: self.name.clone(),
                tensor: name.to_string(),
            });
        };
        let (source, file) = &self.shards[shard];
        let found = &file.tensors[name].shape;
        if found != shape {
            return Err(Error::TensorShape {
                file: source.name().to_string(),
                tensor: name.to_string(),
                found: found.clone(),
                expected: shape.to_vec(),
            });
        }
        Ok(&self.shards[shard])
    }
}

/// How a GGUF tensor's layout differs from its Hugging Face counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The same.
    Same,
    /// llama.cpp interleaved the rows of each of `heads` heads for its RoPE (Llama's Q/K).
    RopeInterleaved {
        /// Heads in the tensor.
        heads: usize,
    },
    /// Stored transposed (GPT-2's `Conv1D` weights, `[in, out]` in Hugging Face).
    Transposed,
}

impl Layout {
    /// `values` of Hugging Face shape `shape` (row-major) laid out as GGUF stores them, with
    /// their shape in that layout (outermost first).
    pub fn to_gguf(self, values: Vec<f32>, shape: &[usize]) -> (Vec<f32>, Vec<usize>) {
        let cols = shape.get(1..).map_or(1, |rest| rest.iter().product());
        let values = match self {
            Layout::Same => values,
            Layout::RopeInterleaved { heads } => {
                permute_rope_rows(&values, heads, shape[0] / heads.max(1), cols)
            }
            Layout::Transposed => crate::nn::transpose(&values, shape[0], cols),
        };
        (values, self.gguf_shape(shape))
    }

    /// The shape GGUF stores a tensor of Hugging Face shape `shape` in (outermost first).
    pub fn gguf_shape(self, shape: &[usize]) -> Vec<usize> {
        match self {
            Layout::Transposed => shape.iter().rev().copied().collect(),
            _ => shape.to_vec(),
        }
    }
}

/// Maps a Hugging Face tensor name to its GGUF name and layout, or `None` when the GGUF
/// format has no such tensor.
pub type GgufNames<'a> = dyn Fn(&str) -> Option<(String, Layout)> + 'a;

/// A GGUF file read through a family's name table.
pub struct GgufWeights<'a, S> {
    file: &'a GgufFile,
    source: &'a S,
    names: &'a GgufNames<'a>,
}

impl<'a, S: ByteSource> GgufWeights<'a, S> {
    /// Reads `file` from `source`, translating names with `names`.
    pub fn new(file: &'a GgufFile, source: &'a S, names: &'a GgufNames<'a>) -> Self {
        Self {
            file,
            source,
            names,
        }
    }
}

impl<S: ByteSource> Weights for GgufWeights<'_, S> {
    fn name(&self) -> &str {
        self.source.name()
    }

    fn has(&self, name: &str) -> bool {
        (self.names)(name).is_some_and(|(gguf, _)| self.file.tensor(&gguf).is_some())
    }

    fn stored_bytes(&self) -> u64 {
        self.file.tensors.iter().map(|t| t.n_bytes).sum()
    }

    async fn read(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (info, layout) = self.tensor(name, shape)?;
        let values = self.file.read_f32(self.source, info).await?;
        let cols = shape.get(1..).map_or(1, |rest| rest.iter().product());
        Ok(match layout {
            Layout::Same => values,
            Layout::RopeInterleaved { heads } => {
                let head_dim = shape[0] / heads.max(1);
                unpermute_rope_rows(&values, heads, head_dim, cols)
            }
            Layout::Transposed => crate::nn::transpose(&values, shape[1], shape[0]),
        })
    }

    async fn read_rows(
        &self,
        name: &str,
        shape: [usize; 2],
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<f32>> {
        let (info, layout) = self.tensor(name, &shape)?;
        match layout {
            Layout::Same => self.file.read_f32_rows(self.source, info, rows).await,
            // Rows that GGUF reorders or transposes are not contiguous: read it whole.
            _ => {
                let values = self.read(name, &shape).await?;
                Ok(values[rows.start * shape[1]..rows.end * shape[1]].to_vec())
            }
        }
    }
}

impl<S: ByteSource> GgufWeights<'_, S> {
    /// The GGUF tensor behind Hugging Face's `name` and how its layout differs, once its shape
    /// is checked against `shape`.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<(&TensorInfo, Layout)> {
        let missing = |tensor: String| Error::MissingTensor {
            file: self.source.name().to_string(),
            tensor,
        };
        let (gguf, layout) = (self.names)(name).ok_or_else(|| missing(name.to_string()))?;
        let info = self
            .file
            .tensor(&gguf)
            .ok_or_else(|| missing(gguf.clone()))?;
        let expected: Vec<usize> = match layout {
            Layout::Transposed => shape.iter().rev().copied().collect(),
            _ => shape.to_vec(),
        };
        if info.shape() != expected {
            return Err(Error::TensorShape {
                file: self.source.name().to_string(),
                tensor: gguf,
                found: info.shape(),
                expected,
            });
        }
        Ok((info, layout))
    }
}

/// Undoes llama.cpp's `permute` of Q/K rows. Its converter reorders each head's rows from
/// Hugging Face's rotate-half layout (`[first halves…, second halves…]`) to interleaved pairs;
/// GGUF row `h·d + 2i + j` holds Hugging Face row `h·d + j·d/2 + i`.
pub fn unpermute_rope_rows(w: &[f32], heads: usize, head_dim: usize, cols: usize) -> Vec<f32> {
    move_rope_rows(w, heads, head_dim, cols, false)
}

/// llama.cpp's `permute` of Q/K rows (what [`unpermute_rope_rows`] undoes), for writing GGUF.
pub fn permute_rope_rows(w: &[f32], heads: usize, head_dim: usize, cols: usize) -> Vec<f32> {
    move_rope_rows(w, heads, head_dim, cols, true)
}

fn move_rope_rows(
    w: &[f32],
    heads: usize,
    head_dim: usize,
    cols: usize,
    to_gguf: bool,
) -> Vec<f32> {
    let half = head_dim / 2;
    let mut out = vec![0.0; w.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let gguf = (h * head_dim + 2 * i + j) * cols;
                let hf = (h * head_dim + j * half + i) * cols;
                let (to, from) = if to_gguf { (gguf, hf) } else { (hf, gguf) };
                out[to..to + cols].copy_from_slice(&w[from..from + cols]);
            }
        }
    }
    out
}

/// Reads a `[rows, cols]` parameter.
pub async fn matrix(
    w: &impl Weights,
    name: &str,
    [rows, cols]: [usize; 2],
    device: &Device,
) -> Result<Param<Tensor<2>>> {
    let values = w.read(name, &[rows, cols]).await?;
    let tensor = Tensor::from_data(TensorData::new(values, [rows, cols]), device);
    uploaded(w, name, device)?;
    Ok(Param::from_tensor(tensor))
}

/// Hands the uploads queued on `device` to it now: a queued upload keeps its host copy alive
/// until the device flushes, so without this a model's tensors would pile up in host memory
/// (wasm's 4 GiB) while it loads.
fn uploaded(w: &impl Weights, name: &str, device: &Device) -> Result<()> {
    device.flush().map_err(|err| Error::Checkpoint {
        file: w.name().to_string(),
        problem: format!("uploading `{name}` to the device failed: {err:?}"),
    })
}

/// Reads a `[rows, cols]` vocabulary matrix (embedding or LM head), split to fit `placement`.
pub async fn vocab_matrix(
    w: &impl Weights,
    name: &str,
    shape: [usize; 2],
    placement: &Placement,
) -> Result<VocabMatrix> {
    // Piece by piece: host memory holds one piece at a time, not the matrix (a 2 GB embedding
    // loads within wasm32's 4 GiB).
    let rows_per_chunk = VocabMatrix::rows_per_chunk(shape, placement.max_tensor_bytes);
    let mut chunks = Vec::new();
    for start in (0..shape[0]).step_by(rows_per_chunk) {
        let end = (start + rows_per_chunk).min(shape[0]);
        let values = w.read_rows(name, shape, start..end).await?;
        chunks.push(Tensor::from_data(
            TensorData::new(values, [end - start, shape[1]]),
            &placement.device,
        ));
        uploaded(w, name, &placement.device)?;
    }
    Ok(VocabMatrix::from_chunks(chunks, rows_per_chunk))
}

/// Reads a PyTorch `nn.Linear` (`{prefix}.weight` `[out, in]`, and `{prefix}.bias` when
/// `bias`).
pub async fn linear(
    w: &impl Weights,
    prefix: &str,
    [out, inp]: [usize; 2],
    bias: bool,
    placement: &Placement,
) -> Result<Linear> {
    let weight = w.read(&format!("{prefix}.weight"), &[out, inp]).await?;
    let bias = match bias {
        true => Some(w.read(&format!("{prefix}.bias"), &[out]).await?),
        false => None,
    };
    let layer = Linear::from_torch_quantized(
        weight,
        [out, inp],
        bias,
        placement.quantize,
        &placement.device,
    );
    uploaded(w, prefix, &placement.device)?;
    Ok(layer)
}

/// Reads an RMSNorm scale `{name}` of width `n`.
pub async fn rms_norm(
    w: &impl Weights,
    name: &str,
    n: usize,
    eps: f64,
    device: &Device,
) -> Result<RmsNorm> {
    Ok(RmsNorm::new(w.read(name, &[n]).await?, eps, device))
}

/// Reads a LayerNorm (`{prefix}.weight`, `{prefix}.bias`) of width `n`.
pub async fn layer_norm(
    w: &impl Weights,
    prefix: &str,
    n: usize,
    eps: f64,
    device: &Device,
) -> Result<LayerNorm> {
    let weight = w.read(&format!("{prefix}.weight"), &[n]).await?;
    let bias = w.read(&format!("{prefix}.bias"), &[n]).await?;
    Ok(LayerNorm::new(weight, bias, eps, device))
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
        assert_eq!(super::permute_rope_rows(&hf, heads, d, cols), gguf);
    }
}
