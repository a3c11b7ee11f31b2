//! Which matmul kernel is fastest for the shapes a small model launches, on this machine's GPU
//! adapter (`cubecl`'s default; pick another with `VK_ICD_FILENAMES`, e.g. Chromium's
//! SwiftShader: `/usr/lib/chromium/vk_swiftshader_icd.json`): webtune's tiled kernel
//! (`nn::tiled_matmul`) and cubek's.
//!
//! ```text
//! cargo bench -p webtune --bench matmul               # every kernel
//! cargo bench -p webtune --bench matmul -- auto naive # the tiled one and these of cubek's
//! ```
//!
//! burn (without autotune) launches cubek's "auto"; `nn::matmul` chooses the tiled kernel on a
//! software adapter and for a few rows. Each result's first element is checked against the
//! host's product. A benchmark, not a test.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use burn_cubecl::CubeBackend;
use burn_cubecl::tensor::CubeTensor;
use cubek::cubecl;
use cubek::cubecl::prelude::CubeElement;
use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
use cubek::matmul::multi_level::Strategy as MultiLevel;
use cubek::matmul::strategy::Strategy;
use cubek::std::InputBinding;
use webtune::burn::backend::ops::FloatTensorOps;
use webtune::selfcheck::fixed_values;

/// `(rows, inner, columns, what)`: SmolLM2-135M's (hidden 576, MLP 1536, vocabulary 49152)
/// and all-MiniLM-L6-v2's (hidden 384, MLP 1536). "Wᵀ": the right operand is a transposed
/// `[columns, inner]` matrix read through its strides (a tied LM head).
const SHAPES: [(usize, usize, usize, &str); 19] = [
    (1, 576, 1536, "decode: MLP up"),
    (1, 576, 49152, "decode: LM head"),
    (1, 576, 49152, "decode: LM head, Wᵀ"),
    (49152, 576, 1, "decode: LM head as W·x"),
    (8, 576, 1536, "8-token step: MLP up"),
    (576, 8, 1536, "8-token step: weight gradient"),
    (16, 576, 1536, "16-token prompt: MLP up"),
    (32, 576, 1536, "32-token prompt: MLP up"),
    (64, 576, 1536, "64-token prompt: MLP up"),
    (256, 576, 1536, "256-token step: MLP up"),
    (256, 384, 1536, "MiniLM, 256 tokens: MLP up"),
    (1024, 576, 1536, "training 4 × 256: MLP up"),
    (1024, 1536, 576, "training: down's input gradient, Wᵀ"),
    (1024, 576, 8192, "training: LM head slice, Wᵀ"),
    (256, 576, 16, "LoRA A, 256 tokens"),
    (256, 16, 576, "LoRA B, 256 tokens"),
    (256, 576, 192, "k/v projection, 256 tokens"),
    (256, 16, 576, "LoRA A's input gradient, Wᵀ"),
    (576, 256, 16, "LoRA A's gradient"),
];

const REPEATS: usize = 3;

fn strategies() -> Vec<(&'static str, Strategy)> {
    vec![
        ("auto", Strategy::Auto),
        (
            "double_unit",
            MultiLevel::DoubleUnit(Default::default()).into(),
        ),
        (
            "gemv_unit_perpendicular",
            MultiLevel::GemvUnitPerpendicular(Default::default()).into(),
        ),
        ("gemm", MultiLevel::Gemm(Default::default()).into()),
        ("naive", MultiLevel::Naive.into()),
        (
            "cpu_gemm",
            cubek::matmul::tiled::Strategy::CpuGemm(Default::default()).into(),
        ),
    ]
}

