//! Several adapters kept on one open model (`Session::load_adapter`): two trained here on two
//! tiny tasks each compute exactly what they compute imported alone, scale 0 is the base
//! model, the base is never loaded again.

use webtune::burn::tensor::{Int, Tensor, TensorData};
use webtune::device::read_f32;
use webtune::flow::Flow;
use webtune::io::MemorySource;
use webtune::lora::Targets;
use webtune::models::CausalLm;
use webtune::session::{AdapterChoice, ExportKind, OpenOptions, Session};
use webtune::train::TrainConfig;
use webtune::{ComputeDevice, Error, Result};

/// Two adapters for the tiny Llama trained here on two different tiny tasks (3 steps each):
/// the support desk's house-format chats on every linear layer, and the policy questions as
/// prompt/completion pairs on q_proj and v_proj; as `(name, adapter_config.json,
/// adapter_model.safetensors)`.
async fn trained_adapters(device: &ComputeDevice) -> Result<Vec<(String, Vec<u8>, Vec<u8>)>> {
    let policy: String = include_str!("../../static/demo/policy_questions.jsonl")
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|q| {
            let pair = serde_json::json!({"prompt": q["question"], "completion": q["answer"]});
            pair.to_string() + "\n"
        })
        .collect();
    let tasks = [
        (
            "support",
            include_str!("../../static/demo/support.jsonl").to_string(),
            Targets::Names(vec!["all-linear".into()]),
        ),
        (
            "policy",
            policy,
            Targets::Names(vec!["q_proj".into(), "v_proj".into()]),
        ),
    ];
    let mut out = Vec::new();
    for (name, data, targets) in tasks {
        let mut session = open(device, false).await?;
        let mut config = TrainConfig {
            max_steps: Some(3),
            batch_size: 4,
            eval_every: 0,
            warmup_steps: 0,
            ..TrainConfig::default()
        };
        config.optimizer.lr = 1e-2;
        config.lora.r = 4;
        config.lora.target_modules = targets;
        config.data.encode.max_len = 128;
        config.data.validation_fraction = 0.0;
        session.load_dataset(&format!("{name}.jsonl"), &data, None, &config.data)?;
        session
            .train(config, None, None, |_| Flow::Continue, |_| Ok(()))
            .await?;
        let files = session.export(ExportKind::Result).await?;
        let file = |wanted: &str| {
            files
                .iter()
                .find(|(n, _)| n == wanted)
                .map(|(_, bytes)| bytes.clone())
                .ok_or_else(|| fail(format!("{name}: no {wanted}")))
        };
        out.push((
            name.to_string(),
            file("adapter_config.json")?,
            file("adapter_model.safetensors")?,
        ));
    }
    Ok(out)
}

async fn open(device: &ComputeDevice, quantize: bool) -> Result<Session> {
    let mut session = Session::new(device.clone());
    let files = crate::tiny_files("llama");
    let options = OpenOptions {
        quantize,
        ..OpenOptions::default()
    };
    session.open_model("llama", files, &options).await?;
    Ok(session)
}

async fn logits(session: &Session, choice: &AdapterChoice) -> Result<Vec<f32>> {
    forward(session, session.model_with(choice)?).await
}

async fn forward(session: &Session, model: webtune::models::Model) -> Result<Vec<f32>> {
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(vec![1i32, 17, 250, 3, 99, 42], [1, 6]),
        session.device().device(),
    );
    read_f32(model.forward(ids), "logits").await
}

fn fail(problem: String) -> Error {
    Error::Input { problem }
}

/// Two adapters kept on one tiny Llama give, each, exactly the logits the same adapter gives
/// imported alone into a fresh session; they differ from each other and from the base;
/// scale 0 gives the base exactly — on an f32 base and on a 4-bit one. The adapters are
/// trained first on two tiny tasks (on the CPU backend: what is tested on `device` is keeping
/// them). Reports each adapter's memory, and the time a switch takes beside the time opening
/// the base takes.
pub async fn kept_adapters_compute_as_alone(device: &ComputeDevice) -> Result<()> {
    let adapters = trained_adapters(&ComputeDevice::cpu()).await?;
    for quantize in [false, true] {
        kept_on(device, quantize, &adapters).await?;
    }
    Ok(())
}

