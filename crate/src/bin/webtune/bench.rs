//! `webtune bench`: training and generation speed of a model on this machine, with the GPU
//! kernels each launches.

use webtune::bench::{BenchConfig, BenchReport};
use webtune::device::KernelCount;
use webtune::platform::block_on;
use webtune::session::Purpose;

use crate::model::{self, ModelArgs};
use crate::output;

/// Options of `webtune bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Tokens per training sequence.
    #[arg(long, default_value_t = BenchConfig::default().seq)]
    seq: usize,
    /// Sequences per training step.
    #[arg(long, default_value_t = BenchConfig::default().batch)]
    batch: usize,
    /// LoRA rank, on every linear layer.
    #[arg(long, default_value_t = BenchConfig::default().rank)]
    rank: usize,
    /// Timed training steps (after one warm-up step).
    #[arg(long, default_value_t = BenchConfig::default().steps)]
    steps: usize,
    /// Prompt tokens before generating.
    #[arg(long, default_value_t = BenchConfig::default().prompt_tokens)]
    prompt_tokens: usize,
    /// Tokens to generate after the first.
    #[arg(long, default_value_t = BenchConfig::default().new_tokens)]
    new_tokens: usize,
    /// Time every GPU kernel and list the kernels by the seconds they took (each launch then
    /// waits for its kernel, so the totals run slower).
    #[arg(long)]
    timed: bool,
    /// Warm the kernels up first, as the page does while a person chooses data: the first
    /// step then shows what a warmed-up run waits for.
    #[arg(long)]
    warm_up: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Opens the model, measures it and prints the numbers.
pub fn run(args: Args) -> webtune::Result<()> {
    let session = model::open(&args.model, Purpose::Read, false)?;
    let config = BenchConfig {
        seq: args.seq,
        batch: args.batch,
        rank: args.rank,
        steps: args.steps,
        prompt_tokens: args.prompt_tokens,
        new_tokens: args.new_tokens,
        timed: args.timed,
        warm_up: args.warm_up,
    };
    let report = block_on(session.bench(&config, || webtune::flow::Flow::Continue))?;
    if args.json {
        return output::print_json(&report);
    }
    print!("{}", table(&report, &session.device_info().summary));
    Ok(())
}

/// The report as lines a person reads.
fn table(r: &BenchReport, device: &str) -> String {
    let c = &r.config;
    let mut out = device.to_string();
    if let Some(seconds) = r.warm_up_seconds {
        out +=
            &format!("warm-up (one LoRA step and two tokens, kernels compiled): {seconds:.2} s\n");
    }
    out += &format!(
        "training (LoRA r{}, all linear, {} × {} tokens): {:.2} s per step, {:.1} tokens/s, \
         {} kernel launches per step; the first step {:.2} s\n",
        c.rank,
        c.batch,
        c.seq,
        r.step_seconds,
        r.train_tokens_per_second,
        r.launches_per_step,
        r.first_step_seconds
    );
    out += &format!(
        "generation ({} prompt tokens, {} new): prefill {:.1} tokens/s, decode {:.1} tokens/s, \
         {} launches for the prompt, {:.0} per token; the first answer's first token after \
         {:.2} s\n",
        c.prompt_tokens,
        c.new_tokens,
        r.prefill_tokens_per_second,
        r.decode_tokens_per_second,
        r.launches_per_prefill,
        r.launches_per_token,
        r.first_token_seconds
    );
    let list = |title: &str, kernels: &[KernelCount]| {
        let rows: Vec<String> = kernels
            .iter()
            .map(|k| match c.timed {
                true => format!(
                    "  {:>7}  {:>9.1} ms  {}",
                    k.launches,
                    k.seconds * 1e3,
                    k.kernel
                ),
                false => format!("  {:>7}  {}", k.launches, k.kernel),
            })
            .collect();
        match rows.is_empty() {
            true => String::new(),
            false => format!("{title}\n{}\n", rows.join("\n")),
        }
    };
    let most = if c.timed {
        "kernels that took longest (launches, time)"
    } else {
        "kernels launched most"
    };
    out += &list(&format!("{most} per training step:"), &r.step_kernels);
    out += &list(&format!("{most} per decoded token:"), &r.token_kernels);
    out
}
