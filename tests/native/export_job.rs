//! The exported training job against TRL itself (`fixtures/export_job/make_fixture.py` ran each
//! job's `train.py` with TRL + PEFT on the CPU): webtune writes the same job files TRL ran
//! (SHA-256), webtune's own run of the same settings follows TRL's loss, gradient norm and
//! learning rate at every step within 1e-3 (relative), and the adapter TRL wrote, imported
//! here, scores the validation set as TRL measured it. For the tiny Llama with LoRA (two
//! epochs, accumulation with a short last step), with DoRA + rsLoRA, and for SmolLM2's GGUF.
//! The CPU tier: TRL ran on the CPU in f32.

use serde_json::Value;
use sha2::{Digest, Sha256};
use webtune::ComputeDevice;
use webtune::flow::Flow;
use webtune::io::MemorySource;
use webtune::platform::{FileSource, block_on};
use webtune::session::{EvalData, OpenOptions, Purpose, Session};
use webtune::train::{Event, Method, TrainConfig};
use webtune_tests::model_path;

use crate::gguf_export::{folder, read};

const REFERENCE: &str = include_str!("../fixtures/export_job/reference.json");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// What the issue asks of the loss trajectory, relative.
const TRAJECTORY: f64 = 1e-3;

fn reference(run: &str) -> Value {
    let all: Value = serde_json::from_str(REFERENCE).unwrap();
    all["runs"][run].clone()
}

fn config(run: &str) -> TrainConfig {
    let path = format!("{ROOT}/tests/fixtures/export_job/{run}.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A CPU session with the run's model open under the name the fixture's CLI gave it and its
/// data loaded as the CLI loaded it.
fn session(want: &Value, config: &TrainConfig) -> Session {
    let model = want["model"].as_str().unwrap();
    let files: Vec<MemorySource> = match model.ends_with(".gguf") {
        true => vec![read(model_path(
            std::path::Path::new(model)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap(),
        ))],
        false => folder(model.strip_prefix("tests/fixtures/").unwrap()),
    };
    let mut session = Session::new(ComputeDevice::cpu());
    let options = OpenOptions {
        quantize: false,
        precision: None,
        purpose: Purpose::of_method(config.method),
    };
    block_on(session.open_model(model, files, &options)).unwrap();
    let data = want["data"].as_str().unwrap();
    let text = std::fs::read_to_string(format!("{ROOT}/{data}")).unwrap();
    block_on(async { session.load_dataset(data, &text, None, &config.data) }).unwrap();
    session
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

fn numbers(value: &Value) -> Vec<f64> {
    serde_json::from_value(value.clone()).unwrap()
}

/// The job's files are what TRL ran; webtune's run follows TRL's; TRL's adapter scores here as
/// in PyTorch.
fn follows_trl(run: &str) {
    let want = reference(run);
    let config = config(run);
    let mut session = session(&want, &config);

    let files = block_on(session.export_job(config.clone(), None)).unwrap();
    let expected = want["files"].as_object().unwrap();
    let names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names.len(),
        expected.len(),
        "{run}: files {names:?} vs {:?}",
        expected.keys()
    );
    for (name, bytes) in &files {
        assert_eq!(
            format!("{:x}", Sha256::digest(bytes)),
            expected[name].as_str().unwrap_or_default(),
            "{run}: {name} differs from the file TRL ran: rerun make_fixture.py"
        );
    }

    let run_log =
        block_on(session.train(config, None, None, |_| Flow::Continue, |_| Ok(()))).unwrap();
    let steps: Vec<_> = run_log
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Step { report, .. } => Some(report.clone()),
            _ => None,
        })
        .collect();
    let (losses, norms, rates) = (
        numbers(&want["losses"]),
        numbers(&want["grad_norms"]),
        numbers(&want["learning_rates"]),
    );
    assert_eq!(steps.len(), losses.len(), "{run}: steps");
    let mut worst = (0.0f64, 0.0f64);
    for (i, step) in steps.iter().enumerate() {
        let (dl, dg) = (
            relative(step.loss, losses[i]),
            relative(step.grad_norm, norms[i]),
        );
        assert!(
            dl < TRAJECTORY && dg < TRAJECTORY,
            "{run} step {i}: loss {} vs TRL {}, |g| {} vs {}",
            step.loss,
            losses[i],
            step.grad_norm,
            norms[i]
        );
        assert!((step.lr - rates[i]).abs() < 1e-9, "{run} step {i}: lr");
        worst = (worst.0.max(dl), worst.1.max(dg));
    }
    let last_eval = run_log.events.iter().rev().find_map(|e| match e {
        Event::Eval {
            validation_loss, ..
        } => Some(*validation_loss),
        _ => None,
    });
    let trl_after = want["validation_loss_after"].as_f64().unwrap();
    let ours = last_eval.unwrap();
    assert!(
        relative(ours, trl_after) < TRAJECTORY,
        "{run}: {ours} vs {trl_after}"
    );

    // TRL's adapter, imported, scores the validation set as PyTorch measured it.
    let dir = format!("{ROOT}/tests/fixtures/export_job/{run}_trl_adapter");
    let adapter_config = std::fs::read(format!("{dir}/adapter_config.json")).unwrap();
    let weights = FileSource::open(format!("{dir}/adapter_model.safetensors")).unwrap();
    block_on(session.import_adapter(&adapter_config, &weights)).unwrap();
    // The validation loss with the adapter, or of the base alone.
    let validation_loss = |adapter| {
        block_on(
            session.evaluate(EvalData::Validation, false, adapter, |_, _| {
                webtune::flow::Flow::Continue
            }),
        )
        .unwrap()
        .loss
        .unwrap()
    };
    let scored = validation_loss(true);
    assert!(
        relative(scored, trl_after) < 1e-4,
        "{run}: TRL's adapter scores {scored} here, {trl_after} in PyTorch"
    );
    // With the adapter left out, the base scores what PyTorch measured before training (and
    // the model keeps its adapter: scored again with it, the same loss).
    let trl_before = want["validation_loss_before"].as_f64().unwrap();
    let base = validation_loss(false);
    assert!(
        relative(base, trl_before) < 1e-4,
        "{run}: the base scores {base} here, {trl_before} in PyTorch"
    );
    let again = validation_loss(true);
    assert_eq!(
        again, scored,
        "{run}: evaluating the base changed the model"
    );
    println!(
        "{run}: {} steps; max relative |Δ| vs TRL: loss {:.1e}, grad norm {:.1e}; validation \
         loss after: webtune {ours:.6}, TRL {trl_after:.6}, TRL's adapter here {scored:.6}",
        steps.len(),
        worst.0,
        worst.1
    );
}

