//! `webtune train`: fine-tuning (LoRA, DoRA, full or Half Fine-Tuning) from a JSONL or CSV
//! file, with a progress line, evaluation on held-out data, and the result written as a PEFT
//! adapter (LoRA, DoRA) or a whole Hugging Face checkpoint (full, HFT).

use std::io::Write;
use std::path::PathBuf;

use webtune::flow::Flow;
use webtune::lora::Targets;
use webtune::platform::block_on;
use webtune::session::{EvalData, ExportKind, Purpose, Session};
use webtune::train::{Event, Method, Objective, TrainConfig};

use crate::model::{self, ModelArgs, read_text};
use crate::output;
use crate::rag;

/// Options of `webtune train`.
#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Where to write the result (an adapter: adapter_config.json, adapter_model.safetensors;
    /// or, for full and half, config.json and model.safetensors), the log and checkpoints.
    #[arg(long, default_value = "adapter")]
    out: PathBuf,
    /// Save a checkpoint (adapter, optimizer, data position) to OUT/checkpoint every N steps.
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Continue from OUT/checkpoint, on the same trajectory.
    #[arg(long)]
    resume: bool,
    /// Also measure exact-match accuracy of greedy answers on the validation conversations,
    /// before and after training.
    #[arg(long)]
    exact_match: bool,
    /// The memory the run may take, e.g. 6GiB or 512MiB (default: the machine's memory on
    /// the CPU tier; on a GPU only its binding limit is known). A run whose plan exceeds it
    /// is refused before it starts, with settings that would fit.
    #[arg(long, value_parser = parse_bytes)]
    memory_budget: Option<u64>,
}

/// The model, the data and the run's settings: what `webtune train` and `webtune export-job`
/// share.
#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Training data: JSONL (messages, conversations, alpaca, prompt/completion, text, or
    /// openai-evals input/ideal), or CSV with a header (question/answer, prompt/completion,
    /// instruction/output, input/output or text columns; others via the config's
    /// `data.csv_columns`). Or documents for domain adaptation: text, Markdown and HTML
    /// files, or folders of them (several paths allowed), cut into windows of --max-len
    /// tokens with every token trained and whole documents held out for validation.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Validation data (default: a seeded share of --data).
    #[arg(long)]
    validation: Option<PathBuf>,
    /// Run configuration (TOML or JSON, `TrainConfig`'s fields); flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start from a run the memory planner sizes for this machine and data (the page's
    /// presets): quick, balanced or thorough; flags below override it, --config does not
    /// combine with it.
    #[arg(long, value_parser = ["quick", "balanced", "thorough"], conflicts_with = "config")]
    preset: Option<String>,
    /// What to train: lora (default), full (every parameter) or half (Half Fine-Tuning).
    #[arg(long, value_parser = ["lora", "full", "half"])]
    method: Option<String>,
    /// What to optimize: sft (default; supervised), dpo or orpo (on preference pairs:
    /// JSONL records with prompt/chosen/rejected, as TRL reads them).
    #[arg(long, value_parser = ["sft", "dpo", "orpo"])]
    objective: Option<String>,
    /// DPO/ORPO: beta (TRL's; default 0.1).
    #[arg(long)]
    beta: Option<f64>,
    /// DPO: the share of pairs taken to be flipped (TRL's robust loss), in [0, 0.5).
    #[arg(long)]
    label_smoothing: Option<f64>,
    /// LoRA dropout on the adapter's input (PEFT's lora_dropout).
    #[arg(long)]
    dropout: Option<f64>,
    /// Pack several examples into each sequence (no attention across them).
    #[arg(long)]
    packing: bool,
    /// Drop training rows that repeat an earlier one, exactly or nearly.
    #[arg(long)]
    drop_repeats: bool,
    /// Drop training rows that a validation row repeats.
    #[arg(long)]
    drop_leaked: bool,
    /// When the answers come from a small set and are imbalanced, repeat the rarer answers'
    /// rows until each is as frequent as the commonest.
    #[arg(long)]
    rebalance: bool,
    /// Keep the frozen base's linear layers in 4-bit blocks on the device (QLoRA-style;
    /// LoRA and DoRA only).
    #[arg(long)]
    quantize: bool,
    /// Passes over the data.
    #[arg(long)]
    epochs: Option<usize>,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// LoRA rank.
    #[arg(long)]
    rank: Option<usize>,
    /// LoRA alpha.
    #[arg(long)]
    alpha: Option<f64>,
    /// DoRA (weight-decomposed LoRA: a trained magnitude per output) instead of plain LoRA.
    #[arg(long)]
    dora: bool,
    /// Layers to adapt: comma-separated names (q_proj,v_proj) or all-linear.
    #[arg(long)]
    targets: Option<String>,
    /// Sequences per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Pad each batch to a multiple of this many tokens (default: 32 on a GPU, none on the
    /// CPU tier).
    #[arg(long)]
    pad_to_multiple_of: Option<usize>,
    /// Longest sequence in tokens.
    #[arg(long)]
    max_len: Option<usize>,
    /// Evaluate every N steps.
    #[arg(long)]
    eval_every: Option<usize>,
    /// Share of --data held out for validation when there is no --validation file.
    #[arg(long)]
    validation_fraction: Option<f64>,
}