fn main() {
    // `cargo bench --bench matmul -- auto naive`: only these of cubek's kernels.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let device = cubecl::Device::default();
    let client = device.client();
    let f32_elem = cubecl::ir::ElemType::Float(cubecl::ir::FloatKind::F32);
    println!(
        "adapter: {} (wgpu's default; VK_ICD_FILENAMES picks another)",
        client.name()
    );
    println!(
        "{:<32} {:>24} {:>10} {:>8}",
        "shape (rows × inner × cols)", "kernel", "ms", "GFLOP/s"
    );
    for (m, k, n, what) in SHAPES {
        let a = fixed_values(1, m * k, 0.5);
        let b = fixed_values(2, k * n, 0.5);
        let want: f32 = (0..k).map(|j| a[j] * b[j * n]).sum();
        let tensor = |handle, shape: [usize; 2]| {
            CubeTensor::new_contiguous(
                client.clone(),
                device.clone(),
                shape.into(),
                handle,
                webtune::burn::tensor::DType::F32,
            )
        };
        let lhs = tensor(client.create_from_slice(f32::as_bytes(&a)), [m, k]);
        let rhs = if what.ends_with("Wᵀ") {
            // The same values, stored as the transpose and read through swapped strides.
            let stored = webtune::nn::transpose(&b, k, n);
            let t = tensor(client.create_from_slice(f32::as_bytes(&stored)), [n, k]);
            <CubeBackend as FloatTensorOps<CubeBackend>>::float_swap_dims(t, 0, 1)
        } else {
            tensor(client.create_from_slice(f32::as_bytes(&b)), [k, n])
        };
        let out_handle = client.empty(m * n * 4);
        let out = tensor(out_handle.clone(), [m, n]);
        let label = format!("{m} × {k} × {n} ({what})");
        // webtune's own tiled kernel (`nn::tiled_matmul`).
        let tiled = || webtune::nn::tiled_matmul(lhs.clone(), rhs.clone());
        match tiled() {
            None => println!("{label:<32} {:>24}  unavailable", "tiled"),
            Some(got) => {
                // The first launch compiled the kernel.
                client.read_one(got.handle.clone()).unwrap();
                let start = Instant::now();
                let mut last = got;
                for _ in 0..REPEATS {
                    last = tiled().unwrap();
                }
                let bytes = client.read_one(last.handle.clone()).unwrap();
                let seconds = start.elapsed().as_secs_f64() / REPEATS as f64;
                let got = f32::from_bytes(&bytes)[0];
                print_result(&label, "tiled", seconds, (m, k, n), got, want);
            }
        }
        for (name, strategy) in strategies() {
            if !only.is_empty() && !only.iter().any(|o| o == name) {
                continue;
            }
            let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
                lhs: f32_elem,
                rhs: f32_elem,
                out: f32_elem,
            });
            let mut launch = || {
                cubek::matmul::launch::launch_ref(
                    &strategy,
                    &client,
                    InputBinding::new(lhs.clone().binding(), f32_elem),
                    InputBinding::new(rhs.clone().binding(), f32_elem),
                    out.clone().binding(),
                    &mut dtypes,
                )
            };
            // The first launch compiles the kernel (and says whether this adapter has it).
            if let Err(err) = launch() {
                let why = format!("{err:?}");
                println!(
                    "{label:<32} {name:>24}  unavailable: {}",
                    &why[..why.len().min(60)]
                );
                continue;
            }
            client.read_one(out_handle.clone()).unwrap();
            let start = Instant::now();
            for _ in 0..REPEATS {
                launch().unwrap();
            }
            let bytes = client.read_one(out_handle.clone()).unwrap();
            let seconds = start.elapsed().as_secs_f64() / REPEATS as f64;
            let got = f32::from_bytes(&bytes)[0];
            print_result(&label, name, seconds, (m, k, n), got, want);
        }
    }
}

/// One result line: milliseconds, GFLOP/s, and whether the first element is the host's.
fn print_result(
    label: &str,
    name: &str,
    seconds: f64,
    (m, k, n): (usize, usize, usize),
    got: f32,
    want: f32,
) {
    let wrong = if (got - want).abs() > 1e-3 * want.abs().max(1.0) {
        format!("  WRONG: {got} (host {want})")
    } else {
        String::new()
    };
    println!(
        "{label:<32} {name:>24} {:>10.2} {:>8.2}{wrong}",
        seconds * 1e3,
        2.0 * (m * k * n) as f64 / seconds / 1e9
    );
}
