//! Helpers shared by the native and browser test tiers: reference fixtures and the
//! tolerances each tier is held to.
//!
//! A test body is written once as an `async fn(&ComputeDevice)` and run by every tier:
//! `native/` runs it on the CPU and GPU tiers, `browser/` in headless Chromium on WebGPU.

// Test support: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adapters;
mod edges;
mod embed;
mod fused;
pub mod gguf_writer;
mod large;
mod lora;
mod methods;
mod preference;
mod tiny;

pub use adapters::*;
pub use edges::*;
pub use embed::*;
pub use fused::*;
pub use large::*;
pub use lora::*;
pub use methods::*;
pub use preference::*;
pub use tiny::*;

use webtune::numerics::Tolerance;
use webtune::selfcheck::MlpCheck;
use webtune::{ComputeDevice, Result, Tier};

/// PyTorch's loss and gradients for the self-check network, written by
/// `tests/fixtures/mlp/make_fixture.py` (regenerate with that script; see tests/README.md).
pub const MLP_REFERENCE_JSON: &str = include_str!("../fixtures/mlp/reference.json");

/// The PyTorch reference for [`webtune::selfcheck::run_mlp`].
pub fn mlp_reference() -> MlpCheck {
    serde_json::from_str(MLP_REFERENCE_JSON).expect("tests/fixtures/mlp/reference.json parses")
}

/// How closely a tier must match the PyTorch reference in f32.
pub fn tolerance(tier: Tier) -> Tolerance {
    match tier {
        // Same arithmetic as PyTorch's CPU kernels up to summation order.
        Tier::Cpu => Tolerance::new(1e-6, 1e-5),
        // GPU matmuls tile and reduce in another order and `erf`/`exp` are polyfills: ~1e-8 seen.
        Tier::Gpu => Tolerance::new(1e-6, 1e-4),
    }
}

/// The self-check network on `device` agrees with PyTorch and with the CPU tier.
pub async fn mlp_matches_reference_and_cpu(device: &ComputeDevice) -> Result<()> {
    let result = webtune::selfcheck::run_mlp(device).await?;
    let tol = tolerance(device.tier());
    result.compare(&mlp_reference(), tol)?;
    let on_cpu = webtune::selfcheck::run_mlp(&ComputeDevice::cpu()).await?;
    result.compare(&on_cpu, tol)?;
    Ok(())
}

/// A gradient that is wrong by one part in a thousand is caught (the check can fail).
pub async fn perturbed_gradient_is_caught(device: &ComputeDevice) -> Result<()> {
    let mut result = webtune::selfcheck::run_mlp(device).await?;
    result.grads[2].values[17] *= 1.001;
    result.grads[2].values[17] += 1e-4;
    match result.compare(&mlp_reference(), tolerance(device.tier())) {
        Err(webtune::Error::Mismatch(m)) => {
            assert!(m.to_string().contains("grad w2`[17]"), "{m}");
            Ok(())
        }
        other => panic!("a perturbed gradient passed the comparison: {other:?}"),
    }
}

/// Matmul shapes of the models webtune fine-tunes: SmolLM2-135M's projections (hidden 576,
/// FFN 1536), a prefill, single-token decode, and per-head attention scores.
pub const MODEL_MATMULS: [(&str, [usize; 3], [usize; 3]); 4] = [
    ("decode q_proj", [1, 1, 576], [1, 576, 576]),
    ("prefill up_proj", [1, 64, 576], [1, 576, 1536]),
    ("prefill down_proj", [1, 37, 1536], [1, 1536, 576]),
    ("attention scores", [9, 128, 64], [9, 64, 128]),
];

/// `y`, and the gradients of `sum(y²)` with respect to `x` and `w`, read back.
async fn with_gradients<const D: usize>(
    y: webtune::burn::tensor::Tensor<D>,
    x: webtune::burn::tensor::Tensor<D>,
    w: webtune::burn::tensor::Tensor<D>,
) -> Result<[Vec<f32>; 3]> {
    use webtune::device::read_f32;
    let grads = (y.clone() * y.clone()).sum().backward();
    let gx = x.grad(&grads).expect("x has a gradient");
    let gw = w.grad(&grads).expect("w has a gradient");
    Ok([
        read_f32(y, "y").await?,
        read_f32(gx, "dx").await?,
        read_f32(gw, "dw").await?,
    ])
}

