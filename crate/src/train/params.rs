//! A model's trainable tensors, found by walking its modules: every float parameter that
//! requires a gradient, named by its module path (`layers.0.self_attn.q_proj.weight`,
//! `….q_proj.low_rank.a`). LoRA's branches, DoRA's magnitudes, a fully trainable model and
//! Half Fine-Tuning's chosen half are all "the parameters that require a gradient", so one
//! trainer and one optimizer serve every method. Tensors are handled flattened (`[n]`), which
//! is free for burn's contiguous tensors and lets vectors and matrices share one code path.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor};

/// The module path of the parameter being visited. Enum variants (`Model::Llama`,
/// `Weight::Dense`) add no segment, so a path names what a layer is, not how it is stored:
/// `layers.0.self_attn.q_proj.weight`.
#[derive(Default)]
struct PathStack(Vec<String>);

impl PathStack {
    fn enter(&mut self, name: &str, container: &str) {
        let variant = container.starts_with("Enum:");
        self.0.push(if variant {
            String::new()
        } else {
            name.to_string()
        });
    }

    fn exit(&mut self) {
        self.0.pop();
    }

    fn joined(&self) -> String {
        let parts: Vec<&str> = self
            .0
            .iter()
            .map(String::as_str)
            .filter(|p| !p.is_empty())
            .collect();
        parts.join(".")
    }
}

/// Calls `f(path, value, trainable, grad)` for every float parameter: its value flattened and
/// outside autodiff, whether it requires a gradient, and — when `grads` is given and it does —
/// its gradient (zeros when the loss did not reach it).
struct Visit<'a, F> {
    path: PathStack,
    grads: Option<&'a Gradients>,
    f: F,
}

impl<F: FnMut(&str, Tensor<1>, bool, Option<Tensor<1>>)> ModuleVisitor for Visit<'_, F> {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.enter(name, container);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let trainable = value.is_require_grad();
        let n = value.shape().num_elements();
        let flat = value.clone().inner().reshape([n]);
        let grad = match self.grads {
            Some(grads) if trainable => Some(
                value
                    .grad(grads)
                    .map_or_else(|| flat.zeros_like(), |g| g.reshape([n])),
            ),
            _ => None,
        };
        (self.f)(&self.path.joined(), flat, trainable, grad);
    }
}

/// Walks `model` with a [`Visit`].
fn visit<M: Module>(
    model: &M,
    grads: Option<&Gradients>,
    f: impl FnMut(&str, Tensor<1>, bool, Option<Tensor<1>>),
) {
    model.visit(&mut Visit {
        path: PathStack::default(),
        grads,
        f,
    });
}

/// Replaces float parameters: `f(path, flattened value, trainable)` returns the new value (a
/// trainable leaf if `trainable` is returned true) or `None` to keep it.
struct Map<F> {
    path: PathStack,
    f: F,
}

impl<F: FnMut(&str, Tensor<1>, bool) -> Option<(Tensor<1>, bool)>> ModuleMapper for Map<F> {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.enter(name, container);
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let value = param.val();
        let dims = value.dims();
        let trainable = value.is_require_grad();
        let dtype = value.dtype();
        let flat = value.inner().reshape([dims.iter().product::<usize>()]);
        match (self.f)(&self.path.joined(), flat, trainable) {
            Some((new, trainable)) => {
                let tensor = Tensor::from_inner(crate::device::to_dtype(new.reshape(dims), dtype));
                let param = Param::from_tensor(tensor);
                if trainable {
                    param
                } else {
                    param.set_require_grad(false)
                }
            }
            None => param,
        }
    }
}

/// Every float parameter of `model` by path, flattened and outside autodiff, with whether it
/// is trainable.
pub fn all(model: &impl Module) -> Vec<(String, Tensor<1>, bool)> {
    let mut out = Vec::new();
    visit(model, None, |path, value, trainable, _| {
        out.push((path.to_string(), value, trainable))
    });
    out
}

/// The trainable parameters' paths and sizes, in model order.
pub fn trainable(model: &impl Module) -> Vec<(String, usize)> {
    all(model)
        .into_iter()
        .filter(|(_, _, trainable)| *trainable)
        .map(|(path, value, _)| (path, value.dims()[0]))
        .collect()
}

/// The gradient of every trainable parameter (zeros for one the loss did not reach), by path,
/// flattened, in model order.
pub fn gradients<M: Module>(model: &M, grads: &Gradients) -> Vec<(String, Tensor<1>)> {
    let mut out = Vec::new();
    visit(model, Some(grads), |path, _, _, grad| {
        if let Some(grad) = grad {
            out.push((path.to_string(), grad));
        }
    });
    out
}

/// Rewrites `model`'s float parameters with `f` (see [`Map`]): `f(path, value, trainable)`
/// returns a new value and whether it is trainable, or `None` to leave the parameter as it is.
pub fn map<M: Module>(
    model: &mut M,
    f: impl FnMut(&str, Tensor<1>, bool) -> Option<(Tensor<1>, bool)>,
) {
    let mut mapper = Map {
        path: PathStack::default(),
        f,
    };
    *model = model.clone().map(&mut mapper);
}

/// Makes exactly the parameters whose path satisfies `select` trainable (the others frozen,
/// values unchanged).
pub fn set_trainable<M: Module>(model: &mut M, mut select: impl FnMut(&str) -> bool) {
    map(model, |path, value, trainable| {
        let want = select(path);
        (want != trainable).then_some((value, want))
    });
}
