//! The `webtune` command line on the tiny checkpoints of `tests/fixtures/tiny/` (CPU tier):
//! `score` prints per-token losses and perplexity as JSON, `generate` honours stop strings,
//! and bad input gives a one-line error and a failing exit status, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny")
        .join(path)
}

fn webtune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webtune"))
        .args(args)
        .output()
        .expect("webtune runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn score_prints_losses_and_perplexity() {
    let dir = std::env::temp_dir().join(format!("webtune-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("text.txt");
    std::fs::write(&file, "Hello world! Support tickets are answered.").unwrap();
    let model = fixture("llama");
    let out = webtune(&[
        "score",
        "--model",
        model.to_str().unwrap(),
        "--text-file",
        file.to_str().unwrap(),
        "--tier",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let per_token = report["per_token"].as_array().unwrap();
    assert_eq!(
        per_token.len() + 1,
        report["tokens"].as_u64().unwrap() as usize
    );
    let losses: Vec<f64> = per_token
        .iter()
        .map(|t| t["loss"].as_f64().unwrap())
        .collect();
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    assert!((report["mean_loss"].as_f64().unwrap() - mean).abs() < 1e-5);
    assert!((report["perplexity"].as_f64().unwrap() - mean.exp()).abs() < 1e-3 * mean.exp());
    assert!(losses.iter().all(|l| l.is_finite() && *l >= 0.0));
}

#[test]
fn generate_streams_and_stops_at_a_stop_string() {
    let model = fixture("gpt2.gguf");
    let gguf = model.to_str().unwrap();
    // The tiny GGUF has no tokenizer: a text command says so.
    let out = webtune(&[
        "generate", "--model", gguf, "--prompt", "hi", "--tier", "cpu",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("has no tokenizer"),
        "{}",
        text(&out.stderr)
    );

    let model = fixture("llama");
    let dir = model.to_str().unwrap();
    let run = |stop: &[&str]| {
        let mut args = vec![
            "generate", "--model", dir, "--prompt", "Hello", "--tier", "cpu",
        ];
        args.extend(["--max-new-tokens", "12"]);
        for s in stop {
            args.extend(["--stop", s]);
        }
        let out = webtune(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        (text(&out.stdout), text(&out.stderr))
    };
    let (full, _) = run(&[]);
    let full = full.trim_end_matches('\n').to_string();
    assert!(full.chars().count() >= 3, "{full:?}");
    // Stop at the text's third character: only what precedes it is printed.
    let stop: String = full.chars().skip(2).take(1).collect();
    let (cut, log) = run(&[&stop]);
    let cut = cut.trim_end_matches('\n');
    assert!(log.contains("stopped: stop string"), "{log}");
    assert_eq!(cut, &full[..full.find(&stop).unwrap()]);
}

#[test]
fn bad_input_fails_cleanly() {
    let out = webtune(&[
        "generate",
        "--model",
        "/nonexistent.gguf",
        "--prompt",
        "x",
        "--tier",
        "cpu",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: /nonexistent.gguf:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn eval_reports_loss_and_accuracy() {
    let dir = std::env::temp_dir().join(format!("webtune-cli-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("held.csv");
    std::fs::write(
        &data,
        "question,answer\nHello world,Hi.\n\"Policy, please?\",Policy?\n",
    )
    .unwrap();
    let model = fixture("llama");
    let out = webtune(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--exact-match",
        "--tier",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["examples"], 2);
    let loss = report["loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{report}");
    assert!((report["perplexity"].as_f64().unwrap() - loss.exp()).abs() < 1e-6 * loss.exp());
    let accuracy = report["exact_match"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
}
