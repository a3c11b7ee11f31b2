//! Root-mean-square normalisation as one differentiable operation, its gradient written out.
//!
//! Composed of burn's ops, autodiff differentiates each piece: the square, `mean_dim` (whose
//! gradient is a tensor of ones, a sum over a dimension of size one and a product), the
//! square root, the division with its broadcast. A training step of SmolLM2 spent ~10
//! launches per norm on that. Here the backward pass is the closed form
//! `dx = r·g − x·r³·mean(g·x)` (`r = 1/sqrt(mean(x²) + eps)`): a product, one reduction and
//! one element-wise chain, which burn's fusion compiles into two or three kernels. Forward and
//! backward are burn's ops on every tier (fused lazily on the GPU one), so no opaque kernel
//! stands in fusion's way.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;
use burn_cubecl::CubeBackend;

/// `x / sqrt(mean(x²) + eps)` over the last dimension (no scale), differentiable with a
/// closed-form gradient. Computed in `x`'s float type: callers widen half precision first.
pub fn rms_normalize<const D: usize>(x: Tensor<D>, eps: f64) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::rms_normalize(x.into_dispatch(), eps))
}

/// The operation as a backend extension: burn's ops on each backend, and the written-out
/// gradient under autodiff.
#[backend_extension(Cube, Flex, Autodiff, Fusion)]
pub trait NormalizeOps: Backend {
    /// `x / sqrt(mean(x²) + eps)` over the last dimension.
    #[fusion(default)]
    fn rms_normalize(x: FloatTensor<Self>, eps: f64) -> FloatTensor<Self> {
        let (out, _) = forward::<Self>(x, eps);
        out
    }
}

impl NormalizeOps for CubeBackend {}
impl NormalizeOps for Flex {}

/// The normalised `x` and the reciprocal root mean square `r` (`[.., 1]`).
fn forward<B: Backend>(x: FloatTensor<B>, eps: f64) -> (FloatTensor<B>, FloatTensor<B>) {
    let last = x.shape().num_dims() - 1;
    let squares = B::float_mul(x.clone(), x.clone());
    let mean = B::float_mean_dim(squares, last);
    let r = B::float_recip(B::float_sqrt(B::float_add_scalar(mean, eps.into())));
    (B::float_mul(x, r.clone()), r)
}

#[derive(Debug)]
struct RmsNormalizeBackward;

impl<B: Backend> Backward<B, 1> for RmsNormalizeBackward {
    /// The input and its reciprocal root mean square.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let Some(node) = node else {
            return;
        };
        let (x, r) = ops.state;
        let last = x.shape().num_dims() - 1;
        // dx = r·g − x·r³·mean(g·x)
        let mean = B::float_mean_dim(B::float_mul(grad.clone(), x.clone()), last);
        let r3 = B::float_mul(B::float_mul(r.clone(), r.clone()), r.clone());
        let dx = B::float_sub(
            B::float_mul(grad, r),
            B::float_mul(x, B::float_mul(r3, mean)),
        );
        grads.register::<B>(node.id, dx);
    }
}

impl<B: Backend + NormalizeOps, C: CheckpointStrategy> NormalizeOps for Autodiff<B, C> {
    fn rms_normalize(x: FloatTensor<Self>, eps: f64) -> FloatTensor<Self> {
        match RmsNormalizeBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = x.primitive().clone();
                let (out, r) = forward::<B>(x.clone(), eps);
                prep.finish((x, r), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::rms_normalize(x.into_primitive(), eps)),
        }
    }
}