/// `6GiB`, `512MiB`, `100MB`, `1e9`: a size in bytes.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size (say 6GiB, 512MiB or 4000000000)"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    let bytes = number * scale;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("{text:?} is not a positive size"));
    }
    Ok(bytes as u64)
}

/// The run's configuration: `--config`, then the flags (a `--preset` replaces it once the
/// data is read: see [`prepare`]).
pub fn config(args: &RunArgs) -> webtune::Result<TrainConfig> {
    let config = match &args.config {
        Some(path) => model::read_config(path)?,
        None => TrainConfig::default(),
    };
    flags(config, args)
}

/// `config` with the flags of `args` applied.
fn flags(mut config: TrainConfig, args: &RunArgs) -> webtune::Result<TrainConfig> {
    let set = |slot: &mut usize, v: Option<usize>| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(&mut config.epochs, args.epochs);
    set(&mut config.lora.r, args.rank);
    set(&mut config.batch_size, args.batch_size);
    set(&mut config.data.encode.max_len, args.max_len);
    set(&mut config.eval_every, args.eval_every);
    config.max_steps = args.max_steps.or(config.max_steps);
    config.pad_to_multiple_of = args.pad_to_multiple_of.or(config.pad_to_multiple_of);
    if let Some(fraction) = args.validation_fraction {
        config.data.validation_fraction = fraction;
    }
    if let Some(lr) = args.lr {
        config.optimizer.lr = lr;
    }
    if let Some(alpha) = args.alpha {
        config.lora.lora_alpha = alpha;
    }
    config.lora.use_dora |= args.dora;
    config.data.packing |= args.packing;
    config.data.drop_repeats |= args.drop_repeats;
    config.data.drop_leaked |= args.drop_leaked;
    config.data.rebalance |= args.rebalance;
    if let Some(p) = args.dropout {
        config.lora.lora_dropout = p;
    }
    config.method = match args.method.as_deref() {
        Some("full") => Method::Full,
        Some("half") => Method::Half,
        Some(_) => Method::Lora,
        None => config.method,
    };
    config.objective = match args.objective.as_deref() {
        Some("dpo") => Objective::Dpo {
            beta: 0.1,
            label_smoothing: 0.0,
        },
        Some("orpo") => Objective::Orpo { beta: 0.1 },
        Some(_) => Objective::Sft,
        None => config.objective,
    };
    match &mut config.objective {
        Objective::Dpo {
            beta,
            label_smoothing,
        } => {
            *beta = args.beta.unwrap_or(*beta);
            *label_smoothing = args.label_smoothing.unwrap_or(*label_smoothing);
        }
        Objective::Orpo { beta } => *beta = args.beta.unwrap_or(*beta),
        Objective::Sft if args.beta.is_some() || args.label_smoothing.is_some() => {
            return Err(webtune::Error::Setting {
                setting: "objective".into(),
                problem: "is sft: --beta and --label-smoothing apply to --objective dpo or orpo"
                    .into(),
            });
        }
        Objective::Sft => {}
    }
    if let Some(targets) = &args.targets {
        config.lora.target_modules =
            Targets::Names(targets.split(',').map(|t| t.trim().to_string()).collect());
    }
    Ok(config)
}

