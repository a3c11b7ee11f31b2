//! The hostile-input corpus (`tests/hostile/cases.jsonl`, written by
//! `tests/hostile/make_corpus.py`): every case runs the `webtune` command line on one bad input
//! — a model, an adapter, a checkpoint, a dataset, a document, an index, a template or a
//! setting — under a time limit. Each must end in a clean error (exit 1 or a usage error, no
//! panic, no abort, no hang) whose message names the file (or setting) and says what the case
//! expects, with nothing written to `--out`; a case marked `may_pass` (a harmless random edit,
//! the unedited control) may also succeed. Prints the counts by class and outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../../tests/hostile/spec.rs"]
mod spec;

/// Long enough for the slowest legitimate case (a 65 MiB document, a template running out of
/// fuel in a debug build); a hang runs into it.
const LIMIT: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bytes an input spec describes, splicing into files of the repository.
fn content(spec: &Value) -> Vec<u8> {
    spec::content(spec, |path| std::fs::read(root().join(path)).unwrap())
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Writes input `spec` under `dir`; returns its path.
fn materialize(dir: &Path, spec: &Value) -> PathBuf {
    let path = dir.join(spec["name"].as_str().unwrap());
    match spec["folder"].as_str() {
        Some(folder) => {
            copy_folder(&root().join(folder), &path);
            for (name, file) in spec["files"].as_object().unwrap() {
                let target = path.join(name);
                match file {
                    Value::Null => std::fs::remove_file(target).unwrap(),
                    spec => std::fs::write(target, content(spec)).unwrap(),
                }
            }
        }
        None => std::fs::write(&path, content(spec)).unwrap(),
    }
    path
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Error,
    Passed,
    Panic,
    Crash,
    Hang,
}

struct Run {
    outcome: Outcome,
    stderr: String,
    out_written: bool,
}

fn run(case: &Value, dir: &Path) -> Run {
    std::fs::create_dir_all(dir).unwrap();
    let mut paths = BTreeMap::new();
    for (key, spec) in case["inputs"].as_object().unwrap() {
        paths.insert(format!("{{{key}}}"), materialize(dir, spec));
    }
    let out = dir.join("out");
    paths.insert("{out}".into(), out.clone());
    let args: Vec<String> = case["cmd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match paths.get(a) {
                Some(path) => path.display().to_string(),
                None => a.to_string(),
            }
        })
        .collect();
    let stderr_path = dir.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_webtune"))
        .args(&args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = String::from_utf8_lossy(&std::fs::read(&stderr_path).unwrap()).into_owned();
    let outcome = match status.map(|s| s.code()) {
        None => Outcome::Hang,
        Some(None) => Outcome::Crash,
        Some(Some(0)) => Outcome::Passed,
        Some(Some(101)) => Outcome::Panic,
        Some(Some(_)) if stderr.contains("panicked at") => Outcome::Panic,
        Some(Some(_)) => Outcome::Error,
    };
    Run {
        outcome,
        out_written: out.exists(),
        stderr,
    }
}

/// What is wrong with a case's run, if anything.
fn judge(case: &Value, run: &Run) -> Option<String> {
    let last = run
        .stderr
        .trim_end()
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    match run.outcome {
        Outcome::Passed if case["may_pass"].as_bool() == Some(true) => None,
        Outcome::Passed => Some("accepted: exited 0".into()),
        Outcome::Panic | Outcome::Crash | Outcome::Hang => {
            Some(format!("{:?}: {}", run.outcome, tail(&run.stderr)))
        }
        Outcome::Error => {
            if run.out_written {
                return Some(format!("failed but wrote --out: {last}"));
            }
            let missing: Vec<&str> = case["expect"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .filter(|want| !run.stderr.contains(want))
                .collect();
            match missing.is_empty() {
                true => None,
                false => Some(format!("message lacks {missing:?}: {last}")),
            }
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

#[test]
fn hostile_inputs_end_in_clean_errors() {
    let cases: Vec<Value> = std::fs::read_to_string(root().join("tests/hostile/cases.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 300, "{} cases", cases.len());
    let scratch = std::env::temp_dir().join(format!("webtune-hostile-{}", std::process::id()));
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let dir = scratch.join(i.to_string());
                    let run = run(case, &dir);
                    let _ = std::fs::remove_dir_all(&dir);
                    let verdict = judge(case, &run);
                    results.lock().unwrap().push((i, run.outcome, verdict));
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _, _)| *i);

    let mut counts: BTreeMap<(String, Outcome), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, outcome, verdict) in &results {
        let class = cases[*i]["class"].as_str().unwrap().to_string();
        *counts.entry((class, *outcome)).or_default() += 1;
        if let Some(problem) = verdict {
            failures.push(format!("{}: {problem}", cases[*i]["id"].as_str().unwrap()));
        }
    }
    let mut totals: BTreeMap<Outcome, usize> = BTreeMap::new();
    for ((class, outcome), n) in &counts {
        eprintln!("{class:<12} {outcome:?}: {n}");
        *totals.entry(*outcome).or_default() += n;
    }
    eprintln!(
        "{} cases in {:.0} s: {totals:?}",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
