//! The `webtune` command-line tool.

mod doctor;
mod eval;
mod generate;
mod merge;
mod model;
mod score;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Private fine-tuning and RAG on your own GPU.
#[derive(Parser)]
#[command(name = "webtune", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report the GPU adapter and check that it computes what the CPU computes.
    Doctor(doctor::Args),
    /// Generate text with a model, streaming it to the terminal.
    Generate(generate::Args),
    /// Print each token's loss and the text's perplexity as JSON.
    Score(score::Args),
    /// Fine-tune a LoRA adapter on a JSONL dataset and write it in PEFT's layout.
    Train(train::Args),
    /// Fold a PEFT adapter into its base and write a checkpoint transformers loads.
    Merge(merge::Args),
    /// Loss, perplexity and exact match of a model (and adapter) on a dataset, as JSON.
    Eval(eval::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Doctor(args) => doctor::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Score(args) => score::run(args),
        Command::Train(args) => train::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Eval(args) => eval::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
