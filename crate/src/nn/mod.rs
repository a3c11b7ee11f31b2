//! Neural-network building blocks shared by every model family, written so that their
//! gradients are the same on every backend tier.

mod activation;
mod layers;

pub use activation::gelu;
pub use layers::{Linear, RmsNorm, Rope, transpose};
