//! Neural-network building blocks shared by every model family, written so that their
//! gradients are the same on every backend tier.

mod activation;

pub use activation::gelu;
