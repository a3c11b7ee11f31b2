//! Speed of the open model on this session's device.

use super::Session;
use crate::bench::{self, BenchConfig, BenchReport};
use crate::error::Result;

impl Session {
    /// Times a LoRA training step and generated tokens on the open model and counts the GPU
    /// kernels each launches (see [`bench::run`]); the model and its adapters are unchanged.
    pub async fn bench(&self, config: &BenchConfig) -> Result<BenchReport> {
        let open = self.model()?;
        bench::run(&open.loaded.model, &self.device, config).await
    }
}
