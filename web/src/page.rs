//! What the page shows: the browser's WebGPU adapter, the self-check on it, then the default
//! model with a prompt box ([`crate::chat`]).
//!
//! Each section has a `data-status` attribute that tests wait on: `pending`, then `ready`
//! (adapter) / `ok` (self-check), or `unavailable` / `failed` with a message in the text.

use webtune::{ComputeDevice, selfcheck};

use crate::dom::show;

/// Runs the page: find the adapter, report it, run the self-check, load the model.
pub async fn run() {
    show("adapter", "pending", "Looking for a WebGPU adapter…");
    let gpu = match ComputeDevice::gpu().await {
        Ok(gpu) => gpu,
        Err(err) => {
            show(
                "adapter",
                "unavailable",
                &format!(
                    "WebGPU is not available here, so webtune cannot use this GPU.\n\n\
                     Use a browser with WebGPU switched on (Chrome or Edge 113+, Safari 26+, \
                     Firefox 141+ on Windows), and make sure the page is served from \
                     https:// or http://127.0.0.1.\n\nDetails: {err}"
                ),
            );
            show(
                "selfcheck",
                "unavailable",
                "Skipped: there is no GPU adapter to check.",
            );
            show("model", "unavailable", "Skipped: models run on the GPU.");
            return;
        }
    };
    let report = match gpu.adapter() {
        Some(adapter) => format!("{:<22} {}\n{adapter}", "tier", gpu.tier()),
        None => format!("{}", gpu.tier()),
    };
    show("adapter", "ready", &report);

    show(
        "selfcheck",
        "pending",
        "Running a forward and backward pass on WebGPU and on the CPU…",
    );
    match selfcheck::gpu_vs_cpu(&gpu).await {
        Ok(check) => show(
            "selfcheck",
            "ok",
            &format!(
                "WebGPU computes what the CPU computes: loss {:.6}, largest difference in \
                 loss and gradients {:.1e} (allowed {:.0e} + {:.0e}·|x|).",
                check.loss, check.vs_cpu.max_abs_diff, check.tolerance.atol, check.tolerance.rtol
            ),
        ),
        Err(err) => show(
            "selfcheck",
            "failed",
            &format!("WebGPU gave different numbers from the CPU: {err}"),
        ),
    }
    crate::chat::run(gpu).await;
}
