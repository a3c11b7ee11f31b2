//! `webtune doctor`: what the GPU adapter is, what it allows, and whether it computes right.

use webtune::ComputeDevice;
use webtune::platform::block_on;
use webtune::session::Session;

/// Options of `webtune doctor`.
#[derive(clap::Args)]
pub struct Args {
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Skip the forward/backward self-check (only report the adapter).
    #[arg(long)]
    no_check: bool,
}

/// Prints the adapter report and runs the self-check on the GPU against the CPU tier.
pub fn run(args: Args) -> webtune::Result<()> {
    let session = Session::new(block_on(ComputeDevice::gpu())?);
    let check = if args.no_check {
        None
    } else {
        Some(block_on(session.self_check())?)
    };
    let device = session.device_info();
    if args.json {
        let report = serde_json::json!({
            "tier": device.tier,
            "adapter": device.adapter,
            "selfcheck": check,
        });
        println!("{report:#}");
        return Ok(());
    }
    print!("{}", device.summary);
    if let Some(check) = check {
        println!(
            "{:<22} ok: loss {:.6}, max |Δ| vs CPU {:.1e}",
            "self-check", check.loss, check.vs_cpu.max_abs_diff
        );
    }
    Ok(())
}
