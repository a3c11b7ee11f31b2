//! PEFT's adapter files: `adapter_config.json` and `adapter_model.safetensors`, with PEFT's
//! key names (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`; `lora_A` is
//! `[r, in]`, `lora_B` is `[out, r]`). An adapter written here loads in PEFT, and one trained
//! with PEFT loads here.

use std::collections::BTreeMap;

use burn::module::Param;
use burn::tensor::{Device, TensorData};
use serde_json::{Value, json};

use super::{LoraConfig, Targets, attach_with, detach};
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::io::ByteSource;
use crate::io::safetensors::{SafetensorsFile, write_f32};
use crate::models::LinearLayers;
use crate::nn::transpose;

/// PEFT's parameter name of a branch tensor: `part` is `lora_A`, `lora_B` or
/// `lora_magnitude_vector`.
pub fn key(path: &str, part: &str) -> String {
    format!("base_model.model.{path}.{part}.weight")
}

/// The key PEFT's `adapter_model.safetensors` stores a parameter under (the magnitude vector
/// loses its `.weight`).
pub fn file_key(key: &str) -> String {
    match key.strip_suffix(".lora_magnitude_vector.weight") {
        Some(head) => format!("{head}.lora_magnitude_vector"),
        None => key.to_string(),
    }
}

/// What `adapter_config.json` says besides the LoRA hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterInfo {
    /// The hyper-parameters.
    pub config: LoraConfig,
    /// The base model it was trained on, as PEFT recorded it.
    pub base_model_name_or_path: Option<String>,
}