async fn kept_on(
    device: &ComputeDevice,
    quantize: bool,
    adapters: &[(String, Vec<u8>, Vec<u8>)],
) -> Result<()> {
    let start = webtune::platform::seconds_now() * 1e3;
    let mut session = open(device, quantize).await?;
    let open_ms = (webtune::platform::seconds_now() * 1e3) - start;
    let base = logits(&session, &AdapterChoice::default()).await?;
    let mut seen = vec![base.clone()];
    for (name, config, weights) in adapters {
        let file = MemorySource::new("adapter_model.safetensors", weights.to_vec());
        let kept = session.load_adapter(name, config, &file).await?;
        let stored = webtune::io::safetensors::SafetensorsFile::open(&file).await?;
        let values: usize = stored
            .tensors
            .values()
            .map(|t| t.shape.iter().product::<usize>())
            .sum();
        if kept.bytes != values as u64 * 4 {
            return Err(fail(format!(
                "{name}: {} bytes kept for {values} values",
                kept.bytes
            )));
        }
        eprintln!(
            "{}: adapter {name}: {} layers, {} bytes",
            device.tier(),
            kept.layers,
            kept.bytes
        );
    }
    for (name, config, weights) in adapters {
        let choice = AdapterChoice {
            name: Some(name.clone()),
            scale: None,
        };
        let start = webtune::platform::seconds_now() * 1e3;
        let kept = logits(&session, &choice).await?;
        let switch_ms = (webtune::platform::seconds_now() * 1e3) - start;
        let mut alone = open(device, quantize).await?;
        let file = MemorySource::new("adapter_model.safetensors", weights.to_vec());
        alone.import_adapter(config, &file).await?;
        let expected = logits(&alone, &AdapterChoice::default()).await?;
        if kept != expected {
            return Err(fail(format!(
                "{name}: kept beside another, its logits differ from alone"
            )));
        }
        if seen.contains(&kept) {
            return Err(fail(format!(
                "{name}: its logits equal the base's or the other's"
            )));
        }
        seen.push(kept);
        let off = AdapterChoice {
            name: Some(name.clone()),
            scale: Some(0.0),
        };
        if logits(&session, &off).await? != base {
            return Err(fail(format!("{name} at scale 0 is not the base model")));
        }
        eprintln!(
            "{}{}: switching to {name}: {switch_ms:.2} ms, sharing the base's tensors (opening \
             the base queued its uploads in {open_ms:.1} ms)",
            device.tier(),
            if quantize { ", 4-bit base" } else { "" }
        );
    }
    let unknown = AdapterChoice {
        name: Some("nope".into()),
        scale: None,
    };
    match session.model_with(&unknown) {
        Err(err) if err.to_string().contains("support") => {}
        other => return Err(fail(format!("an unknown adapter gave {:?}", other.err()))),
    }
    let nan = AdapterChoice {
        name: None,
        scale: Some(f64::NAN),
    };
    match session.model_with(&nan) {
        Err(err) if err.kind() == "setting" => {}
        other => return Err(fail(format!("a NaN scale gave {:?}", other.err()))),
    }
    let (_, config, weights) = &adapters[0];
    let file = MemorySource::new("adapter_model.safetensors", weights.to_vec());
    for name in ["", "support"] {
        if session.load_adapter(name, config, &file).await.is_ok() {
            return Err(fail(format!(
                "an adapter named {name:?} was kept twice or unnamed"
            )));
        }
    }
    session.remove_adapter("support")?;
    if session.adapters().len() != 1 {
        return Err(fail("remove_adapter kept it".into()));
    }
    Ok(())
}
