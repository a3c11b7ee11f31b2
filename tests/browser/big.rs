//! A model over 2 GB loads within wasm32's 4 GiB: a synthetic one-layer Llama whose f32
//! embedding alone is 2.2 GB (270,000 × 2,048) is written to the Origin Private File System,
//! opened as a `File` (read with `Blob.slice`, as the page opens models) on WebGPU asked for
//! the default 128 MiB binding, and loads with its vocabulary matrix read and uploaded piece
//! by piece: wasm memory grows by a fraction of the model. Its embedding lookups (in the
//! first, a middle and the last piece) and its logits at rows of every piece are checked
//! against values computed on the host from the rows written.

use wasm_bindgen::prelude::*;
use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::device::read_f32;
use webtune::models::{CausalLm, Model, load_checkpoint};
use webtune::platform::{BlobSource, wasm_memory_bytes};

#[wasm_bindgen(inline_js = r#"
export async function opfs_create(name) {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(name, { create: true });
  return { handle, writable: await handle.createWritable() };
}
export async function opfs_write(file, bytes) { await file.writable.write(bytes); }
export async function opfs_finish(file) {
  await file.writable.close();
  return await file.handle.getFile();
}
export async function opfs_remove(name) {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(name);
}
export function blob_of(bytes) { return new Blob([bytes]); }
"#)]
extern "C" {
    async fn opfs_create(name: &str) -> JsValue;
    async fn opfs_write(file: &JsValue, bytes: js_sys::Uint8Array);
    async fn opfs_finish(file: &JsValue) -> JsValue;
    async fn opfs_remove(name: &str);
    fn blob_of(bytes: js_sys::Uint8Array) -> JsValue;
}

const VOCAB: usize = 270_000;
const HIDDEN: usize = 2048;
const FFN: usize = 256;
const HEADS: usize = 16;
const KV_HEADS: usize = 4;
const HEAD_DIM: usize = HIDDEN / HEADS;
/// Distinct row patterns; row `r` is pattern `r % PATTERNS` with column 0 set to `marker(r)`.
const PATTERNS: usize = 61;
const FILE: &str = "webtune-test-big.safetensors";

/// A small deterministic value in [-scale, scale) for index `i` of stream `seed`.
fn value(seed: u64, i: u64, scale: f32) -> f32 {
    let mut x = (seed << 40) ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    ((x % 2001) as f32 / 1000.0 - 1.0) * scale
}

fn pattern(p: usize) -> Vec<f32> {
    (0..HIDDEN)
        .map(|c| value(1, (p * HIDDEN + c) as u64, 0.05))
        .collect()
}

/// Column 0 of embedding row `r`: unique per row, so a lookup shows which row it read.
fn marker(r: usize) -> f32 {
    r as f32 / VOCAB as f32
}

/// The small tensors (name, shape, values) of the one layer and the final norm.
fn small_tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let kv = KV_HEADS * HEAD_DIM;
    let layer = "model.layers.0";
    let dense = |seed: u64, shape: [usize; 2]| {
        let n = (shape[0] * shape[1]) as u64;
        (0..n).map(|i| value(seed, i, 0.02)).collect::<Vec<f32>>()
    };
    let ones = |n: usize| vec![1.0f32; n];
    vec![
        (
            format!("{layer}.input_layernorm.weight"),
            vec![HIDDEN],
            ones(HIDDEN),
        ),
        (
            format!("{layer}.post_attention_layernorm.weight"),
            vec![HIDDEN],
            ones(HIDDEN),
        ),
        (
            format!("{layer}.self_attn.q_proj.weight"),
            vec![HIDDEN, HIDDEN],
            dense(2, [HIDDEN, HIDDEN]),
        ),
        (
            format!("{layer}.self_attn.k_proj.weight"),
            vec![kv, HIDDEN],
            dense(3, [kv, HIDDEN]),
        ),
        (
            format!("{layer}.self_attn.v_proj.weight"),
            vec![kv, HIDDEN],
            dense(4, [kv, HIDDEN]),
        ),
        (
            format!("{layer}.self_attn.o_proj.weight"),
            vec![HIDDEN, HIDDEN],
            dense(5, [HIDDEN, HIDDEN]),
        ),
        (
            format!("{layer}.mlp.gate_proj.weight"),
            vec![FFN, HIDDEN],
            dense(6, [FFN, HIDDEN]),
        ),
        (
            format!("{layer}.mlp.up_proj.weight"),
            vec![FFN, HIDDEN],
            dense(7, [FFN, HIDDEN]),
        ),
        (
            format!("{layer}.mlp.down_proj.weight"),
            vec![HIDDEN, FFN],
            dense(8, [HIDDEN, FFN]),
        ),
        ("model.norm.weight".into(), vec![HIDDEN], ones(HIDDEN)),
    ]
}

fn config_json() -> String {
    serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FFN,
        "num_hidden_layers": 1, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": 256, "tie_word_embeddings": true, "hidden_act": "silu",
        "bos_token_id": 1, "eos_token_id": 2
    })
    .to_string()
}