/// A product and its two gradients against the CPU tier's. Each output sums hundreds of
/// products, so an element that cancels to near zero still carries rounding of the order of
/// the tensor's largest values.
fn products_agree(name: &str, got: &[Vec<f32>; 3], want: &[Vec<f32>; 3]) -> Result<()> {
    for (part, (g, w)) in ["y", "dx", "dw"].iter().zip(got.iter().zip(want)) {
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        let tol = Tolerance::new(1e-5 * scale, 1e-4);
        webtune::numerics::compare(&format!("{name} {part}"), g, w, tol)?;
    }
    Ok(())
}

/// Matmuls at model shapes give the CPU tier's numbers, forward and both input gradients:
/// burn's batched ones and the 2-D products of `nn::matmul`.
pub async fn model_matmuls_match_cpu(device: &ComputeDevice) -> Result<()> {
    use webtune::burn::tensor::{Tensor, TensorData};
    use webtune::selfcheck::fixed_values;

    async fn run(device: &ComputeDevice, a: [usize; 3], b: [usize; 3]) -> Result<[Vec<f32>; 3]> {
        let ad = device.autodiff();
        let make = |seed, shape: [usize; 3]| {
            let n = shape.iter().product();
            Tensor::<3>::from_data(TensorData::new(fixed_values(seed, n, 0.5), shape), &ad)
                .require_grad()
        };
        let (x, w) = (make(11, a), make(12, b));
        let y = x.clone().matmul(w.clone());
        with_gradients(y, x, w).await
    }

    for (name, a, b) in MODEL_MATMULS {
        let got = run(device, a, b).await?;
        products_agree(name, &got, &run(&ComputeDevice::cpu(), a, b).await?)?;
    }
    // Products through `nn::matmul` take the kernels it chooses on the GPU tier (gemv, the
    // tiled ones), forward and backward: the same numbers.
    async fn chosen(
        device: &ComputeDevice,
        [m, k, n]: [usize; 3],
        tied: bool,
    ) -> Result<[Vec<f32>; 3]> {
        let ad = device.autodiff();
        let x = fixed_values(21, m * k, 0.5);
        let x = Tensor::<2>::from_data(TensorData::new(x, [m, k]), &ad).require_grad();
        let w = fixed_values(22, k * n, 0.5);
        let w = match tied {
            // A tied LM head: `[n, k]` stored, read transposed.
            true => Tensor::<2>::from_data(TensorData::new(w, [n, k]), &ad).require_grad(),
            false => Tensor::<2>::from_data(TensorData::new(w, [k, n]), &ad).require_grad(),
        };
        let y = webtune::nn::matmul(
            x.clone(),
            if tied {
                w.clone().transpose()
            } else {
                w.clone()
            },
        );
        with_gradients(y, x, w).await
    }
    for (name, shape, tied) in [
        ("decode up_proj (one row)", [1, 576, 1536], false),
        ("decode LM head (one row, tied)", [1, 576, 4099], true),
        ("decode odd widths (one row)", [1, 37, 5], false),
        ("short prompt up_proj (7 rows)", [7, 576, 1536], false),
        ("short prompt LM head (7 rows, tied)", [7, 576, 4099], true),
        (
            "most rows chosen (odd widths)",
            [webtune::nn::SMALL_ROWS, 37, 5],
            false,
        ),
        ("prompt down_proj (37 rows)", [37, 1536, 576], false),
        (
            "prompt LM head (21 rows, tied, odd widths)",
            [21, 66, 4099],
            true,
        ),
        ("widths of two (13 rows)", [13, 6, 10], false),
    ] {
        let got = chosen(device, shape, tied).await?;
        products_agree(
            name,
            &got,
            &chosen(&ComputeDevice::cpu(), shape, tied).await?,
        )?;
    }
    Ok(())
}

