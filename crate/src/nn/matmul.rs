//! 2-D matmuls with the GPU kernel chosen for the shape and the adapter.
//!
//! burn (without autotune, which gives wrong results in the browser) launches one matmul
//! kernel, cubek's, for every shape. Other kernels are several times faster where it is weak
//! (`benches/matmul.rs`; docs/internals.md): for one row `x · W` on a hardware adapter,
//! cubek's `gemv_unit_perpendicular`; for a few rows, and for every product on a software
//! adapter (SwiftShader, lavapipe, which run cubek's shared-memory kernels at 0.1–10
//! GFLOP/s), webtune's register-tiled kernel ([`super::tiled_matmul`]). This module launches
//! them through a burn backend extension, with its own backward pass (two more products by
//! the same choice); the CPU tier and larger products on a hardware adapter take burn's
//! matmul, which fusion can merge with its neighbours.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
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

#[derive(Debug)]
struct ChosenMatmulBackward;

impl<B: ChosenMatmul> Backward<B, 2> for ChosenMatmulBackward {
    /// The left operand when the right one is tracked, and the right one when the left is.
    type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [lhs_node, rhs_node] = ops.parents;
        let (lhs, rhs) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        // d lhs = grad · rhsᵀ, d rhs = lhsᵀ · grad: transposed views, read by their strides.
        if let (Some(node), Some(lhs)) = (rhs_node, lhs) {
            let lhs_t = B::float_swap_dims(lhs, 0, 1);
            grads.register::<B>(node.id, B::chosen_matmul(lhs_t, grad.clone()));
        }
        if let (Some(node), Some(rhs)) = (lhs_node, rhs) {
            let rhs_t = B::float_swap_dims(rhs, 0, 1);
            grads.register::<B>(node.id, B::chosen_matmul(grad, rhs_t));
        }
    }
}

impl<B: ChosenMatmul, C: CheckpointStrategy> ChosenMatmul for Autodiff<B, C> {
    fn chosen_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match ChosenMatmulBackward
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (lhs, rhs) = (lhs.into_primitive(), rhs.into_primitive());
                let state = (
                    rhs_tracked.then(|| lhs.clone()),
                    lhs_tracked.then(|| rhs.clone()),
                );
                prep.finish(state, B::chosen_matmul(lhs, rhs))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::chosen_matmul(lhs.into_primitive(), rhs.into_primitive()))
            }
        }
    }
}

impl ChosenMatmul for CubeBackend {
    fn chosen_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let rows = lhs.meta.shape()[0];
        let software = crate::device::software_gpu();
        if !software && rows > SMALL_ROWS {
            return Self::float_matmul(lhs, rhs);
        }
        // One row by a row-major weight on a hardware adapter: cubek's gemv kernel. It
        // computes wrong numbers on WebGPU in headless Chromium (65129 for 0.54,
        // `webgpu_model_matmuls_match_cpu`), as autotune's choices did: not there.
        let row_major = rhs.meta.strides()[1] == 1;
        let gemv = rows == 1 && row_major && !software && !crate::platform::IN_BROWSER;
        if gemv
            && let Some(elem) = float_elem(&lhs, &rhs)
            && let Some(out) = launch(
                MultiLevel::GemvUnitPerpendicular(Default::default()),
                lhs.clone(),
                rhs.clone(),
                elem,
            )
        {
            return out;
        }
        match super::tiled_matmul(lhs.clone(), rhs.clone()) {
            Some(out) => out,
            None => Self::float_matmul(lhs, rhs),
        }
    }
}

/// The kernels' element type when both operands have the same float type.
fn float_elem(lhs: &FloatTensor<CubeBackend>, rhs: &FloatTensor<CubeBackend>) -> Option<ElemType> {
    match (lhs.dtype, rhs.dtype) {
        (DType::F32, DType::F32) => Some(ElemType::Float(FloatKind::F32)),
        (DType::F16, DType::F16) => Some(ElemType::Float(FloatKind::F16)),
        _ => None,
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

/// Products of at most this many rows take a kernel chosen for their shape on a hardware GPU
/// adapter. Larger products stay burn's matmul there, which fusion can merge with its
/// neighbours (no real GPU has measured where the tiled kernel stops paying).
pub const SMALL_ROWS: usize = 8;

/// `lhs [m, k] × rhs [k, n]`, with the kernel chosen for the shape on the GPU tier when `m`
/// is at most [`SMALL_ROWS`] (a decoded token's projections, a short prompt's) or the adapter
/// is a software one; differentiable, its gradients by the same choice.
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    if lhs.dims()[0] > SMALL_ROWS && !crate::device::software_gpu() {
        return lhs.matmul(rhs);
    }
    Tensor::from_dispatch(Dispatch::chosen_matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
    ))
}