/// Prints a training event on stderr (a progress bar for steps).
pub fn progress(event: &Event) {
    let mut err = std::io::stderr();
    match event {
        Event::Started {
            total_steps,
            train_rows,
            validation_rows,
            resumed_at,
        } => {
            eprintln!(
                "training: {total_steps} steps on {train_rows} examples ({validation_rows} held \
                 out){}",
                resumed_at.map_or(String::new(), |s| format!(", resuming at step {s}"))
            );
        }
        Event::Checkpoint { step } => {
            eprintln!("\ncheckpoint saved at step {step}");
        }
        Event::Step {
            report,
            tokens_per_second,
            processed_tokens_per_second,
            eta_seconds,
            total_steps,
        } => {
            let done = report.step + 1;
            let width = 24;
            let filled = done * width / (*total_steps).max(1);
            let _ = write!(
                err,
                "\r[{}{}] {done}/{total_steps} loss {:.4}{} lr {:.2e} |g| {:.3} {:.0} trained tok/s ({:.0} processed) ETA {:.0}s{}   ",
                "#".repeat(filled),
                "-".repeat(width - filled.min(width)),
                report.loss,
                report
                    .preference
                    .as_ref()
                    .map_or(String::new(), |p| format!(
                        " acc {:.0}% margin {:.3}",
                        100.0 * p.accuracy,
                        p.margins
                    )),
                report.lr,
                report.grad_norm,
                tokens_per_second,
                processed_tokens_per_second,
                eta_seconds,
                if report.skipped {
                    " (skipped: not finite)"
                } else {
                    ""
                }
            );
            let _ = err.flush();
        }
        Event::Eval {
            step,
            validation_loss,
            perplexity,
            best,
            preference,
        } => {
            let best = if *best { " (best)" } else { "" };
            match preference {
                Some(p) => eprintln!(
                    "\nstep {step}: held-out pairs: loss {validation_loss:.4}, reward accuracy \
                     {:.1}%, margin {:.3}, chosen preferred {:.1}%{best}",
                    100.0 * p.accuracy,
                    p.margins,
                    100.0 * p.preferred
                ),
                None => eprintln!(
                    "\nstep {step}: validation loss {validation_loss:.4}, perplexity \
                     {perplexity:.2}{best}"
                ),
            }
        }
        Event::Finished {
            steps,
            reason,
            best_validation_loss,
            seconds,
        } => {
            eprintln!(
                "\nfinished: {steps} steps in {seconds:.0}s ({reason}); best validation loss {}",
                best_validation_loss.map_or("n/a".into(), |l| format!("{l:.4}"))
            );
        }
    }
}

/// Exact match before or after training, printed on stderr.
pub fn accuracy(session: &Session, label: &str) -> webtune::Result<(f64, f64)> {
    let report =
        block_on(session.evaluate(EvalData::Validation, true, true, crate::output::answering()))?;
    let (exact, first) = (
        report.exact_match.unwrap_or(0.0),
        report.first_word_accuracy.unwrap_or(0.0),
    );
    eprintln!(
        "{label}: exact match {:.1}%, first word right {:.1}%, on {} held-out questions",
        100.0 * exact,
        100.0 * first,
        report.answers.len()
    );
    for a in report.answers.iter().take(3) {
        eprintln!("  expected {:?}, got {:?}", a.expected, a.got);
    }
    Ok((exact, first))
}