/// `n` one-turn conversations as `messages` JSONL, turn `i` being `turn(i)` = (user, assistant).
pub fn conversations_jsonl(n: usize, turn: impl Fn(usize) -> (String, String)) -> String {
    (0..n)
        .map(|i| {
            let (user, assistant) = turn(i);
            serde_json::json!({"messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant}]})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path of a model that `scripts/fetch-models.sh` puts in `.cache/models/`.
///
/// Panics (failing the test, never skipping it) when the file is missing.
#[cfg(not(target_arch = "wasm32"))]
pub fn model_path(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/models")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-models.sh (scripts/setup.sh does)",
        path.display()
    );
    path
}

/// The default model: SmolLM2-135M-Instruct, 4-bit GGUF.
pub const SMOLLM2_GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// transformers' logits for SmolLM2 (`fixtures/smollm2/make_logits_fixture.py`).
pub const SMOLLM2_LOGITS_JSON: &str = include_str!("../fixtures/smollm2/logits_reference.json");

/// transformers' own float16 pass against its float32 one, on the same prompts
/// (`fixtures/smollm2/make_f16_fixture.py`).
pub const SMOLLM2_F16_JSON: &str = include_str!("../fixtures/smollm2/f16_reference.json");

/// The largest |f16 − f32| difference of transformers' own logits on the fixture's prompts.
pub fn transformers_f16_deviation() -> f32 {
    let reference: serde_json::Value = serde_json::from_str(SMOLLM2_F16_JSON).unwrap();
    reference["max_abs_diff_vs_f32"].as_f64().unwrap() as f32
}

/// How closely a device must match transformers' f32 logits for the 4-bit SmolLM2 (issue
/// #3); in f16, within twice the distance of transformers' own f16 logits from its f32 ones.
pub fn logits_tolerance(device: &ComputeDevice) -> Tolerance {
    match (device.tier(), device.precision()) {
        (_, webtune::device::Precision::F16) => {
            Tolerance::new(2.0 * transformers_f16_deviation(), 0.0)
        }
        (Tier::Cpu, _) => Tolerance::new(1e-3, 0.0),
        (Tier::Gpu, _) => Tolerance::new(1e-2, 0.0),
    }
}

/// The index of the largest value (the first of equal ones).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
        .0
}

/// `ln Σ exp(v)`, computed stably.
pub fn logsumexp(row: &[f32]) -> f32 {
    let max = row.iter().fold(f32::MIN, |m, &v| m.max(v));
    max + row.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
}

/// SmolLM2's logits on `device` match transformers': every position's argmax and
/// log-sum-exp, and the sampled logits of the last positions. Returns the worst agreement.
pub async fn llama_logits_match_transformers(
    model: &impl webtune::models::CausalLm,
    device: &ComputeDevice,
) -> Result<webtune::numerics::Agreement> {
    let mut worst = webtune::numerics::Agreement::default();
    use webtune::burn::tensor::{Int, Tensor, TensorData};

    let reference: serde_json::Value = serde_json::from_str(SMOLLM2_LOGITS_JSON).unwrap();
    let stride = reference["stride"].as_u64().unwrap() as usize;
    let tol = logits_tolerance(device);
    for prompt in reference["prompts"].as_array().unwrap() {
        let ids: Vec<i32> = serde_json::from_value(prompt["ids"].clone()).unwrap();
        let seq = ids.len();
        let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, seq]), device.device());
        let logits = model.forward(input);
        let vocab = model.vocab_size();
        let values = webtune::device::read_f32(logits, "logits").await?;
        let rows: Vec<&[f32]> = values.chunks_exact(vocab).collect();
        let argmax: Vec<f32> = rows.iter().map(|r| argmax(r) as f32).collect();
        let lse: Vec<f32> = rows.iter().map(|r| logsumexp(r)).collect();
        let text = prompt["text"].as_str().unwrap();
        let want_argmax: Vec<f32> = serde_json::from_value(prompt["argmax"].clone()).unwrap();
        webtune::numerics::compare(
            &format!("argmax of {text:?}"),
            &argmax,
            &want_argmax,
            Tolerance::new(0.0, 0.0),
        )?;
        let want_lse: Vec<f32> = serde_json::from_value(prompt["logsumexp"].clone()).unwrap();
        worst = worst.worst(webtune::numerics::compare(
            &format!("logsumexp of {text:?}"),
            &lse,
            &want_lse,
            tol,
        )?);
        let tail: Vec<Vec<f32>> = serde_json::from_value(prompt["tail_sampled"].clone()).unwrap();
        for (k, want) in tail.iter().enumerate() {
            let row = rows[seq - tail.len() + k];
            let got: Vec<f32> = row.iter().step_by(stride).copied().collect();
            worst = worst.worst(webtune::numerics::compare(
                &format!("logits of {text:?} at {k}"),
                &got,
                want,
                tol,
            )?);
        }
    }
    Ok(worst)
}

