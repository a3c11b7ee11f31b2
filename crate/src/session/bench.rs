//! Speed of the open model on this session's device.

use super::Session;
use crate::bench::{self, BenchConfig, BenchReport};
use crate::error::Result;
use crate::flow::Flow;

impl Session {
    /// Times a LoRA training step and generated tokens on the open model and counts the GPU
    /// kernels each launches (see [`bench::run`]); the model and its adapters are unchanged.
    /// `go_on` can stop it ([`Flow::Stop`], after a step or a token: an error of kind
    /// `stopped`).
    pub async fn bench(
        &self,
        config: &BenchConfig,
        go_on: impl FnMut() -> Flow,
    ) -> Result<BenchReport> {
        let open = self.model()?;
        bench::run(&open.loaded.model, &self.device, config, go_on).await
    }
}
