//! `webtune search`: successive halving over learning rates × LoRA ranks on a dataset within a
//! budget of steps; prints the table of trials and writes the chosen setting's adapter (its
//! full run), its config and the table.

use std::io::Write;
use std::path::PathBuf;

use webtune::flow::Flow;
use webtune::platform::block_on;
use webtune::session::{ExportKind, SearchEvent};
use webtune::train::Event;
use webtune::train::search::SearchConfig;

use crate::output;
use crate::train::{RunArgs, accuracy, config, prepare};

/// Options of `webtune search`.
#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Optimizer steps all trials together may take.
    #[arg(long, default_value_t = 200)]
    budget_steps: usize,
    /// Peak learning rates to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1e-4, 3e-4, 1e-3])]
    lrs: Vec<f64>,
    /// LoRA ranks to try, comma-separated (alpha is twice the rank).
    #[arg(long, value_delimiter = ',', default_values_t = [8, 16])]
    ranks: Vec<usize>,
    /// Also measure exact-match accuracy of greedy answers on the validation conversations,
    /// before the search and with the chosen setting's adapter.
    #[arg(long)]
    exact_match: bool,
    /// Where to write the chosen setting's adapter, webtune-run.json (its settings) and
    /// search.json (every trial).
    #[arg(long, default_value = "search")]
    out: PathBuf,
}

/// Runs the search and writes what it found.
pub fn run(args: Args) -> webtune::Result<()> {
    let (mut session, base) = prepare(&args.run, &config(&args.run)?, None)?;
    let search = SearchConfig {
        lr: args.lrs.clone(),
        rank: args.ranks.clone(),
        budget_steps: args.budget_steps,
        ..SearchConfig::default()
    };
    let before = match args.exact_match {
        true => Some(accuracy(&session, "base model")?),
        false => None,
    };
    let mut err = std::io::stderr();
    let report = block_on(session.search_settings(base, &search, None, |event| {
        progress(event, &mut err);
        Flow::Continue
    }))?;

    for skipped in &report.skipped {
        eprintln!("left out (does not fit): {skipped}");
    }
    eprintln!(
        "chosen: lr {} rank {} for {} steps ({} steps searched in all)",
        report.best.optimizer.lr,
        report.best.lora.r,
        report.best.max_steps.unwrap_or(0),
        report.steps
    );
    if let Some((base, _)) = before {
        let (chosen, _) = accuracy(&session, "chosen setting")?;
        eprintln!(
            "exact match: base {:.1}% → chosen setting {:.1}%",
            100.0 * base,
            100.0 * chosen
        );
    }
    output::create_dir(&args.out)?;
    output::write_files(&args.out, &block_on(session.export(ExportKind::Result))?)?;
    output::write_atomic(
        &args.out.join(webtune::session::CONFIG_FILE),
        (output::json_text(&report.best)? + "\n").as_bytes(),
    )?;
    output::write_atomic(
        &args.out.join("search.json"),
        (output::json_text(&report)? + "\n").as_bytes(),
    )?;
    eprintln!("written to {}", args.out.display());
    Ok(())
}

/// Prints a search event on stderr (a progress line for steps).
fn progress(event: &SearchEvent, err: &mut impl Write) {
    match event {
        SearchEvent::Started { candidates, rungs } => {
            let shown: Vec<String> = rungs
                .iter()
                .map(|r| format!("{} to step {}", r.candidates, r.steps))
                .collect();
            eprintln!("search: {candidates} settings; rungs {}", shown.join(", "));
        }
        SearchEvent::Run {
            candidate,
            rung,
            event: Event::Step { report, .. },
        } => {
            let _ = write!(
                err,
                "\r  rung {rung}, setting {candidate}: step {} loss {:.4}   ",
                report.step + 1,
                report.loss
            );
            let _ = err.flush();
        }
        SearchEvent::Trial { trial } => eprintln!(
            "\r  rung {}, setting {}: lr {:.0e} rank {} — {} steps, validation loss {} ({:.0}s)",
            trial.rung,
            trial.candidate,
            trial.lr,
            trial.rank,
            trial.steps,
            trial
                .validation_loss
                .map_or("n/a".into(), |l| format!("{l:.4}")),
            trial.seconds
        ),
        SearchEvent::Run { .. } => {}
    }
}
