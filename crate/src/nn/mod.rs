//! Neural-network building blocks shared by every model family, written so that their
//! gradients are the same on every backend tier.

mod activation;
mod closed_form;
mod cpu;
pub mod fused;
mod layers;
mod low_rank;
mod matmul;
mod quant;
mod rope;
mod tiled;
mod vocab;

pub use activation::{gelu, gelu_tanh, log_softmax_f32, softmax};
pub use closed_form::rms_normalize;
pub use cpu::fused as cpu_fused;
pub use layers::{LayerNorm, Linear, RmsNorm, Weight, linear, transpose};
pub use low_rank::LowRank;
pub use matmul::{SMALL_ROWS, matmul};
pub use quant::Quant4;
pub use rope::{Rope, RopeConfig, RopeScaling};
pub use tiled::tiled_matmul;
pub use vocab::{VocabMatrix, whole_matrix};