/// Refuses out-of-range settings before anything is loaded, then opens the model and reads
/// the data (printing the data report): what training and exporting a job start with. The
/// run's config comes back: `config`, or with `--preset` that preset sized against `budget`
/// bytes (its data options and the flags kept).
pub fn prepare(
    args: &RunArgs,
    config: &TrainConfig,
    budget: Option<u64>,
) -> webtune::Result<(Session, TrainConfig)> {
    config.validate()?;
    let purpose = Purpose::of_method(config.method);
    let mut session = model::open(&args.model, purpose, args.quantize)?;
    let report = match args.data.as_slice() {
        [file] if !rag::is_document(file) => {
            let text = read_text(file)?;
            let validation = match &args.validation {
                Some(path) => Some((path.display().to_string(), read_text(path)?)),
                None => None,
            };
            session.load_dataset(
                &file.display().to_string(),
                &text,
                validation.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
                &config.data,
            )?
        }
        paths => {
            if let Some(path) = &args.validation {
                return Err(webtune::Error::Input {
                    problem: format!(
                        "--validation {} is for a JSONL or CSV dataset; with documents, whole \
                         documents are held out (--validation-fraction)",
                        path.display()
                    ),
                });
            }
            if let Some(path) = paths.iter().find(|p| !rag::is_document(p)) {
                return Err(webtune::Error::Input {
                    problem: format!(
                        "--data {} is not a text, Markdown or HTML document or a folder: give \
                         one JSONL or CSV dataset, or documents",
                        path.display()
                    ),
                });
            }
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let documents = rag::read_documents(paths)?;
            session.load_documents(&names.join(", "), &documents, &config.data)?
        }
    };
    eprint!("{report}");
    let Some(name) = &args.preset else {
        return Ok((session, config.clone()));
    };
    let presets = session.presets(budget)?;
    let preset = presets
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| webtune::Error::Setting {
            setting: "--preset".into(),
            problem: format!("is {name}: no such preset"),
        })?;
    eprintln!(
        "preset {name}: {}; rank {}, batch {} × {}, learning rate {}; {}",
        preset.purpose,
        preset.config.lora.r,
        preset.config.batch_size,
        preset.config.grad_accumulation,
        preset.config.optimizer.lr,
        preset.length.summary
    );
    let sized = flags(
        TrainConfig {
            data: config.data.clone(),
            ..preset.config
        },
        args,
    )?;
    Ok((session, sized))
}

/// Loads the model, prepares the data, checks the memory plan, trains, writes the result.
pub fn run(args: Args) -> webtune::Result<()> {
    let (mut session, mut config) = prepare(&args.run, &config(&args.run)?, args.memory_budget)?;
    if let Some(every) = args.checkpoint_every {
        config.checkpoint_every = every;
    }
    // Refused here, before the first step, when it cannot fit (the same check as the page's).
    session.plan(&config, args.memory_budget)?.check()?;
    let base_accuracy = match args.exact_match {
        true => Some(accuracy(&session, "base model")?),
        false => None,
    };
    let checkpoint_dir = args.out.join("checkpoint");
    let resume = match args.resume {
        true => Some(output::read_checkpoint(&checkpoint_dir)?),
        false => None,
    };
    // Made now, so that an unwritable --out fails before the run; taken away again (when
    // still empty) if the run fails before it wrote anything.
    let created = !args.out.exists();
    output::create_dir(&args.out)?;
    let run = block_on(session.train(
        config,
        args.memory_budget,
        resume.as_ref(),
        |event| {
            progress(event);
            Flow::Continue
        },
        |checkpoint| output::write_checkpoint(&checkpoint_dir, &checkpoint),
    ))
    .inspect_err(|_| {
        if created {
            // Removes only an empty folder: a checkpoint written before the failure stays.
            let _ = std::fs::remove_dir(&args.out);
        }
    })?;
    eprintln!("{}", run.description);
    if let Some((base, base_first)) = base_accuracy {
        let (tuned, tuned_first) = accuracy(&session, "fine-tuned")?;
        eprintln!(
            "exact match: base {:.1}% → fine-tuned {:.1}%; first word right: base {:.1}% → \
             fine-tuned {:.1}%",
            100.0 * base,
            100.0 * tuned,
            100.0 * base_first,
            100.0 * tuned_first
        );
    }
    output::write_files(&args.out, &block_on(session.export(ExportKind::Result))?)?;
    let lines: Vec<String> = run
        .events
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .collect();
    output::write_atomic(
        &args.out.join("training_log.jsonl"),
        (lines.join("\n") + "\n").as_bytes(),
    )?;
    eprintln!("written to {}", args.out.display());
    Ok(())
}
