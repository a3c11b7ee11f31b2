//! 2-D matmuls with the GPU kernel chosen for the shape.
//!
//! burn (without autotune, which gives wrong results in the browser) launches one matmul
//! kernel for every shape. For one row — every projection of a decoded token — other cubek
//! kernels are several times faster (`benches/matmul.rs`, SmolLM2's shapes): for `x · W`
//! with `W` row-major, `gemv_unit_perpendicular` (MLP projection: 7× on lavapipe, 12× on
//! SwiftShader); for a transposed `W` (the tied LM head), `W · xᵀ` by the naive kernel
//! (3.5× and 12×); for a few rows, the naive kernel (1.6× and 16× at 8 rows). This module
//! launches them through a burn backend extension: on the GPU tier products of up to
//! [`SMALL_ROWS`] rows take them (burn's own kernel where the adapter cannot run one); larger
//! products and the CPU tier take burn's matmul, and under autodiff the product is burn's
//! differentiable matmul.

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension, ops::FloatTensorOps};
use burn::tensor::{DType, Shape, Tensor};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::matmul::init_matmul_output;
use cubek::cubecl::ir::{ElemType, FloatKind};
use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
use cubek::matmul::multi_level::Strategy as MultiLevel;
use cubek::matmul::strategy::Strategy;
use cubek::std::InputBinding;

/// The product's shape: `[lhs rows, rhs columns]`.
fn product_shape(lhs: &Shape, rhs: &Shape) -> Shape {
    Shape::from([lhs[0], rhs[1]])
}

/// A matmul whose kernel the backend chooses for the shape.
#[backend_extension(Cube, Flex, Fusion, Autodiff)]
pub trait ChosenMatmul: Backend {
    /// `lhs [m, k] × rhs [k, n]`.
    #[fusion(dtype = lhs, shape = product_shape(lhs, rhs))]
    fn chosen_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }
}

impl ChosenMatmul for Flex {}

impl<B: Backend, C: CheckpointStrategy> ChosenMatmul for Autodiff<B, C> {}

impl ChosenMatmul for CubeBackend {
    fn chosen_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let elem = match lhs.dtype {
            DType::F32 => ElemType::Float(FloatKind::F32),
            DType::F16 => ElemType::Float(FloatKind::F16),
            _ => return Self::float_matmul(lhs, rhs),
        };
        let rows = lhs.meta.shape()[0];
        if rows > SMALL_ROWS || rhs.dtype != lhs.dtype {
            return Self::float_matmul(lhs, rhs);
        }
        // A transposed weight (a tied LM head, `[n, k]` read by its strides) as the right
        // operand would be copied whole for the kernel: take `(W · xᵀ)ᵀ` instead, with `W`
        // row-major on the left.
        if rhs.meta.strides()[0] == 1 && rhs.meta.shape()[1] > 1 {
            let n = rhs.meta.shape()[1];
            let w = Self::float_swap_dims(rhs, 0, 1);
            let x = Self::float_swap_dims(lhs, 0, 1);
            return match launch(MultiLevel::Naive, w.clone(), x.clone(), elem) {
                // One row: the `[n, 1]` column is the `[1, n]` row.
                Some(column) if rows == 1 => Self::float_reshape(column, Shape::from([1, n])),
                Some(columns) => Self::float_swap_dims(columns, 0, 1),
                None => Self::float_swap_dims(Self::float_matmul(w, x), 0, 1),
            };
        }
        // The gemv kernel computes wrong numbers on WebGPU in headless Chromium (65129 for
        // 0.54, `webgpu_model_matmuls_match_cpu`), as autotune's choices did: the naive one
        // there.
        let strategy = match rows == 1 && !crate::platform::IN_BROWSER {
            true => MultiLevel::GemvUnitPerpendicular(Default::default()),
            false => MultiLevel::Naive,
        };
        match launch(strategy, lhs.clone(), rhs.clone(), elem) {
            Some(out) => out,
            None => Self::float_matmul(lhs, rhs),
        }
    }
}

/// `lhs × rhs` by cubek's `strategy`, or `None` where this adapter cannot run it.
fn launch(
    strategy: MultiLevel,
    lhs: FloatTensor<CubeBackend>,
    rhs: FloatTensor<CubeBackend>,
    elem: ElemType,
) -> Option<FloatTensor<CubeBackend>> {
    let out = init_matmul_output(&lhs, &rhs, lhs.dtype);
    let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
        lhs: elem,
        rhs: elem,
        out: elem,
    });
    let strategy: Strategy = strategy.into();
    let client = lhs.client.clone();
    let launched = cubek::matmul::launch::launch_ref(
        &strategy,
        &client,
        InputBinding::new(lhs.binding(), elem),
        InputBinding::new(rhs.binding(), elem),
        out.clone().binding(),
        &mut dtypes,
    );
    launched.ok().map(|()| out)
}

/// Products of at most this many rows take a kernel chosen for their shape on the GPU tier.
/// `benches/matmul.rs` on lavapipe, SmolLM2's MLP (ms, burn's kernel / naive): 8 rows 14.1 /
/// 8.8, 16 rows 13.2 / 15.3, 64 rows 14.2 / 48.6. Larger products stay burn's matmul, which
/// fusion can merge with its neighbours.
pub const SMALL_ROWS: usize = 8;

/// `lhs [m, k] × rhs [k, n]`, with the kernel chosen for the shape on the GPU tier when `m`
/// is at most [`SMALL_ROWS`]: a decoded token's projections, a short prompt's. Under autodiff
/// the product is burn's differentiable matmul.
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    if lhs.dims()[0] > SMALL_ROWS {
        return lhs.matmul(rhs);
    }
    Tensor::from_dispatch(Dispatch::chosen_matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
    ))
}
