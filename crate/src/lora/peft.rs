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
    // A value that is absent or null takes PEFT's default; one of the wrong type is refused
    // with its key (a misspelt or mistyped setting must not silently become the default).
    let present = |key: &str| json.get(key).filter(|v| !v.is_null());
    let wrong = |key: &str, value: &Value, expected: &str| {
        fail(format!("`{key}` is {value}: it must be {expected}"))
    };
    let number = |key: &str, default: f64| match present(key) {
        None => Ok(default),
        Some(v) => v.as_f64().ok_or_else(|| wrong(key, v, "a number")),
    };
    let flag = |key: &str| match present(key) {
        None => Ok(false),
        Some(v) => v.as_bool().ok_or_else(|| wrong(key, v, "true or false")),
    };
    match present("peft_type") {
        Some(Value::String(t)) if t == "LORA" => {}
        Some(Value::String(t)) => return Err(fail(format!("peft_type {t:?} is not LORA"))),
        Some(v) => return Err(wrong("peft_type", v, "\"LORA\"")),
        None => {
            return Err(fail(
                "`peft_type` is missing: is this a PEFT adapter_config.json?".into(),
            ));
        }
    }
    let set = |key: &str| match present(key) {
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(s)) => key != "bias" || s != "none",
        Some(_) => true,
        None => false,
    };
    let unsupported = [
        "rank_pattern",
        "alpha_pattern",
        "bias",
        "modules_to_save",
        "layers_to_transform",
        "layers_pattern",
        "trainable_token_indices",
    ];
    if let Some(key) = unsupported.iter().find(|key| set(key)) {
        return Err(fail(format!(
            "`{key}` is set, which webtune does not load yet"
        )));
    }
    let r = match present("r") {
        None => return Err(fail("`r` is missing".into())),
        Some(v) => {
            // `try_from`: on wasm32, 2^40 must not wrap to 0.
            v.as_u64()
                .filter(|&r| r >= 1)
                .and_then(|r| usize::try_from(r).ok())
                .ok_or_else(|| wrong("r", v, "a whole number of at least 1"))?
        }
    };
    let target_modules = match present("target_modules") {
        Some(Value::Array(items)) => Targets::Names(
            items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| wrong("target_modules", item, "a module name"))
                })
                .collect::<Result<_>>()?,
        ),
        Some(Value::String(s)) if s == "all-linear" => Targets::Names(vec![s.clone()]),
        Some(Value::String(s)) => Targets::Pattern(s.clone()),
        Some(v) => {
            return Err(wrong(
                "target_modules",
                v,
                "a list of module names or a pattern",
            ));
        }
        None => return Err(fail("`target_modules` is missing".into())),
    };
    let config = LoraConfig {
        r,
        // null is no default: PEFT itself cannot scale by it.
        lora_alpha: match json.get("lora_alpha") {
            Some(Value::Null) => return Err(wrong("lora_alpha", &Value::Null, "a number")),
            _ => number("lora_alpha", 8.0)?,
        },
        lora_dropout: number("lora_dropout", 0.0)?,
        target_modules,
        use_rslora: flag("use_rslora")?,
        use_dora: flag("use_dora")?,
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
    let paths: Vec<String> = model.linear_layers().into_iter().map(|(p, _)| p).collect();
    if !paths.iter().any(|p| info.config.target_modules.matches(p)) {
        let targets = &info.config.target_modules;
        let hint = ": is the adapter for another base model?";
        return Err(super::unmatched(
            "adapter_config.json",
            targets,
            &paths,
            hint,
        ));
    }
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
                    "`{key}` is {:?}, but this model's layer needs {shape:?} with \
                     adapter_config.json's r = {r} (is it for another base model?)",
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
    Ok((
        config_bytes,
        write_f32("adapter_model.safetensors", &tensors)?,
    ))
}
