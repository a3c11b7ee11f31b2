//! What a run trains: LoRA/DoRA branches on a frozen base, every parameter (full
//! fine-tuning), or Half Fine-Tuning (Hui et al., 2024, "HFT: Half Fine-Tuning for Large
//! Language Models"): in each round, half of the model's parameter units in every category are
//! trainable and the other half frozen, so that part of the pre-trained knowledge is kept.
//!
//! HFT's selection works on module paths, so it knows no model family: a *unit* is the module
//! that owns a parameter (a projection with its weight and bias, a norm, an embedding), and a
//! *category* is the module that holds units side by side (a layer's attention block, its MLP,
//! the layer itself for its norms, the model for its embedding, final norm and head). In every
//! category exactly half of the units (rounding up or down by a coin flip when odd) is chosen,
//! anew in each round, from the run's seed.

use std::collections::{BTreeMap, BTreeSet};

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{TrainConfig, params};
use crate::error::Result;
use crate::lora;
use crate::models::LinearLayers;
use crate::rng::{Rng, mix};

/// What a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// LoRA (or DoRA, `lora.use_dora`) branches on a frozen base; the result is a PEFT
    /// adapter.
    #[default]
    Lora,
    /// Every parameter: for small models (weights, gradients and two moments: about four
    /// times the model's size); the result is a whole checkpoint.
    Full,
    /// Half Fine-Tuning: half of the parameter units of every category trainable per round
    /// (`hft_round_steps`), the other half frozen; the result is a whole checkpoint.
    Half,
}

/// Makes `model` (on autodiff `device`) ready for `config.method`: for LoRA, freezes the base
/// and attaches a fresh adapter; for full fine-tuning, makes every parameter trainable; for
/// HFT, selects round 0's half. Returns a line that says what will be trained.
pub fn prepare_model<M>(model: &mut M, config: &TrainConfig, device: &Device) -> Result<String>
where
    M: LinearLayers + Module,
{
    let quantized = model
        .linear_layers()
        .iter()
        .any(|(_, l)| l.weight.is_quantized());
    if quantized && config.method != Method::Lora {
        return Err(crate::Error::Adapter {
            name: "config".into(),
            problem: format!(
                "method {:?} trains the base's weights, which are loaded quantized (4-bit, \
                 frozen); load the model without quantization, or train LoRA/DoRA",
                config.method
            ),
        });
    }
    let half = model.linear_layers().iter().any(|(_, l)| {
        use burn::tensor::DType;
        !l.weight.is_quantized() && matches!(l.weight.float_dtype(), DType::F16 | DType::BF16)
    });
    if half && config.method != Method::Lora {
        return Err(crate::Error::Adapter {
            name: "config".into(),
            problem: format!(
                "method {:?} trains the base's weights, which are loaded in f16 (AdamW's small \
                 updates vanish in f16); open the model in f32, or train LoRA/DoRA (whose \
                 weights stay f32)",
                config.method
            ),
        });
    }
    match config.method {
        Method::Lora => {
            *model = model.clone().no_grad();
            let attached = lora::attach(model, &config.lora, config.seed, device)?;
            Ok(format!(
                "{} r={} alpha={} on {} layers",
                if config.lora.use_dora { "DoRA" } else { "LoRA" },
                config.lora.r,
                config.lora.lora_alpha,
                attached.len()
            ))
        }
        Method::Full => {
            params::set_trainable(model, |_| true);
            let trainable = params::trainable(model);
            let count: usize = trainable.iter().map(|(_, n)| n).sum();
            Ok(format!(
                "full fine-tuning: {count} parameters in {} tensors",
                trainable.len()
            ))
        }
        Method::Half => {
            let chosen = select_half(model, config.seed, 0);
            let total: usize = params::all(model).iter().map(|(_, v, _)| v.dims()[0]).sum();
            let trainable: usize = params::trainable(model).iter().map(|(_, n)| n).sum();
            Ok(format!(
                "Half Fine-Tuning: {} tensors, {trainable} of {total} parameters trainable in \
                 round 0",
                chosen.len()
            ))
        }
    }
}

