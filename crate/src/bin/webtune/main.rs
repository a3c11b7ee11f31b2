//! The `webtune` command-line tool.

mod advise;
mod bench;
mod doctor;
mod eval;
mod export;
mod generate;
mod job;
mod merge;
mod model;
mod output;
mod pairs;
mod rag;
mod score;
mod search;
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
    /// Training and generation speed of a model here, and the GPU kernels each launches.
    Bench(bench::Args),
    /// Generate text with a model, streaming it to the terminal.
    Generate(generate::Args),
    /// Print each token's loss and the text's perplexity as JSON.
    Score(score::Args),
    /// Fine-tune (LoRA, DoRA, full or Half Fine-Tuning) on a JSONL or CSV dataset.
    Train(Box<train::Args>),
    /// Write a fine-tune out: PEFT adapter, Hugging Face checkpoint, or GGUF for llama.cpp/Ollama.
    Export(export::Args),
    /// Write the same fine-tune as a folder that TRL + PEFT run on one GPU or many
    /// (accelerate launch / torchrun).
    ExportJob(Box<job::Args>),
    /// Fold a PEFT adapter into its base and write a checkpoint transformers loads.
    Merge(merge::Args),
    /// Loss, perplexity and exact match of a model (and adapter) on a dataset, as JSON.
    Eval(eval::Args),
    /// Add documents (.md, .txt, .html) to a retrieval index file, or update them.
    Index(rag::IndexArgs),
    /// The best chunks of a retrieval index for a question, as JSON.
    Query(rag::QueryArgs),
    /// Answer a question with a model; with --rag from a retrieval index, citing the chunks
    /// it uses.
    Ask(Box<rag::AskArgs>),
    /// Fine-tune or retrieve? Measure the base model, RAG, LoRA and LoRA + RAG on your
    /// documents and questions, and get a recommendation.
    Advise(Box<advise::Args>),
    /// Find good settings: successive halving over learning rates × LoRA ranks within a
    /// budget of steps; writes the chosen setting's adapter and every trial.
    Search(Box<search::Args>),
    /// Training data from documents: question/answer pairs the model writes about each
    /// passage, checked against it, as chat JSONL.
    Pairs(Box<pairs::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Doctor(args) => doctor::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Score(args) => score::run(args),
        Command::Train(args) => train::run(*args),
        Command::Export(args) => export::run(args),
        Command::ExportJob(args) => job::run(*args),
        Command::Merge(args) => merge::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Index(args) => rag::index(args),
        Command::Query(args) => rag::query(args),
        Command::Ask(args) => rag::ask(*args),
        Command::Advise(args) => advise::run(*args),
        Command::Search(args) => search::run(*args),
        Command::Pairs(args) => pairs::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
