//! A training run killed (SIGKILL) at 10 random points and resumed each time ends with the
//! same adapter, bit for bit, as the run that was never interrupted (CPU tier); the checkpoint
//! on disk is readable after every kill (`webtune export` turns it into an adapter).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const KILLS: usize = 10;

fn webtune() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webtune"));
    command
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn train(data: &Path, out: &Path, resume: bool) -> Command {
    let mut command = webtune();
    command.args([
        "train",
        "--model",
        "tests/fixtures/tiny/llama",
        "--tier",
        "cpu",
    ]);
    command.args([
        "--epochs",
        "100",
        "--max-steps",
        "120",
        "--checkpoint-every",
        "1",
    ]);
    command.arg("--data").arg(data).arg("--out").arg(out);
    if resume {
        command.arg("--resume");
    }
    command
}

/// A fixed sequence of numbers in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn a_run_killed_ten_times_ends_as_an_uninterrupted_one() {
    let dir = std::env::temp_dir().join(format!("webtune-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.jsonl");
    let lines = webtune_tests::conversations_jsonl(12, |i| {
        (format!("Question {i}?"), format!("Answer number {i}."))
    });
    std::fs::write(&data, lines).unwrap();

    let whole = dir.join("whole");
    let start = Instant::now();
    let out = train(&data, &whole, false).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duration = start.elapsed();
    let expected = std::fs::read(whole.join("adapter_model.safetensors")).unwrap();

    let cut = dir.join("cut");
    let checkpoint = cut.join("checkpoint");
    let mut rng = Lcg(19);
    let mut kills = Vec::new();
    for _ in 0..KILLS {
        let resume = checkpoint.join("state.json").exists() || has_fallback(&checkpoint);
        let mut child = train(&data, &cut, resume).spawn().unwrap();
        // On average 8 % of the whole run: the ten kills land all along it, and the run
        // only ends in the resume after them.
        let delay = duration.mul_f64(0.02 + 0.12 * rng.next());
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap();
        child.wait().unwrap();
        kills.push((delay, finished));
        if resume || checkpoint.exists() || has_fallback(&checkpoint) {
            readable(&checkpoint, &dir.join("exported"));
        }
    }
    let out = train(&data, &cut, true).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let got = std::fs::read(cut.join("adapter_model.safetensors")).unwrap();
    eprintln!(
        "uninterrupted run {:.1} s; killed after {:?}",
        duration.as_secs_f64(),
        kills
            .iter()
            .map(|(d, done)| format!(
                "{:.2} s{}",
                d.as_secs_f64(),
                if *done { " (done)" } else { "" }
            ))
            .collect::<Vec<_>>()
    );
    assert!(
        got == expected,
        "the resumed run's adapter differs from the uninterrupted run's"
    );

    // Killed between the two renames of a checkpoint save: only `checkpoint.tmp` (the new
    // one, complete) and `checkpoint.old` are there. Both commands read the new one.
    let saved = whole.join("checkpoint");
    std::fs::rename(&saved, saved.with_extension("tmp")).unwrap();
    readable(&saved, &dir.join("exported"));
    let out = train(&data, &whole, true).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("reading"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether a kill between the checkpoint's two renames left it in `.tmp`/`.old`.
fn has_fallback(checkpoint: &Path) -> bool {
    ["tmp", "old"]
        .iter()
        .any(|ext| checkpoint.with_extension(ext).join("state.json").exists())
}

/// The checkpoint (or what a kill left of it) exports to an adapter.
fn readable(checkpoint: &Path, out: &PathBuf) {
    let _ = std::fs::remove_dir_all(out);
    let output = webtune()
        .args([
            "export",
            "--model",
            "tests/fixtures/tiny/llama",
            "--tier",
            "cpu",
        ])
        .arg("--checkpoint")
        .arg(checkpoint)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the checkpoint left by a kill is unreadable: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
