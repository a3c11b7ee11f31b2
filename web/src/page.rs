//! The page's GPU section: the browser's WebGPU adapter and the self-check on it. (The
//! fine-tuning flow runs in the engine's worker, driven by `app.js`.)
//!
//! Each section has a `data-status` attribute that tests wait on: `pending`, then `ready`
//! (adapter) / `ok` (self-check), or `unavailable` / `failed` with a message in the text.

use webtune::{ComputeDevice, selfcheck};

use crate::dom::show;

/// Finds the adapter, reports it and runs the self-check.
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
}