/// The unit a parameter belongs to and that unit's category, from the parameter's path
/// (`….self_attn.q_proj.weight` → unit `….self_attn.q_proj`, category `….self_attn`;
/// `….embed_tokens.chunks.0` → unit `….embed_tokens`).
fn unit_and_category(path: &str) -> (String, String) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop();
    if last.is_some_and(|p| p.chars().all(|c| c.is_ascii_digit())) {
        parts.pop();
    }
    let unit = parts.join(".");
    parts.pop();
    (unit, parts.join("."))
}

/// The parameter paths HFT trains in `round`: half of the units of every category.
pub fn half_selection(paths: &[String], seed: u64, round: usize) -> BTreeSet<String> {
    let mut categories: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in paths {
        let (unit, category) = unit_and_category(path);
        let units = categories.entry(category).or_default();
        if !units.contains(&unit) {
            units.push(unit);
        }
    }
    let mut rng = Rng::new(mix(seed, round as u64));
    let mut chosen_units = BTreeSet::new();
    for units in categories.values() {
        let mut order: Vec<usize> = (0..units.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let take = units.len() / 2 + usize::from(units.len() % 2 == 1 && rng.next_u64() & 1 == 1);
        chosen_units.extend(order[..take].iter().map(|&i| units[i].clone()));
    }
    paths
        .iter()
        .filter(|p| chosen_units.contains(&unit_and_category(p).0))
        .cloned()
        .collect()
}

/// Makes round `round`'s half of `model`'s parameters trainable and freezes the rest; returns
/// the trainable paths.
pub fn select_half<M: Module>(model: &mut M, seed: u64, round: usize) -> BTreeSet<String> {
    let paths: Vec<String> = params::all(model).into_iter().map(|(p, _, _)| p).collect();
    let chosen = half_selection(&paths, seed, round);
    params::set_trainable(model, |path| chosen.contains(path));
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama_paths(layers: usize) -> Vec<String> {
        let mut paths = vec!["embed_tokens.chunks.0".to_string()];
        for n in 0..layers {
            for p in ["q_proj", "k_proj", "v_proj", "o_proj"] {
                paths.push(format!("layers.{n}.self_attn.{p}.weight"));
            }
            paths.push(format!("layers.{n}.self_attn.q_proj.bias"));
            for p in ["gate_proj", "up_proj", "down_proj"] {
                paths.push(format!("layers.{n}.mlp.{p}.weight"));
            }
            for p in ["input_layernorm", "post_attention_layernorm"] {
                paths.push(format!("layers.{n}.{p}.weight"));
            }
        }
        paths.push("norm.weight".into());
        paths.push("lm_head.chunks.0".into());
        paths.push("lm_head.chunks.1".into());
        paths
    }

    #[test]
    fn half_of_every_category_is_chosen_with_whole_units() {
        let paths = llama_paths(3);
        let chosen = half_selection(&paths, 7, 0);
        for n in 0..3 {
            let count = |prefix: &str, names: &[&str]| {
                names
                    .iter()
                    .filter(|p| chosen.contains(&format!("layers.{n}.{prefix}{p}.weight")))
                    .count()
            };
            assert_eq!(
                count("self_attn.", &["q_proj", "k_proj", "v_proj", "o_proj"]),
                2
            );
            assert!((1..=2).contains(&count("mlp.", &["gate_proj", "up_proj", "down_proj"])));
            assert_eq!(
                count("", &["input_layernorm", "post_attention_layernorm"]),
                1
            );
            // A bias goes with its weight.
            let q = format!("layers.{n}.self_attn.q_proj");
            assert_eq!(
                chosen.contains(&format!("{q}.weight")),
                chosen.contains(&format!("{q}.bias"))
            );
        }
        // The head's row blocks are one unit.
        assert_eq!(
            chosen.contains("lm_head.chunks.0"),
            chosen.contains("lm_head.chunks.1")
        );
    }

    #[test]
    fn rounds_differ_and_repeat_from_the_seed() {
        let paths = llama_paths(4);
        let rounds: Vec<_> = (0..4).map(|r| half_selection(&paths, 1, r)).collect();
        assert_eq!(rounds[2], half_selection(&paths, 1, 2));
        assert!(rounds.windows(2).all(|w| w[0] != w[1]));
        assert_ne!(rounds[0], half_selection(&paths, 2, 0));
    }
}
