//! Neural-network building blocks shared by every model family, written so that their
//! gradients are the same on every backend tier.

mod activation;
mod layers;
mod rope;
mod vocab;

pub use activation::{gelu, gelu_tanh};
pub use layers::{LayerNorm, Linear, RmsNorm, transpose};
pub use rope::{Rope, RopeConfig, RopeScaling};
pub use vocab::VocabMatrix;
