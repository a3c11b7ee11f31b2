//! The `webtune` command line on the tiny checkpoints of `tests/fixtures/tiny/` (CPU tier):
//! `score` prints per-token losses and perplexity as JSON, `generate` honours stop strings,
//! bad input gives a one-line error and a failing exit status, never a panic; `index` and
//! `query` build, update, prune and search a retrieval index with all-MiniLM-L6-v2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny")
        .join(path)
}

/// A test's scratch folder, `webtune-cli-NAME-PID` in the system's temporary folder: emptied
/// when made, removed when the test ends (kept after a failure, to look at).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("webtune-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
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
    let dir = Scratch::new("score");
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

/// Two adapters kept on one base: `--compare` answers with the base and then each, `--use`
/// picks one (the same answer as that adapter alone), and two adapters without a choice, or
/// an unknown one, are refused with the names there are.
#[test]
fn generate_with_several_adapters() {
    let model = fixture("llama");
    let dir = model.to_str().unwrap();
    let adapters = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let a = format!("a={}", adapters.join("lora/adapter").display());
    let b = format!("b={}", adapters.join("gguf_export/llama_adapter").display());
    let run = |extra: &[&str]| {
        let mut args = vec![
            "generate", "--model", dir, "--prompt", "Hello", "--tier", "cpu",
        ];
        args.extend(["--max-new-tokens", "8"]);
        args.extend(extra);
        webtune(&args)
    };
    let out = run(&["--adapter", &a, "--adapter", &b, "--compare"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let sections: Vec<&str> = stdout.split("== ").skip(1).collect();
    let labels: Vec<&str> = sections.iter().map(|s| s.lines().next().unwrap()).collect();
    assert_eq!(labels, ["base model", "a", "b"], "{stdout}");
    assert!(text(&out.stderr).contains("adapter b: r = 4, 14 layers"));
    let answer = |s: &str| s.split_once('\n').unwrap().1.trim_end().to_string();
    let used = run(&["--adapter", &a, "--adapter", &b, "--use", "b"]);
    assert!(used.status.success(), "{}", text(&used.stderr));
    let alone = run(&["--adapter", &b]);
    assert_eq!(text(&used.stdout), text(&alone.stdout));
    assert_eq!(text(&used.stdout).trim_end(), answer(sections[2]));
    assert_ne!(
        answer(sections[0]),
        answer(sections[2]),
        "the adapter changes nothing"
    );
    for bad in [
        vec!["--adapter", &a, "--adapter", &b],
        vec!["--adapter", &a, "--use", "c"],
    ] {
        let out = run(&bad);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("\"a\""), "{}", text(&out.stderr));
    }
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

    // f16 is the GPU tier's (where the adapter has shader-f16): asked of the CPU, it says so.
    let model = fixture("llama");
    let out = webtune(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "x",
        "--tier",
        "cpu",
        "--precision",
        "f16",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("f16 runs on the GPU tier only"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn eval_reports_loss_and_accuracy() {
    let dir = Scratch::new("eval");
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

/// Runs `webtune ARGS` and fails the test with its stderr when it fails.
fn ok(args: &[&str]) -> String {
    let out = webtune(args);
    let err = text(&out.stderr);
    assert!(out.status.success(), "webtune {}: {err}", args.join(" "));
    err
}

/// The LoRA run of [`train_every_method_then_export_checkpoints`]: dropout and packing.
const LORA_RUN: [&str; 7] = [
    "--dropout",
    "0.1",
    "--packing",
    "--max-len",
    "48",
    "--batch-size",
    "1",
];

#[test]
fn train_every_method_then_export_checkpoints() {
    let dir = Scratch::new("train");
    let data = dir.join("chat.jsonl");
    std::fs::write(
        &data,
        webtune_tests::conversations_jsonl(12, |i| (format!("Question {i}?"), "Answer.".into())),
    )
    .unwrap();
    let model = fixture("llama");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let train = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "train".to_string(),
            "--model".into(),
            path(&model),
            "--data".into(),
            path(&data),
            "--out".into(),
            path(out),
            "--max-steps".into(),
            "4".into(),
            "--checkpoint-every".into(),
            "2".into(),
            "--tier".into(),
            "cpu".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // LoRA with dropout and packing: a PEFT adapter, and a checkpoint that exports to one.
    let lora = dir.join("lora");
    let log = train(&lora, &LORA_RUN);
    assert!(log.contains("LoRA r="), "{log}");
    for file in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "training_log.jsonl",
    ] {
        assert!(lora.join(file).is_file(), "{file}");
    }
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lora.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["lora_dropout"], 0.1);
    let exported = dir.join("lora-exported");
    ok(&[
        "export",
        "--model",
        &path(&model),
        "--checkpoint",
        &path(&lora.join("checkpoint")),
        "--out",
        &path(&exported),
        "--tier",
        "cpu",
    ]);
    assert!(exported.join("adapter_model.safetensors").is_file());

    // A resume that asks for other settings than the checkpoint's is refused, naming the
    // setting, and leaves the checkpoint as it was.
    let checkpoint = lora.join("checkpoint");
    let state_before = std::fs::read(checkpoint.join("state.json")).unwrap();
    let (model_path, data_path, out_path) = (path(&model), path(&data), path(&lora));
    let mut args = vec![
        "train",
        "--model",
        &model_path,
        "--data",
        &data_path,
        "--out",
        &out_path,
        "--tier",
        "cpu",
        "--max-steps",
        "4",
    ];
    args.extend(LORA_RUN);
    args.extend(["--resume", "--rank", "4"]);
    let out = webtune(&args);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "resumed with another rank");
    assert!(
        stderr.contains("state.json: was written by a run with other settings (`lora.r`"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(checkpoint.join("state.json")).unwrap(),
        state_before
    );
    // A checkpoint whose state.json and adapter_config.json disagree is not exported.
    let torn = dir.join("torn");
    std::fs::create_dir_all(&torn).unwrap();
    for entry in std::fs::read_dir(&checkpoint).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), torn.join(entry.file_name())).unwrap();
    }
    let mut state: serde_json::Value = serde_json::from_slice(&state_before).unwrap();
    let r = state["config"]["lora"]["r"].as_u64().unwrap();
    state["config"]["lora"]["r"] = (r * 2).into();
    std::fs::write(torn.join("state.json"), state.to_string()).unwrap();
    let out = webtune(&[
        "export",
        "--model",
        &path(&model),
        "--checkpoint",
        &path(&torn),
        "--out",
        &path(&dir.join("torn-out")),
        "--tier",
        "cpu",
    ]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "exported a torn checkpoint");
    assert!(
        stderr.contains(&format!("says lora.r is {}", r * 2)),
        "{stderr}"
    );
    assert!(!dir.join("torn-out").exists());

    // Full and Half Fine-Tuning: whole checkpoints that load and score.
    for method in ["full", "half"] {
        let out = dir.join(method);
        let log = train(&out, &["--method", method, "--lr", "1e-3"]);
        assert!(
            log.contains(if method == "full" {
                "full fine-tuning"
            } else {
                "Half"
            }),
            "{log}"
        );
        for file in ["config.json", "model.safetensors", "tokenizer.json"] {
            assert!(out.join(file).is_file(), "{method}: {file}");
        }
        assert!(out.join("checkpoint/parameters.safetensors").is_file());
        let exported = dir.join(format!("{method}-exported"));
        ok(&[
            "export",
            "--model",
            &path(&model),
            "--checkpoint",
            &path(&out.join("checkpoint")),
            "--out",
            &path(&exported),
            "--tier",
            "cpu",
        ]);
        let text_file = dir.join("text.txt");
        std::fs::write(&text_file, "Question 3? Answer.").unwrap();
        let out = webtune(&[
            "score",
            "--model",
            &path(&exported),
            "--text-file",
            &path(&text_file),
            "--tier",
            "cpu",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

#[test]
fn index_then_query_update_and_prune() {
    let embedder =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/models/all-MiniLM-L6-v2");
    let dir = Scratch::new("rag");
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("dogs.md"),
        "# Office dogs\n\nDogs are welcome on Fridays in the ground-floor area.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("parking.html"),
        "<html><title>Parking</title><h1>Parking</h1><p>Staff parking is on level -2.</p></html>",
    )
    .unwrap();
    let index = dir.join("docs.wtindex");
    let bad_index = dir.join("bad.wtindex");
    let (e, d) = (embedder.to_str().unwrap(), docs.to_str().unwrap());
    // `webtune COMMAND --tier cpu --embedder E --index INDEX EXTRA…`
    let run = |command: &str, index: &Path, extra: &[&str]| {
        let mut args = vec![command, "--tier", "cpu", "--embedder", e, "--index"];
        args.push(index.to_str().unwrap());
        args.extend_from_slice(extra);
        webtune(&args)
    };
    let reindex = |extra: &[&str]| {
        let out = run("index", &index, &[extra, &[d]].concat());
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let query = |q: &str| {
        let out = run("query", &index, &[q, "--k", "1"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["hits"][0]["chunk"]["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let log = reindex(&[]);
    assert!(log.contains("2 documents, 2 chunks"), "{log}");
    assert!(query("Where do I park my car?").contains("level -2"));
    assert!(query("Can my dog come to work?").contains("Fridays"));

    // A changed document replaces its chunks; an unchanged one is skipped; --prune drops a
    // document that is gone.
    std::fs::write(
        docs.join("dogs.md"),
        "# Office dogs\n\nDogs are welcome every day in the ground-floor area.\n",
    )
    .unwrap();
    let log = reindex(&[]);
    assert!(log.contains("dogs.md: 1 chunks added, 1 removed"), "{log}");
    assert!(
        log.contains("parking.html: 0 chunks added, 0 removed"),
        "{log}"
    );
    assert!(query("Can my dog come to work?").contains("every day"));
    std::fs::remove_file(docs.join("parking.html")).unwrap();
    let log = reindex(&["--prune"]);
    assert!(log.contains("1 documents, 1 chunks"), "{log}");

    // Bad input: an index from something else, a binary document.
    std::fs::write(&bad_index, b"not an index").unwrap();
    let out = run("query", &bad_index, &["x"]);
    assert!(!out.status.success() && text(&out.stderr).contains("is not a webtune index"));
    std::fs::write(docs.join("image.txt"), b"\x89PNG\0\0").unwrap();
    let out = run("index", &index, &[d]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("image.txt") && err.contains("binary"),
        "{err}"
    );
    // The failed run left the index as it was.
    assert!(query("Can my dog come to work?").contains("every day"));

    // `ask --rag` (the tiny random Llama, 256 tokens of context: the answer is noise, the
    // sources are not) lists the retrieved chunk with its document and byte range; a source
    // too long for that context is refused with the reason; `--rag` needs an index.
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny/llama");
    let model = [
        "--model",
        tiny.to_str().unwrap(),
        "--max-new-tokens",
        "4",
        "--k",
        "1",
    ];
    let out = run(
        "ask",
        &index,
        &[&model[..], &["--rag", "Can dogs come?"]].concat(),
    );
    assert!(
        !out.status.success() && text(&out.stderr).contains("not even the best source fits"),
        "{}",
        text(&out.stderr)
    );
    let small = dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("dogs.md"), "# Dogs\n\nFridays.\n").unwrap();
    let small_index = dir.join("small.wtindex");
    let out = run("index", &small_index, &[small.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        "ask",
        &small_index,
        &[&model[..], &["--rag", "Dogs?"]].concat(),
    );
    let listing = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        listing.contains("[1] Dogs") && listing.contains("dogs.md, bytes 0.."),
        "{listing}"
    );
    let out = webtune(
        &[
            &["ask", "--tier", "cpu", "--rag"],
            &model[..],
            &["Can dogs come?"],
        ]
        .concat(),
    );
    assert!(
        !out.status.success() && text(&out.stderr).contains("--embedder"),
        "{}",
        text(&out.stderr)
    );
}

/// The CLI's evaluation report and merged files for the tiny Llama with PEFT's fixture adapter
/// equal the record the browser test holds the JavaScript API to
/// (`tests/fixtures/edges/expected.json`; `WEBTUNE_BLESS=1` rewrites it from this run).
#[test]
fn cli_gives_the_edges_record() {
    let dir = Scratch::new("edges");
    let held = dir.join("held.jsonl");
    std::fs::write(&held, webtune_tests::EDGES_HELD).unwrap();
    let model = fixture("llama");
    let adapter = fixture("../lora/adapter");
    let max_len = webtune_tests::EDGES_MAX_LEN.to_string();
    let (model, adapter, held) = (
        model.to_str().unwrap(),
        adapter.to_str().unwrap(),
        held.to_str().unwrap(),
    );
    let out = webtune(&[
        "eval",
        "--model",
        model,
        "--adapter",
        adapter,
        "--data",
        held,
        "--exact-match",
        "--max-len",
        &max_len,
        "--tier",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let evaluation: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let merged_dir = dir.join("merged");
    let merged_path = merged_dir.to_str().unwrap();
    ok(&[
        "merge",
        "--model",
        model,
        "--adapter",
        adapter,
        "--out",
        merged_path,
        "--tier",
        "cpu",
    ]);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&merged_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        files.push((name, std::fs::read(&path).unwrap()));
    }
    let merged = webtune::platform::block_on(webtune_tests::digest(&files));
    let record = webtune_tests::edges_record(evaluation, merged);
    if std::env::var_os("WEBTUNE_BLESS").is_some() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/edges/expected.json");
        std::fs::write(path, serde_json::to_string_pretty(&record).unwrap() + "\n").unwrap();
        return;
    }
    let expected: serde_json::Value = serde_json::from_str(webtune_tests::EDGES_EXPECTED).unwrap();
    webtune_tests::assert_same(&record, &expected, 1e-6, "edges");
}

/// `webtune train` checks the memory plan before the first step and refuses a run that does
/// not fit with the session's message and suggestions — the ones the page shows.
#[test]
fn train_refuses_a_run_that_does_not_fit() {
    use webtune::session::{OpenOptions, Session};
    let dir = Scratch::new("plan");
    let data = dir.join("held.jsonl");
    std::fs::write(&data, webtune_tests::EDGES_HELD).unwrap();
    let model = fixture("llama");
    let out_dir = dir.join("out");

    // The session's plan, as the JavaScript API makes it: a budget between this run's plan
    // and that of half its batch refuses it and suggests the smaller batch.
    let mut session = Session::new(webtune::ComputeDevice::cpu());
    let name = model.display().to_string();
    let files = std::fs::read_dir(&model)
        .unwrap()
        .map(|e| webtune::platform::FileSource::open(e.unwrap().path()).unwrap())
        .collect();
    webtune::platform::block_on(session.open_model(&name, files, &OpenOptions::default())).unwrap();
    let config = webtune::train::TrainConfig::default();
    session
        .load_dataset(
            &data.display().to_string(),
            webtune_tests::EDGES_HELD,
            None,
            &config.data,
        )
        .unwrap();
    let half = webtune::train::TrainConfig {
        batch_size: config.batch_size / 2,
        ..config.clone()
    };
    let total = |c| session.plan(c, None).unwrap().total;
    let budget = (total(&config) + total(&half)) / 2;
    let plan = session.plan(&config, Some(budget)).unwrap();
    assert!(!plan.fits && !plan.suggestions.is_empty(), "{plan:?}");
    let message = plan.check().unwrap_err().to_string();
    assert!(message.contains("does not fit"), "{message}");

    // The command line refuses it with the same message and suggestions.
    let out = webtune(&[
        "train",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--memory-budget",
        &budget.to_string(),
        "--tier",
        "cpu",
    ]);
    assert!(!out.status.success(), "a run over its budget trained");
    assert!(!out_dir.join("adapter_model.safetensors").exists());
    let stderr = text(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(last, format!("error: {message}"));
}

/// Settings out of range are refused before the model is loaded, naming the setting; a
/// misspelt key in a config file names the setting it most likely means.
#[test]
fn train_refuses_bad_settings_before_loading() {
    let dir = Scratch::new("settings");
    let data = dir.join("held.jsonl");
    std::fs::write(&data, webtune_tests::EDGES_HELD).unwrap();
    let config = dir.join("run.toml");
    std::fs::write(&config, "lerning_rate = 1e-3\n").unwrap();
    let model = fixture("llama");
    let out_dir = dir.join("out");
    let (model, data, config, out_dir) = (
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        config.to_str().unwrap(),
        out_dir.to_str().unwrap(),
    );
    let cases: [(&[&str], &str); 7] = [
        (&["--lr", "nan"], "setting `optimizer.lr` is NaN"),
        (&["--lr", "inf"], "setting `optimizer.lr` is inf"),
        (&["--alpha", "nan"], "setting `lora.lora_alpha` is NaN"),
        (&["--batch-size", "0"], "setting `batch_size` is 0"),
        (&["--epochs", "0"], "setting `epochs` is 0"),
        (&["--epochs", "-1"], "'--epochs <EPOCHS>'"),
        (&["--config", config], "did you mean `optimizer.lr`?"),
    ];
    for (extra, expected) in cases {
        let mut args = vec![
            "train", "--model", model, "--data", data, "--out", out_dir, "--tier", "cpu",
        ];
        args.extend_from_slice(extra);
        let out = webtune(&args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{extra:?} trained");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(
            !stderr.contains("loaded "),
            "{extra:?} loaded the model first: {stderr}"
        );
        assert!(!Path::new(out_dir).exists(), "{extra:?} wrote {out_dir}");
    }
}

/// Domain adaptation: `--data` takes folders and text, Markdown and HTML files, trains on
/// windows of every token with whole documents held out, and refuses a dataset mixed with
/// documents, a `--validation` file beside documents, and an empty document, naming them.
#[test]
fn train_adapts_to_documents() {
    let dir = Scratch::new("docs");
    let docs = dir.join("docs");
    std::fs::create_dir_all(docs.join("more")).unwrap();
    for i in 0..4 {
        let text = format!("# Part {i}\n\nThe lighthouse keeper {i} counts the ships.\n");
        std::fs::write(docs.join(format!("part{i}.md")), text.repeat(3)).unwrap();
    }
    std::fs::write(
        docs.join("more/page.html"),
        "<html><title>Page</title><body><h1>Tides</h1><p>The tide turns twice a day.</p></body></html>",
    )
    .unwrap();
    std::fs::write(
        docs.join("notes.txt"),
        "Fog comes in from the west.\n".repeat(4),
    )
    .unwrap();
    std::fs::write(docs.join("ignored.json"), "{}").unwrap();
    let model = fixture("llama");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let args = |data: &[&Path], extra: &[&str]| -> Vec<String> {
        let mut args = vec!["train".to_string(), "--model".into(), path(&model)];
        args.push("--data".into());
        args.extend(data.iter().map(|p| path(p)));
        args.extend(
            [
                "--tier",
                "cpu",
                "--max-len",
                "24",
                "--max-steps",
                "2",
                "--out",
            ]
            .map(String::from),
        );
        args.push(path(&dir.join("out")));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |args: Vec<String>| webtune(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let out = run(args(&[&docs], &["--validation-fraction", "0.34"]));
    let log = text(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("6 records, format documents (domain adaptation)"),
        "{log}"
    );
    assert!(log.contains("held out for validation: "), "{log}");
    assert!(!log.contains("ignored.json"), "{log}");
    assert!(log.contains("step 0: validation loss"), "{log}");
    assert!(dir.join("out/adapter_model.safetensors").is_file());

    // Files name by name work too; a JSONL among them, or a --validation file, does not.
    let (md, jsonl) = (docs.join("part0.md"), docs.join("ignored.json"));
    let out = run(args(&[&md, &docs.join("notes.txt")], &[]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(args(&[&md, &jsonl], &[]));
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("ignored.json is not a text"),
        "{err}"
    );
    let out = run(args(&[&docs], &["--validation", jsonl.to_str().unwrap()]));
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("whole documents are held out"),
        "{err}"
    );
    std::fs::write(docs.join("more/empty.md"), "").unwrap();
    let out = run(args(&[&docs], &[]));
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains("empty.md"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn train_aligns_to_preference_pairs() {
    let dir = Scratch::new("pairs");
    let pairs: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"prompt": [{{"role": "user", "content": "Is {i} even?"}}], "chosen": [{{"role": "assistant", "content": "{}"}}], "rejected": [{{"role": "assistant", "content": "{}"}}]}}"#,
                if i % 2 == 0 { "Yes" } else { "No" },
                if i % 2 == 0 { "No" } else { "Yes" }
            )
        })
        .collect();
    let data = dir.join("pairs.jsonl");
    std::fs::write(&data, pairs.join("\n")).unwrap();
    let model = fixture("llama");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let run = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "train".to_string(),
            "--model".into(),
            path(&model),
            "--data".into(),
            path(file),
        ];
        args.extend(
            [
                "--tier",
                "cpu",
                "--max-steps",
                "3",
                "--batch-size",
                "2",
                "--out",
            ]
            .map(String::from),
        );
        args.push(path(&dir.join("out")));
        args.extend(extra.iter().map(|s| s.to_string()));
        webtune(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    for objective in ["dpo", "orpo"] {
        let out = run(&data, &["--objective", objective, "--beta", "0.2"]);
        let log = text(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert!(
            log.contains("12 records, format prompt/chosen/rejected (preference pairs)"),
            "{log}"
        );
        assert!(log.contains("step 0: held-out pairs: loss"), "{log}");
        assert!(log.contains("reward accuracy"), "{log}");
        let events = std::fs::read_to_string(dir.join("out/training_log.jsonl")).unwrap();
        let steps: Vec<serde_json::Value> = events
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|e: &serde_json::Value| e["event"] == "step")
            .collect();
        assert_eq!(steps.len(), 3, "{objective}");
        assert!(
            steps
                .iter()
                .all(|s| s["report"]["preference"]["pairs"] == 2)
        );
        assert!(dir.join("out/adapter_model.safetensors").is_file());
        // A fresh adapter changes nothing: DPO's first step compares the model with its
        // reference, itself (loss ln 2); ORPO's adds its supervised term.
        let first = steps[0]["report"]["loss"].as_f64().unwrap();
        match objective {
            "dpo" => assert!((first - std::f64::consts::LN_2).abs() < 1e-6, "{first}"),
            _ => assert!(steps[0]["report"]["preference"]["nll_loss"].is_number()),
        }
    }

    // DoRA, and LoRA on a 4-bit base: DPO's first step is still ln 2 (a fresh adapter is
    // its own reference), and the run trains.
    for extra in [["--dora"], ["--quantize"]] {
        let args = [&["--objective", "dpo"][..], &extra[..]].concat();
        let out = run(&data, &args);
        assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
        let events = std::fs::read_to_string(dir.join("out/training_log.jsonl")).unwrap();
        let first: serde_json::Value = events
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["event"] == "step")
            .unwrap();
        let loss = first["report"]["loss"].as_f64().unwrap();
        assert!(
            (loss - std::f64::consts::LN_2).abs() < 1e-5,
            "{extra:?}: {loss}"
        );
    }

    let refused = |file: &Path, extra: &[&str], says: &str| {
        let out = run(file, extra);
        let err = text(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{says}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(&data, &[], "train them with objective dpo or orpo");
    refused(
        &data,
        &["--objective", "dpo", "--method", "half"],
        "method lora",
    );
    refused(
        &data,
        &["--objective", "dpo", "--beta", "0"],
        "setting `objective.beta`",
    );
    refused(
        &data,
        &["--beta", "0.2"],
        "apply to --objective dpo or orpo",
    );
    refused(
        &data,
        &["--objective", "dpo", "--label-smoothing", "0.5"],
        "objective.label_smoothing",
    );
    refused(&data, &["--objective", "orpo", "--packing"], "not packed");
    let chat = fixture("../../../static/demo/support.jsonl");
    refused(&chat, &["--objective", "dpo"], "trains on preference pairs");
    let broken = dir.join("broken.jsonl");
    std::fs::write(
        &broken,
        format!("{}\n{{\"prompt\": \"a\", \"chosen\": \"b\"}}\n", pairs[0]),
    )
    .unwrap();
    refused(
        &broken,
        &["--objective", "dpo"],
        "broken.jsonl, line 2: `rejected` is missing",
    );
    std::fs::write(
        &broken,
        "{\"prompt\": \"a\", \"chosen\": \"same\", \"rejected\": \"same\"}\n",
    )
    .unwrap();
    refused(
        &broken,
        &["--objective", "dpo"],
        "line 1: `chosen` and `rejected` are the same",
    );
}

#[test]
fn search_halves_the_settings_and_writes_the_chosen_run() {
    let dir = Scratch::new("search");
    let model = fixture("llama");
    let data = fixture("../../../static/demo/support.jsonl");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let run = |budget: &str| {
        let args = [
            "search",
            "--model",
            &path(&model),
            "--data",
            &path(&data),
            "--tier",
            "cpu",
            "--max-len",
            "256",
            "--batch-size",
            "2",
            "--lrs",
            "1e-3,1e-2",
            "--ranks",
            "2,4",
            "--budget-steps",
            budget,
            "--out",
            &path(&dir),
        ];
        webtune(&args)
    };
    let out = run("16");
    let log = text(&out.stderr);
    assert!(out.status.success(), "{log}");
    // 4 settings, one in three kept: 4 to step 1, 2 to step 3, 1 to step 9.
    assert!(
        log.contains("search: 4 settings; rungs 4 to step 1, 2 to step 3, 1 to step 9"),
        "{log}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("search.json")).unwrap()).unwrap();
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 7, "{report}");
    assert!(trials.iter().all(|t| t["validation_loss"].is_number()));
    // The two that go on are the first rung's two lowest losses; the last is the best of them.
    let loss = |t: &serde_json::Value| t["validation_loss"].as_f64().unwrap();
    let mut first: Vec<&serde_json::Value> = trials.iter().filter(|t| t["rung"] == 0).collect();
    first.sort_by(|a, b| loss(a).total_cmp(&loss(b)));
    let second: Vec<u64> = trials
        .iter()
        .filter(|t| t["rung"] == 1)
        .map(|t| t["candidate"].as_u64().unwrap())
        .collect();
    let mut want: Vec<u64> = first[..2]
        .iter()
        .map(|t| t["candidate"].as_u64().unwrap())
        .collect();
    want.sort();
    let mut got = second.clone();
    got.sort();
    assert_eq!(got, want);
    let last = trials.iter().find(|t| t["rung"] == 2).unwrap();
    assert_eq!(last["steps"], 9);
    assert_eq!(report["steps"], 4 + 2 * 2 + 6);
    assert_eq!(report["best"]["max_steps"], 9);
    assert_eq!(report["best"]["lora"]["r"], last["rank"]);
    assert!(dir.join("adapter_model.safetensors").is_file());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("webtune-run.json")).unwrap())
            .unwrap();
    assert_eq!(saved, report["best"]);

    let out = run("5");
    let err = text(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("budget_steps is 5: too small for one trial")
            && err.contains("at least 14"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn pairs_writes_checked_jsonl_and_refuses_bad_input() {
    let dir = Scratch::new("qa");
    let model = fixture("llama");
    let docs = fixture("../../../static/demo/policies/hr-work.md");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (out, json) = (dir.join("pairs.jsonl"), dir.join("pairs.json"));
    let run = |docs: &Path, out: &Path, extra: &[&str]| {
        let mut a: Vec<String> = ["pairs", "--model", &path(&model), "--tier", "cpu"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(["--docs".into(), path(docs), "--out".into(), path(out)]);
        a.extend(extra.iter().map(|s| s.to_string()));
        webtune(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // The tiny random model writes no real questions: every candidate is dropped with a
    // reason, the file is written (empty), and the summary counts them. Its context is 256
    // tokens: short passages and requests.
    let config = dir.join("pairs-config.json");
    std::fs::write(
        &config,
        r#"{"max_question_tokens": 24, "max_answer_tokens": 8,
            "chunks": {"max_tokens": 24, "overlap_tokens": 0}}"#,
    )
    .unwrap();
    let done = run(
        &docs,
        &out,
        &[
            "--config",
            &path(&config),
            "--per-passage",
            "1",
            "--attempts",
            "1",
            "--max-passages",
            "2",
            "--json",
            &path(&json),
        ],
    );
    let printed = text(&done.stdout);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(printed.starts_with("2 passages, "), "{printed}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let (kept, dropped) = (
        report["kept"].as_array().unwrap(),
        report["dropped"].as_array().unwrap(),
    );
    let asked = dropped.iter().filter(|d| d["question"] != "").count();
    assert!(asked > 0, "{report}");
    assert_eq!(
        report["candidates"].as_u64().unwrap() as usize,
        kept.len() + asked
    );
    assert!(dropped.iter().all(|d| d["reason"].is_string()));
    let lines = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(lines, kept.len());

    // Bad settings and empty documents: one clear line each, nothing written.
    let bad = run(&docs, &out, &["--per-passage", "0"]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(
        err.contains("setting `questions_per_passage` must be 1 to 20"),
        "{err}"
    );
    let empty = dir.join("empty.md");
    std::fs::write(&empty, "").unwrap();
    let a = run(&empty, &dir.join("none.jsonl"), &[]);
    let err = text(&a.stderr);
    assert!(!a.status.success() && err.contains("empty.md"), "{err}");
    assert!(!dir.join("none.jsonl").exists());
}

#[test]
fn generate_continues_a_conversation_within_the_context() {
    let dir = Scratch::new("chat");
    let model = fixture("llama");
    let history = |turns: &[(&str, String)]| {
        let path = dir.join(format!("history-{}.json", turns.len()));
        let json: Vec<serde_json::Value> = turns
            .iter()
            .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
            .collect();
        std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
        path
    };
    let run = |path: &Path| {
        webtune(&[
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--tier",
            "cpu",
            "--chat",
            "And then?",
            "--max-new-tokens",
            "4",
            "--history",
            path.to_str().unwrap(),
        ])
    };
    let prompt_tokens = |log: &str| -> usize {
        log.split("prompt ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // A short conversation goes whole; one longer than the tiny model's 256 tokens loses its
    // oldest exchanges, never the system turn, and says so.
    let short = run(&history(&[
        ("system", "Be brief.".into()),
        ("user", "Hi".into()),
        ("assistant", "Hello".into()),
    ]));
    let log = text(&short.stderr);
    assert!(short.status.success(), "{log}");
    assert!(!log.contains("left out"), "{log}");
    let long_turn = "word ".repeat(60);
    let long = run(&history(&[
        ("system", "Be brief.".into()),
        ("user", long_turn.clone()),
        ("assistant", long_turn.clone()),
        ("user", long_turn.clone()),
        ("assistant", "ok".into()),
    ]));
    let long_log = text(&long.stderr);
    assert!(long.status.success(), "{long_log}");
    assert!(
        long_log.contains("left out the 2 oldest turns"),
        "{long_log}"
    );
    assert!(prompt_tokens(&long_log) + 4 <= 256, "{long_log}");
    assert!(prompt_tokens(&long_log) > prompt_tokens(&log), "{long_log}");
    // A turn with a role the template does not know: refused, naming it.
    let bad = run(&history(&[("robot", "beep".into())]));
    let err = text(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("turn 1 has role `robot`"),
        "{err}"
    );
}

/// `webtune bench` prints its measurements as JSON (no kernel launches on the CPU tier) and
/// refuses a setting it cannot measure, naming it.
#[test]
fn bench_measures_and_refuses_bad_settings() {
    let model = fixture("llama");
    let model = model.to_str().unwrap();
    let out = webtune(&[
        "bench",
        "--model",
        model,
        "--tier",
        "cpu",
        "--seq",
        "16",
        "--prompt-tokens",
        "8",
        "--new-tokens",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["config"]["seq"], 16);
    assert_eq!(report["launches_per_step"], 0);
    for key in [
        "train_tokens_per_second",
        "prefill_tokens_per_second",
        "decode_tokens_per_second",
    ] {
        let speed = report[key].as_f64().unwrap();
        assert!(speed > 0.0 && speed.is_finite(), "{key}: {report}");
    }
    let out = webtune(&["bench", "--model", model, "--tier", "cpu", "--steps", "0"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("bench.steps") && !err.contains("panicked"),
        "{err}"
    );
}

/// `--preset` starts from the run the memory planner sizes for the data (the page's presets):
/// it says which and how long, trains that many steps, lets flags override it, and does not
/// combine with `--config`.
#[test]
fn train_starts_from_a_preset() {
    let dir = Scratch::new("preset");
    let data = dir.join("held.jsonl");
    std::fs::write(&data, webtune_tests::EDGES_HELD).unwrap();
    let model = fixture("llama");
    let run = |name: &str, extra: &[&str]| {
        let out_dir = dir.join(name);
        let mut args = vec![
            "train",
            "--model",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--tier",
            "cpu",
        ];
        args.extend_from_slice(extra);
        let out = webtune(&args);
        let stderr = text(&out.stderr);
        let log = std::fs::read_to_string(out_dir.join("training_log.jsonl")).unwrap_or_default();
        let started: Option<serde_json::Value> = log
            .lines()
            .next()
            .and_then(|l| serde_json::from_str(l).ok());
        let steps = started.map(|s| s["total_steps"].as_u64().unwrap());
        (out.status.success(), stderr, steps)
    };
    let (ok, stderr, steps) = run("quick", &["--preset", "quick"]);
    assert!(ok, "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("preset quick: "))
        .unwrap_or_else(|| panic!("no preset line: {stderr}"));
    assert!(line.contains("rank 8,"), "{line}");
    let said: u64 = line
        .split("; ")
        .last()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(steps, Some(said), "{line}");
    // A flag overrides the preset: two epochs take twice the steps.
    let (ok, stderr, twice) = run("twice", &["--preset", "quick", "--epochs", "2"]);
    assert!(ok, "{stderr}");
    assert_eq!(twice, Some(2 * said), "{stderr}");
    let (ok, stderr, _) = run("both", &["--preset", "quick", "--config", "run.json"]);
    assert!(!ok && stderr.contains("cannot be used with"), "{stderr}");
}
