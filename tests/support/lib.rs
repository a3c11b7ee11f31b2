//! Helpers shared by the native and browser test tiers: reference fixtures and the
//! tolerances each tier is held to.
//!
//! A test body is written once as an `async fn(&ComputeDevice)` and run by every tier:
//! `native/` runs it on the CPU and GPU tiers, `browser/` in headless Chromium on WebGPU.

// Test support: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// Matmuls at model shapes give the CPU tier's numbers (forward and both input gradients).
pub async fn model_matmuls_match_cpu(device: &ComputeDevice) -> Result<()> {
    use webtune::burn::tensor::{Tensor, TensorData};
    use webtune::device::read_f32;
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
        let loss = (y.clone() * y.clone()).sum();
        let grads = loss.backward();
        let gx = x.grad(&grads).expect("x has a gradient");
        let gw = w.grad(&grads).expect("w has a gradient");
        Ok([
            read_f32(y, "y").await?,
            read_f32(gx, "dx").await?,
            read_f32(gw, "dw").await?,
        ])
    }

    for (name, a, b) in MODEL_MATMULS {
        let got = run(device, a, b).await?;
        let want = run(&ComputeDevice::cpu(), a, b).await?;
        for (part, (g, w)) in ["y", "dx", "dw"].iter().zip(got.iter().zip(&want)) {
            // Each output sums hundreds of products, so an element that cancels to near zero
            // still carries rounding of the order of the tensor's largest values.
            let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
            let tol = Tolerance::new(1e-5 * scale, 1e-4);
            webtune::numerics::compare(&format!("{name} {part}"), g, w, tol)?;
        }
    }
    Ok(())
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