#[test]
fn lora_job_follows_trl() {
    follows_trl("lora");
}

#[test]
fn dora_job_follows_trl() {
    follows_trl("dora");
}

#[test]
fn smollm2_job_follows_trl() {
    follows_trl("smollm2");
}

/// What TRL would not train the same way is refused with the reason, and nothing is written.
#[test]
fn full_runs_and_packing_are_refused() {
    let want = reference("lora");
    let config = config("lora");
    let session = session(&want, &config);
    for (change, reason) in [
        (
            (|c: &mut TrainConfig| c.method = Method::Full) as fn(&mut TrainConfig),
            "has no PEFT adapter",
        ),
        (|c: &mut TrainConfig| c.data.packing = true, "packing"),
    ] {
        let mut changed = config.clone();
        change(&mut changed);
        let err = block_on(session.export_job(changed, None)).unwrap_err();
        assert_eq!(err.kind(), "export");
        assert!(err.to_string().contains(reason), "{err}");
    }
}

/// The page's download of the job (one ZIP) holds the same files, as Python's `zipfile` (the
/// reference reader) reads them back, CRCs checked.
#[test]
fn the_zip_holds_the_job() {
    let want = reference("lora");
    let config = config("lora");
    let session = session(&want, &config);
    let files = block_on(session.export_job(config, None)).unwrap();
    let zip = webtune::io::zip::stored(&files).unwrap();
    let path = std::env::temp_dir().join(format!("webtune-job-{}.zip", std::process::id()));
    std::fs::write(&path, &zip).unwrap();
    let script = "import hashlib, json, sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  assert z.testzip() is None\n\
                  print(json.dumps({n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()}))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("python3 (scripts/setup.sh installs it)");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read, want["files"]);
}