/// Reads `adapter_config.json` (named `name` in errors). Refuses what webtune does not
/// implement (DoRA, per-layer ranks, trained biases, extra saved modules) rather than
/// loading it wrongly.
pub fn parse_config(name: &str, bytes: &[u8]) -> Result<AdapterInfo> {
    let fail = |problem: String| Error::Adapter {
        name: name.to_string(),
        problem,
    };
    let json: Value =
        serde_json::from_slice(bytes).map_err(|err| fail(format!("not valid JSON: {err}")))?;
    let peft_type = json
        .get("peft_type")
        .and_then(Value::as_str)
        .unwrap_or("LORA");
    if peft_type != "LORA" {
        return Err(fail(format!("peft_type {peft_type:?} is not LORA")));
    }
    let unsupported = [
        (
            "rank_pattern",
            json.get("rank_pattern")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty()),
        ),
        (
            "alpha_pattern",
            json.get("alpha_pattern")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty()),
        ),
        (
            "bias",
            json.get("bias")
                .and_then(Value::as_str)
                .is_some_and(|b| b != "none"),
        ),
        (
            "modules_to_save",
            json.get("modules_to_save").is_some_and(|m| !m.is_null()),
        ),
    ];
    if let Some((key, _)) = unsupported.iter().find(|(_, used)| *used) {
        return Err(fail(format!(
            "`{key}` is set, which webtune does not load yet"
        )));
    }
    let r = json
        .get("r")
        .and_then(Value::as_u64)
        .ok_or_else(|| fail("`r` is missing".into()))? as usize;
    let target_modules = match json.get("target_modules") {
        Some(Value::Array(items)) => Targets::Names(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        Some(Value::String(s)) if s == "all-linear" => Targets::Names(vec![s.clone()]),
        Some(Value::String(s)) => Targets::Pattern(s.clone()),
        _ => return Err(fail("`target_modules` is missing".into())),
    };
    let config = LoraConfig {
        r,
        lora_alpha: json
            .get("lora_alpha")
            .and_then(Value::as_f64)
            .unwrap_or(8.0),
        lora_dropout: json
            .get("lora_dropout")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        target_modules,
        use_rslora: json
            .get("use_rslora")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        use_dora: json
            .get("use_dora")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    config.validate().map_err(fail)?;
    Ok(AdapterInfo {
        config,
        base_model_name_or_path: json
            .get("base_model_name_or_path")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Loads a PEFT adapter (`adapter_config.json` bytes and `adapter_model.safetensors`) onto
/// `model`, replacing any branch it had. Every targeted layer must find its `lora_A` and
/// `lora_B` with matching shapes, and every tensor in the file must belong to a layer:
/// anything else means the adapter was trained on another base model.
pub async fn load(
    model: &mut impl LinearLayers,
    config_json: &[u8],
    weights: &impl ByteSource,
    device: &Device,
) -> Result<AdapterInfo> {
    let info = parse_config("adapter_config.json", config_json)?;
    let file = SafetensorsFile::open(weights).await?;
    let fail = |problem: String| Error::Adapter {
        name: weights.name().to_string(),
        problem,
    };
    // Read every tensor the config targets first, checking shapes, then attach.
    let mut tensors = BTreeMap::new();
    let r = info.config.r;
    for (path, linear) in model.linear_layers() {
        if !info.config.target_modules.matches(&path) {
            continue;
        }
        let [inp, out] = linear.shape();
        let mut parts = vec![("lora_A", vec![r, inp]), ("lora_B", vec![out, r])];
        if info.config.use_dora {
            parts.push(("lora_magnitude_vector", vec![out]));
        }
        for (part, shape) in parts {
            let key = file_key(&key(&path, part));
            let entry = file.tensors.get(&key).ok_or_else(|| {
                fail(format!(
                    "has no `{key}`, which the config targets (is it for another base model?)"
                ))
            })?;
            if entry.shape != shape {
                return Err(fail(format!(
                    "`{key}` is {:?}, but this model's layer needs {shape:?} (is it for \
                     another base model?)",
                    entry.shape
                )));
            }
            let values = file.read_f32(weights, &key).await?;
            let values = match shape[..] {
                [rows, cols] => transpose(&values, rows, cols),
                _ => values,
            };
            tensors.insert(key, values);
        }
    }
    if let Some(extra) = file.tensors.keys().find(|k| !tensors.contains_key(*k)) {
        return Err(fail(format!(
            "`{extra}` matches no targeted layer of this model (is it for another base model?)"
        )));
    }
    detach(model);
    attach_with(model, &info.config, device, |path, _, _| {
        let mut take = |part| {
            tensors
                .remove(&file_key(&key(path, part)))
                .unwrap_or_default()
        };
        (take("lora_A"), take("lora_B"))
    })?;
    // DoRA: the stored magnitudes replace the initial norms `attach_with` gave.
    for (path, linear) in model.linear_layers_mut() {
        let name = file_key(&key(&path, "lora_magnitude_vector"));
        if let (Some(branch), Some(values)) = (&mut linear.low_rank, tensors.remove(&name)) {
            let n = values.len();
            let m = crate::device::f32_tensor(TensorData::new(values, [1, n]), device);
            branch.magnitude = Some(Param::from_tensor(m));
        }
    }
    Ok(info)
}

/// Writes `model`'s adapter in PEFT's layout: `adapter_config.json` and
/// `adapter_model.safetensors`, as bytes. `base_model` is recorded as
/// `base_model_name_or_path`.
pub async fn save(
    model: &impl LinearLayers,
    config: &LoraConfig,
    base_model: &str,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut tensors = Vec::new();
    for (key, param) in super::parameters(model) {
        let [rows, cols] = param.dims();
        let values = read_f32(param.val(), &key).await?;
        if key.ends_with(".lora_magnitude_vector.weight") {
            tensors.push((file_key(&key), vec![cols], values));
        } else {
            // Stored [in, r] / [r, out]; PEFT's are the transposes.
            tensors.push((key, vec![cols, rows], transpose(&values, rows, cols)));
        }
    }
    if tensors.is_empty() {
        return Err(Error::Adapter {
            name: base_model.to_string(),
            problem: "the model has no adapter to save".into(),
        });
    }
    let target_modules = match &config.target_modules {
        Targets::Names(names) if names.len() == 1 && names[0] == "all-linear" => {
            json!("all-linear")
        }
        Targets::Names(names) => json!(names),
        Targets::Pattern(p) => json!(p),
    };
    let config_json = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": config.r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": target_modules,
        "use_rslora": config.use_rslora,
        "use_dora": config.use_dora,
        "bias": "none",
        "fan_in_fan_out": false,
        "init_lora_weights": true,
        "inference_mode": true,
        "modules_to_save": null,
        "layers_to_transform": null,
        "layers_pattern": null,
        "rank_pattern": {},
        "alpha_pattern": {},
        "revision": null,
        "generator": format!("webtune {}", env!("CARGO_PKG_VERSION")),
    });
    let config_bytes = serde_json::to_vec_pretty(&config_json).map_err(|err| Error::Adapter {
        name: base_model.to_string(),
        problem: format!("cannot write adapter_config.json: {err}"),
    })?;
    Ok((config_bytes, write_f32(&tensors)))
}