/// Greedy decoding of the ChatML "What is the capital of France?" prompt through the KV cache
/// gives transformers' tokens ("The capital of France is Paris.").
pub async fn llama_greedy_matches_transformers(
    model: &impl webtune::models::CausalLm,
    device: &ComputeDevice,
) -> Result<()> {
    use webtune::generate::{Flow, GenerateConfig, generate};

    let reference: serde_json::Value = serde_json::from_str(SMOLLM2_LOGITS_JSON).unwrap();
    let prompt: Vec<u32> =
        serde_json::from_value(reference["greedy"]["prompt_ids"].clone()).unwrap();
    let want: Vec<u32> = serde_json::from_value(reference["greedy"]["ids"].clone()).unwrap();
    let config = GenerateConfig {
        max_new_tokens: want.len() + 4,
        stop_ids: vec![2],
        ..GenerateConfig::default()
    };
    let mut streamed = Vec::new();
    let got = generate(model, device.device(), &prompt, &config, |t| {
        streamed.push(t);
        Flow::Continue
    })
    .await?;
    assert_eq!(got, want, "greedy tokens differ from transformers'");
    // Every token but the stop id was streamed as it came.
    assert_eq!(streamed, want[..want.len() - 1]);
    Ok(())
}

/// Fetches a file served by the test runner (the browser tier's way to read test models:
/// `wasm-bindgen-test-runner` serves the package directory, where `scripts/fetch-models.sh`
/// links `.cache/models/`).
#[cfg(target_arch = "wasm32")]
pub async fn fetch_bytes(url: &str) -> Vec<u8> {
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    let global = js_sys::global();
    let fetch: js_sys::Function = js_sys::Reflect::get(&global, &"fetch".into())
        .unwrap()
        .dyn_into()
        .unwrap();
    let promise: js_sys::Promise = fetch
        .call1(&global, &JsValue::from_str(url))
        .unwrap()
        .dyn_into()
        .unwrap();
    let response = JsFuture::from(promise).await.unwrap();
    let ok = js_sys::Reflect::get(&response, &"ok".into()).unwrap();
    assert!(
        ok.as_bool() == Some(true),
        "fetching {url} failed: run scripts/fetch-models.sh"
    );
    let array_buffer: js_sys::Function = js_sys::Reflect::get(&response, &"arrayBuffer".into())
        .unwrap()
        .dyn_into()
        .unwrap();
    let promise: js_sys::Promise = array_buffer.call0(&response).unwrap().dyn_into().unwrap();
    let buffer = JsFuture::from(promise).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

/// Checks one GGUF tensor against a gguf-py fixture entry `{"type", "shape", <values_key>}`:
/// its type, its shape, and its leading dequantized values (all of them when the fixture
/// holds the whole tensor).
#[cfg(not(target_arch = "wasm32"))]
pub fn check_gguf_tensor(
    file: &webtune::io::gguf::GgufFile,
    source: &impl webtune::io::ByteSource,
    name: &str,
    want: &serde_json::Value,
    values_key: &str,
) {
    let info = file
        .tensor(name)
        .unwrap_or_else(|| panic!("{name} missing"));
    assert_eq!(
        info.ty.to_string(),
        want["type"].as_str().unwrap(),
        "{name}"
    );
    let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
    assert_eq!(info.shape(), shape, "{name}");
    let expected: Vec<f32> = serde_json::from_value(want[values_key].clone()).unwrap();
    let got = webtune::platform::block_on(file.read_f32(source, info)).unwrap();
    // Both sides compute the same f32 products; only the order of two roundings may differ.
    webtune::numerics::compare(
        name,
        &got[..expected.len()],
        &expected,
        Tolerance::new(1e-7, 1e-6),
    )
    .unwrap();
}

/// A model past wasm32's 4 GiB address space is sized in full, not saturated at `usize::MAX`:
/// Llama-2-7B's config (6,738,415,616 parameters, transformers' count) is ~25 GiB in f32,
/// and a LoRA run on it does not fit the CPU tier's budget.
pub fn sizes_models_past_4_gib() {
    let json = br#"{"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
        "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": false}"#;
    let session = webtune::session::Session::new(ComputeDevice::cpu());
    let fit = session.size_up("llama-2-7b", json, false, 64).unwrap();
    assert_eq!(fit.parameters, 6_738_415_616, "{}", fit.summary);
    assert_eq!(fit.weight_bytes, 4 * 6_738_415_616, "{}", fit.summary);
    assert_eq!(fit.training.weights, fit.weight_bytes);
    assert!(fit.training.total > fit.weight_bytes);
    assert!(!fit.training.fits, "{}", fit.summary);
}