/// Writes the safetensors file to OPFS in 16 MiB writes and returns it as a `File`.
async fn write_model() -> JsValue {
    let small = small_tensors();
    let mut shapes: Vec<(&str, &[usize])> =
        vec![("model.embed_tokens.weight", &[VOCAB, HIDDEN][..])];
    shapes.extend(small.iter().map(|(n, s, _)| (n.as_str(), s.as_slice())));
    let file = opfs_create(FILE).await;
    let header = webtune::io::safetensors::f32_header(&shapes);
    opfs_write(&file, js_sys::Uint8Array::from(&header[..])).await;

    let patterns: Vec<Vec<u8>> = (0..PATTERNS)
        .map(|p| pattern(p).iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let rows_per_write = (16 << 20) / (HIDDEN * 4);
    let mut chunk = vec![0u8; rows_per_write * HIDDEN * 4];
    for first in (0..VOCAB).step_by(rows_per_write) {
        let rows = rows_per_write.min(VOCAB - first);
        for k in 0..rows {
            let r = first + k;
            let row = &mut chunk[k * HIDDEN * 4..(k + 1) * HIDDEN * 4];
            row.copy_from_slice(&patterns[r % PATTERNS]);
            row[..4].copy_from_slice(&marker(r).to_le_bytes());
        }
        let bytes = js_sys::Uint8Array::from(&chunk[..rows * HIDDEN * 4]);
        opfs_write(&file, bytes).await;
    }
    for (_, _, values) in &small {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        opfs_write(&file, js_sys::Uint8Array::from(&bytes[..])).await;
    }
    opfs_finish(&file).await
}

/// What the check measured.
pub(crate) struct BigModel {
    pub file_bytes: u64,
    pub pieces: usize,
    pub memory_before: u64,
    pub memory_after: u64,
    pub seconds_write: f64,
    pub seconds_load: f64,
    pub seconds_check: f64,
    pub max_abs_diff: f32,
}

pub(crate) async fn model_over_2_gb_loads_within_wasm_memory(
    gpu: &webtune::ComputeDevice,
) -> BigModel {
    let now = webtune::platform::seconds_now;
    let started = now();
    let file = write_model().await;
    let written = now();
    let safetensors = BlobSource::new(FILE, file).unwrap();
    let file_bytes = webtune::io::ByteSource::len(&safetensors);
    assert!(file_bytes > 2 << 30, "{file_bytes} bytes: not over 2 GiB");
    let config = BlobSource::new(
        "config.json",
        blob_of(js_sys::Uint8Array::from(config_json().as_bytes())),
    )
    .unwrap();

    let memory_before = wasm_memory_bytes();
    let loaded = load_checkpoint("big", vec![config, safetensors], gpu).await;
    let memory_after = wasm_memory_bytes();
    let loaded = loaded.unwrap_or_else(|err| panic!("the 2.2 GB model did not load: {err}"));
    let seconds_load = now() - written;
    let Model::Llama(llama) = &loaded.model else {
        panic!("not a Llama");
    };
    let pieces = llama.embed_tokens.chunks.len();
    assert!(pieces >= 17, "{pieces} pieces");

    // Lookups in the first, a middle and the last piece read the rows written there.
    let ids = vec![0i32, 135_001, VOCAB as i32 - 1, 7];
    let device = gpu.device();
    let input = || Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, 4]), device);
    let rows = read_f32(llama.embed_tokens.embed(input()), "embedded")
        .await
        .unwrap();
    for (k, &id) in ids.iter().enumerate() {
        let id = id as usize;
        let mut want = pattern(id % PATTERNS);
        want[0] = marker(id);
        let got = &rows[k * HIDDEN..(k + 1) * HIDDEN];
        assert_eq!(got, &want[..], "embedding row {id}");
    }

    // The last position's logits at sampled rows of every piece equal the host's dot products
    // with its final hidden state (one position: a projection over 2.2 GB takes SwiftShader
    // about 15 s; the 135 MB split test generates through split pieces).
    let hidden = loaded
        .model
        .hidden_cached(input(), &mut loaded.model.new_cache())
        .narrow(1, ids.len() - 1, 1);
    let logits = read_f32(loaded.model.logits(hidden.clone()), "logits")
        .await
        .unwrap();
    let h = read_f32(hidden, "hidden").await.unwrap();
    let patterns: Vec<Vec<f32>> = (0..PATTERNS).map(pattern).collect();
    let mut max_abs_diff = 0f32;
    for row in (0..VOCAB).step_by(997).chain([VOCAB - 1]) {
        let p = &patterns[row % PATTERNS];
        let want: f32 =
            h[0] * marker(row) + h[1..].iter().zip(&p[1..]).map(|(a, b)| a * b).sum::<f32>();
        let got = logits[row];
        let diff = (got - want).abs();
        assert!(
            diff <= 1e-3 * (1.0 + want.abs()),
            "logit of row {row}: {got} (host {want})"
        );
        max_abs_diff = max_abs_diff.max(diff);
    }
    let checked = now();

    drop(loaded);
    opfs_remove(FILE).await;
    BigModel {
        file_bytes,
        pieces,
        memory_before,
        memory_after,
        seconds_write: written - started,
        seconds_load,
        seconds_check: checked - written - seconds_load,
        max_abs_diff,
    }
}
