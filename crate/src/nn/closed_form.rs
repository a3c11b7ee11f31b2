//! Operations whose gradient autodiff would compose wastefully, as single differentiable
//! operations with the gradient written out in closed form: RMSNorm's normalisation,
//! softmax and exact GELU.
//!
//! Composed of burn's ops, autodiff differentiates each piece. RMSNorm: the square,
//! `mean_dim` (whose gradient is a tensor of ones, a sum over a dimension of size one and a
//! product), the square root, the division with its broadcast — ~10 launches per norm in a
//! training step of SmolLM2. Softmax: the exponential, `sum_dim` (ones again), the division.
//! Here the backward passes are `dx = r·g − x·r³·mean(g·x)` (`r = 1/sqrt(mean(x²) + eps)`)
//! and `dx = y·(g − sum(g·y))`: a product, one reduction and one element-wise chain each,
//! which burn's fusion compiles into two or three kernels. GELU's is `g·(Φ(x) + x·φ(x))`, the
//! exact derivative (burn's GPU backend differentiates its own `gelu` as the tanh
//! approximation: see `activation`). Forward and backward are burn's ops on the GPU tier
//! (fused lazily), so no opaque kernel stands in fusion's way; on the CPU tier GELU's forward
//! is webtune's own kernel ([`super::cpu`]: every core, vectorised, where burn-flex's `erf` is
//! a scalar libm call per element).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Tensor};
use burn_cubecl::CubeBackend;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// `x / sqrt(mean(x²) + eps)` over the last dimension (no scale), differentiable with a
/// closed-form gradient. Computed in `x`'s float type: callers widen half precision first.
pub fn rms_normalize<const D: usize>(x: Tensor<D>, eps: f64) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::rms_normalize(x.into_dispatch(), eps))
}

/// Softmax over `dim` (burn's: the maximum subtracted, detached), differentiable with a
/// closed-form gradient. Computed in `x`'s float type: callers widen half precision first.
pub fn softmax<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::closed_form_softmax(x.into_dispatch(), dim))
}

/// Exact GELU, `x · ½ · (1 + erf(x / √2))`, differentiable with a closed-form gradient.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::closed_form_gelu(x.into_dispatch()))
}

/// The operations as a backend extension: burn's ops on each backend, and the written-out
/// gradients under autodiff.
#[backend_extension(Cube, Flex, Autodiff, Fusion)]
pub trait ClosedFormOps: Backend {
    /// `x / sqrt(mean(x²) + eps)` over the last dimension.
    #[fusion(default)]
    fn rms_normalize(x: FloatTensor<Self>, eps: f64) -> FloatTensor<Self> {
        let (out, _) = forward::<Self>(x, eps);
        out
    }

    /// Softmax over `dim`.
    #[fusion(default)]
    fn closed_form_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        Self::softmax(x, dim)
    }

    /// Exact GELU.
    #[fusion(default)]
    fn closed_form_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        composed_gelu::<Self>(x)
    }
}

impl ClosedFormOps for CubeBackend {}

impl ClosedFormOps for Flex {
    fn closed_form_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 {
            return composed_gelu::<Self>(x);
        }
        let mut x = match x.layout().contiguous_offsets() {
            Some(_) => x,
            None => x.to_contiguous(),
        };
        if let Some((start, end)) = x.layout().contiguous_offsets() {
            // Copied first if another tensor shares the buffer.
            super::cpu::gelu(&mut x.storage_mut::<f32>()[start..end]);
        }
        x
    }
}

/// `x · Φ(x)` in burn's ops.
fn composed_gelu<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let cdf = normal_cdf::<B>(x.clone());
    B::float_mul(x, cdf)
}

/// `Φ(x) = ½ · (1 + erf(x / √2))`, the standard normal's distribution function.
fn normal_cdf<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let erf = B::float_erf(B::float_mul_scalar(x, FRAC_1_SQRT_2.into()));
    B::float_mul_scalar(B::float_add_scalar(erf, 1.0.into()), 0.5.into())
}

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

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        input_gradient::<B, _>(ops, grads, |(x, r), grad| {
            let last = x.shape().num_dims() - 1;
            // dx = r·g − x·r³·mean(g·x)
            let mean = B::float_mean_dim(B::float_mul(grad.clone(), x.clone()), last);
            let r3 = B::float_mul(B::float_mul(r.clone(), r.clone()), r.clone());
            B::float_sub(
                B::float_mul(grad, r),
                B::float_mul(x, B::float_mul(r3, mean)),
            )
        });
    }
}

#[derive(Debug)]
struct GeluBackward;

impl<B: Backend> Backward<B, 1> for GeluBackward {
    /// The input.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        input_gradient::<B, _>(ops, grads, |x, grad| {
            // dx = g·(Φ(x) + x·φ(x)), φ(x) = exp(-x²/2) / √(2π)
            let cdf = normal_cdf::<B>(x.clone());
            let square = B::float_mul(x.clone(), x.clone());
            let pdf = B::float_mul_scalar(
                B::float_exp(B::float_mul_scalar(square, (-0.5).into())),
                (1.0 / (2.0 * PI).sqrt()).into(),
            );
            B::float_mul(grad, B::float_add(cdf, B::float_mul(x, pdf)))
        });
    }
}

#[derive(Debug)]
struct SoftmaxBackward;

impl<B: Backend> Backward<B, 1> for SoftmaxBackward {
    /// The output and the dimension.
    type State = (FloatTensor<B>, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        input_gradient::<B, _>(ops, grads, |(y, dim), grad| {
            // dx = y·(g − sum(g·y))
            let sum = B::float_sum_dim(B::float_mul(grad.clone(), y.clone()), dim);
            B::float_mul(y, B::float_sub(grad, sum))
        });
    }
}

/// Registers `gradient(state, output's gradient)` as the input's gradient, when the input
/// is tracked.
fn input_gradient<B: Backend, S>(
    ops: Ops<S, 1>,
    grads: &mut Gradients,
    gradient: impl FnOnce(S, FloatTensor<B>) -> FloatTensor<B>,
) {
    let [node] = ops.parents;
    let grad = grads.consume::<B>(&ops.node);
    if let Some(node) = node {
        grads.register::<B>(node.id, gradient(ops.state, grad));
    }
}

impl<B: Backend + ClosedFormOps, C: CheckpointStrategy> ClosedFormOps for Autodiff<B, C> {
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

    fn closed_form_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        match SoftmaxBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::softmax(x.primitive().clone(), dim);
                prep.finish((y.clone(), dim), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::softmax(x.into_primitive(), dim)),
        }
    }

    fn closed_form_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = x.primitive().clone();
                prep.finish(x.clone(), B::closed_form_gelu(x))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::closed_form_gelu(x.into_primitive())),
        }
    }
}
