//! A minimal GGUF writer for tests: synthetic checkpoints (tiny models, corrupt variants)
//! without Python. F32 tensors only; metadata of the types the loaders read.

/// A metadata value to write.
pub enum Meta {
    /// `u32`.
    U32(u32),
    /// `u64`.
    U64(u64),
    /// `f32`.
    F32(f32),
    /// A UTF-8 string.
    Str(String),
    /// Any value: its GGUF type id and encoded bytes.
    Raw(u32, Vec<u8>),
}

/// Builds a GGUF v3 file in memory.
#[derive(Default)]
pub struct GgufWriter {
    meta: Vec<(String, Meta)>,
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl GgufWriter {
    /// Adds a metadata entry, or replaces the value of `key`.
    pub fn meta(mut self, key: &str, value: Meta) -> Self {
        match self.meta.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.meta.push((key.to_string(), value)),
        }
        self
    }

    /// Adds an F32 tensor with `shape` outermost first (as PyTorch lists it).
    pub fn tensor(mut self, name: &str, shape: &[usize], values: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "{name}");
        self.tensors
            .push((name.to_string(), shape.to_vec(), values));
        self
    }

    /// Sets value `index` of tensor `name` (a NaN, say).
    pub fn set_value(mut self, name: &str, index: usize, value: f32) -> Self {
        if let Some((_, _, values)) = self.tensors.iter_mut().find(|(n, _, _)| n == name) {
            values[index] = value;
        }
        self
    }

    /// The file's bytes.
    pub fn build(self) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend((s.len() as u64).to_le_bytes());
            out.extend(s.as_bytes());
        }
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.meta.len() as u64).to_le_bytes());
        for (key, value) in &self.meta {
            string(&mut out, key);
            match value {
                Meta::U32(v) => {
                    out.extend(4u32.to_le_bytes());
                    out.extend(v.to_le_bytes());
                }
                Meta::U64(v) => {
                    out.extend(10u32.to_le_bytes());
                    out.extend(v.to_le_bytes());
                }
                Meta::Raw(type_id, bytes) => {
                    out.extend(type_id.to_le_bytes());
                    out.extend(bytes);
                }
                Meta::F32(v) => {
                    out.extend(6u32.to_le_bytes());
                    out.extend(v.to_le_bytes());
                }
                Meta::Str(s) => {
                    out.extend(8u32.to_le_bytes());
                    string(&mut out, s);
                }
            }
        }
        let mut offset = 0u64;
        for (name, shape, values) in &self.tensors {
            string(&mut out, name);
            out.extend((shape.len() as u32).to_le_bytes());
            for &d in shape.iter().rev() {
                out.extend((d as u64).to_le_bytes());
            }
            out.extend(0u32.to_le_bytes()); // F32
            out.extend(offset.to_le_bytes());
            offset += (values.len() as u64 * 4).div_ceil(32) * 32;
        }
        out.resize(out.len().div_ceil(32) * 32, 0);
        for (_, _, values) in &self.tensors {
            let start = out.len();
            out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            out.resize(start + (values.len() * 4).div_ceil(32) * 32, 0);
        }
        out
    }
}

/// The shape of a random Llama written by [`llama_gguf`].
#[derive(Debug, Clone, Copy)]
pub struct LlamaShape {
    /// Vocabulary size.
    pub vocab: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Feed-forward size.
    pub ffn: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Query heads (as the metadata says; 0 makes an impossible config).
    pub heads: u32,
    /// Key/value heads.
    pub kv_heads: usize,
}

/// A tiny random Llama in GGUF layout (2 layers, hidden 8, 2 query heads, 1 KV head,
/// vocabulary 16, tied head), with tensor `skip` left out and `reshape` given another shape.
pub fn tiny_llama(skip: Option<&str>, reshape: Option<(&str, Vec<usize>)>, heads: u32) -> Vec<u8> {
    llama_gguf(tiny_shape(heads), skip, reshape)
}

/// [`tiny_llama`]'s shape, with `heads` query heads.
pub fn tiny_shape(heads: u32) -> LlamaShape {
    LlamaShape {
        vocab: 16,
        hidden: 8,
        ffn: 12,
        layers: 2,
        heads,
        kv_heads: 1,
    }
}

/// A random Llama of `shape` in GGUF layout (f32, tied head), with tensor `skip` left out and
/// `reshape` given another shape.
pub fn llama_gguf(
    shape: LlamaShape,
    skip: Option<&str>,
    reshape: Option<(&str, Vec<usize>)>,
) -> Vec<u8> {
    llama_writer(shape, skip, reshape).build()
}

/// [`llama_gguf`]'s writer, before it writes: more metadata can be set.
pub fn llama_writer(
    shape: LlamaShape,
    skip: Option<&str>,
    reshape: Option<(&str, Vec<usize>)>,
) -> GgufWriter {
    let LlamaShape {
        vocab,
        hidden,
        ffn,
        layers,
        heads,
        kv_heads,
    } = shape;
    let kv_dim = kv_heads * hidden / heads.max(2) as usize;
    let mut w = GgufWriter::default()
        .meta("general.architecture", Meta::Str("llama".into()))
        .meta("llama.block_count", Meta::U32(layers as u32))
        .meta("llama.embedding_length", Meta::U32(hidden as u32))
        .meta("llama.feed_forward_length", Meta::U32(ffn as u32))
        .meta("llama.attention.head_count", Meta::U32(heads))
        .meta("llama.attention.head_count_kv", Meta::U32(kv_heads as u32))
        .meta("llama.vocab_size", Meta::U32(vocab as u32))
        .meta("llama.attention.layer_norm_rms_epsilon", Meta::F32(1e-5));
    let mut seed = 100;
    let mut add = |w: GgufWriter, name: String, shape: Vec<usize>| {
        if skip == Some(name.as_str()) {
            return w;
        }
        let shape = match &reshape {
            Some((n, s)) if *n == name => s.clone(),
            _ => shape,
        };
        seed += 1;
        let values = webtune::selfcheck::fixed_values(seed, shape.iter().product(), 0.3);
        w.tensor(&name, &shape, values)
    };
    w = add(w, "token_embd.weight".into(), vec![vocab, hidden]);
    for n in 0..layers {
        for (part, shape) in [
            ("attn_norm", vec![hidden]),
            ("attn_q", vec![hidden, hidden]),
            ("attn_k", vec![kv_dim, hidden]),
            ("attn_v", vec![kv_dim, hidden]),
            ("attn_output", vec![hidden, hidden]),
            ("ffn_norm", vec![hidden]),
            ("ffn_gate", vec![ffn, hidden]),
            ("ffn_up", vec![ffn, hidden]),
            ("ffn_down", vec![hidden, ffn]),
        ] {
            w = add(w, format!("blk.{n}.{part}.weight"), shape);
        }
    }
    add(w, "output_norm.weight".into(), vec![hidden])
}
