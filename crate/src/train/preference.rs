//! Preference alignment on pairs of answers to one prompt, as TRL computes it:
//!
//! - **DPO**: `−logσ(β·Δ)` (TRL's `sigmoid` loss), where `Δ` is how much more the trained
//!   model prefers the chosen answer over the rejected one than the reference does
//!   (log-probabilities summed over each answer's tokens); or with label smoothing `ε`, the
//!   share of pairs assumed flipped, `(−(1−ε)·logσ(β·Δ) + ε·logσ(−β·Δ)) / (1−2ε)` (TRL's
//!   `robust` loss). The reference ([`Reference`]) is the same model with its adapter switched
//!   off (a fresh adapter), or with a copy of the adapter it started from (an adapter trained
//!   further, as TRL does): never a second copy of the base weights.
//! - **ORPO**: the chosen sequence's mean cross-entropy (prompt included, as TRL's ORPO
//!   trainer computes it) minus `β·logσ(log odds ratio)` of the answers' mean log-probabilities;
//!   no reference.
//!
//! Both report the rewards TRL logs: DPO's `β·(log π − log π_ref)`, ORPO's `β·log π` (mean).

use burn::module::Module;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::loss::{Scored, token_logps, trained_positions};
use crate::data::PairBatch;
use crate::device::read_f32;
use crate::error::{Error, Result};
use crate::models::{CausalLm, LinearLayers};
use crate::nn::LowRank;

/// What DPO measures the model against.
#[derive(Debug, Clone)]
pub enum Reference {
    /// The model with its adapter off (the base).
    Base,
    /// The model with these branches (by layer path) instead of its own: the adapter as it
    /// was when training began.
    Adapter(Vec<(String, LowRank)>),
}

impl Reference {
    /// The reference for a run that starts from `model` as it is now: its base when its
    /// adapter is fresh (every `B` zero, so that the adapter changes nothing), else a copy of
    /// its adapter (without gradients; the tensors are shared until training replaces them).
    pub async fn starting_from<M: LinearLayers + Module>(model: &M) -> Result<Self> {
        let mut valid = model.valid();
        let branches = crate::lora::take(&mut valid);
        if branches.iter().any(|(_, b)| b.magnitude.is_some()) {
            return Ok(Self::Adapter(branches));
        }
        let largest: Vec<Tensor<1>> = branches
            .iter()
            .map(|(_, b)| b.b.val().abs().max().reshape([1]))
            .collect();
        let fresh = match largest.is_empty() {
            true => true,
            false => read_f32(Tensor::cat(largest, 0), "adapter B")
                .await?
                .iter()
                .all(|&v| v == 0.0),
        };
        Ok(match fresh {
            true => Self::Base,
            false => Self::Adapter(branches),
        })
    }
}

/// What training optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Objective {
    /// Next-token cross-entropy on the trained tokens (supervised fine-tuning, domain
    /// adaptation).
    #[default]
    Sft,
    /// Direct Preference Optimization against the model with its adapter off.
    Dpo {
        /// How far from the reference the model may move (TRL's `beta`, 0.1 by default).
        #[serde(default = "default_beta")]
        beta: f64,
        /// The share of pairs taken to be labelled the wrong way round, in [0, 0.5): above 0,
        /// the loss is TRL's `robust` one, unbiased under that much label noise.
        #[serde(default)]
        label_smoothing: f64,
    },
    /// Odds Ratio Preference Optimization: supervised loss plus an odds-ratio term.
    Orpo {
        /// The odds-ratio term's weight (TRL's `beta`, 0.1 by default).
        #[serde(default = "default_beta")]
        beta: f64,
    },
}

fn default_beta() -> f64 {
    0.1
}

impl Objective {
    /// Whether it trains on preference pairs.
    pub fn is_preference(&self) -> bool {
        !matches!(self, Self::Sft)
    }

    /// What is wrong with the settings, if anything: the setting and the problem.
    pub fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        let beta_ok = |beta: f64| match beta.is_finite() && beta > 0.0 {
            true => Ok(()),
            false => Err(("objective.beta", format!("is {beta}: it must be above 0"))),
        };
        match *self {
            Self::Sft => Ok(()),
            Self::Dpo {
                beta,
                label_smoothing,
            } => {
                beta_ok(beta)?;
                match (0.0..0.5).contains(&label_smoothing) {
                    true => Ok(()),
                    false => Err((
                        "objective.label_smoothing",
                        format!("is {label_smoothing}: it must be at least 0 and below 0.5"),
                    )),
                }
            }
            Self::Orpo { beta } => beta_ok(beta),
        }
    }

    /// The name TRL gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sft => "SFT",
            Self::Dpo { .. } => "DPO",
            Self::Orpo { .. } => "ORPO",
        }
    }
}

/// What the pairs of a step showed, averaged over them (TRL's logged metrics).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PreferenceStats {
    /// Pairs seen.
    pub pairs: usize,
    /// Mean reward of the chosen answers.
    pub rewards_chosen: f64,
    /// Mean reward of the rejected answers.
    pub rewards_rejected: f64,
    /// Mean of chosen minus rejected reward.
    pub margins: f64,
    /// Share of pairs whose chosen answer has the higher reward.
    pub accuracy: f64,
    /// Share of pairs whose chosen answer the model finds likelier per token than the rejected
    /// one (unlike `accuracy`, meaningful before training too).
    pub preferred: f64,
    /// Mean log-probability of the chosen answers (summed over tokens with DPO, per token
    /// with ORPO).
    pub logps_chosen: f64,
    /// The same for the rejected answers.
    pub logps_rejected: f64,
    /// ORPO: the chosen sequences' cross-entropy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nll_loss: Option<f64>,
    /// ORPO: mean `logσ(log odds ratio)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_odds_ratio: Option<f64>,
    /// ORPO: mean log odds ratio of chosen over rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_odds_chosen: Option<f64>,
}

/// Values read back for one micro-batch of `n` pairs: per pair chosen/rejected log-probs,
/// rewards and mean log-probs per token (`6n`), then ORPO's nll, `logσ(log odds)` mean and
/// log-odds mean (3, zero for DPO).
pub(crate) fn stats_len(pairs: usize) -> usize {
    6 * pairs + 3
}

impl PreferenceStats {
    /// Averages the read-back values of several micro-batches: each one's pair count and
    /// the values [`preference_loss`] returned for it.
    pub fn from_values(objective: &Objective, parts: &[(usize, &[f32])]) -> Self {
        let mut stats = Self::default();
        let (mut nll, mut ratio, mut odds) = (0.0, 0.0, 0.0);
        for &(n, values) in parts {
            // A short read (it never is) counts as not finite, not as a crash.
            let value = |j: usize| f64::from(values.get(j).copied().unwrap_or(f32::NAN));
            let at = |k: usize, i: usize| value(k * n + i);
            for i in 0..n {
                let (chosen, rejected) = (at(2, i), at(3, i));
                stats.logps_chosen += at(0, i);
                stats.logps_rejected += at(1, i);
                stats.rewards_chosen += chosen;
                stats.rewards_rejected += rejected;
                stats.margins += chosen - rejected;
                stats.accuracy += f64::from(u8::from(chosen > rejected));
                stats.preferred += f64::from(u8::from(at(4, i) > at(5, i)));
            }
            let tail = |k: usize| value(6 * n + k) * n as f64;
            (nll, ratio, odds) = (nll + tail(0), ratio + tail(1), odds + tail(2));
            stats.pairs += n;
        }
        let count = stats.pairs.max(1) as f64;
        for mean in [
            &mut stats.rewards_chosen,
            &mut stats.rewards_rejected,
            &mut stats.margins,
            &mut stats.accuracy,
            &mut stats.preferred,
            &mut stats.logps_chosen,
            &mut stats.logps_rejected,
        ] {
            *mean /= count;
        }
        if let Objective::Orpo { .. } = objective {
            stats.nll_loss = Some(nll / count);
            stats.log_odds_ratio = Some(ratio / count);
            stats.log_odds_chosen = Some(odds / count);
        }
        stats
    }
}

/// Per pair-row sums of the scored positions' log-probabilities: `weights` is `[k][n]` on the
/// host, the result `[k]` (`weights · logps`).
fn weighted_sums(logps: Tensor<1>, weights: Vec<Vec<f32>>, device: &Device) -> Tensor<1> {
    let (k, n) = (weights.len(), logps.dims()[0]);
    // In f32 as the log-probabilities are, whatever the device's default float (f16).
    let weights = Tensor::<2>::from_data(TensorData::new(weights.concat(), [k, n]), device);
    crate::device::to_f32(weights)
        .matmul(logps.reshape([n, 1]))
        .reshape([k])
}

/// For each row of `batch`, the weight `1` (or `1/count` when `mean`) on its scored positions.
fn row_weights(scored: &[Scored], rows: usize, seq: usize, mean: bool) -> Vec<Vec<f32>> {
    let mut weights = vec![vec![0f32; scored.len()]; rows];
    let mut counts = vec![0usize; rows];
    for s in scored {
        counts[s.position / seq] += 1;
    }
    for (j, s) in scored.iter().enumerate() {
        let r = s.position / seq;
        weights[r][j] = match mean {
            true => 1.0 / counts[r] as f32,
            false => 1.0,
        };
    }
    weights
}

/// `log(1 − eˣ)` for `x < 0` (`x`: a mean log-probability). Away from 0 directly; from −0.1
/// up by the series of `1 − eˣ = −x·(1 + x/2 + x²/6 + x³/24 + x⁴/120 …)`, which keeps its
/// digits where `1 − eˣ` cancels. `x` is kept below −1e-7: an answer the model is certain of
/// (log-probability 0, as f16 logits reach soon) would give log 0.
fn log1mexp(x: Tensor<1>) -> Tensor<1> {
    let x = x.clamp_max(-1e-7);
    let near = x.clone().greater_equal_elem(-0.1);
    let direct = x.clone().clamp_max(-0.05).exp().neg().log1p();
    let s = x.clamp_min(-0.1);
    let poly = s.clone().div_scalar(5.0).add_scalar(1.0);
    let poly = s.clone().div_scalar(4.0).mul(poly).add_scalar(1.0);
    let poly = s.clone().div_scalar(3.0).mul(poly).add_scalar(1.0);
    let poly = s.clone().div_scalar(2.0).mul(poly).add_scalar(1.0);
    let series = s.neg().mul(poly).log();
    direct.mask_where(near, series)
}

/// The loss of `objective` (DPO or ORPO) on a micro-batch of pairs, `[1]` and differentiable
/// on an autodiff device, and the values [`PreferenceStats`] is made of (`[6n + 3]`, no
/// gradient). With DPO the model must carry an adapter (its reference is the model without
/// it).
pub fn preference_loss<M>(
    model: &M,
    pairs: &PairBatch,
    objective: &Objective,
    reference: &Reference,
    device: &Device,
) -> Result<(Tensor<1>, Tensor<1>)>
where
    M: CausalLm + LinearLayers + Module,
{
    let batch = &pairs.batch;
    let (rows, seq) = batch.shape()?;
    let n = pairs.pairs();
    if rows != 2 * n || n == 0 {
        return Err(Error::Input {
            problem: format!("a preference batch needs chosen and rejected rows, got {rows} rows"),
        });
    }
    let completion = trained_positions(model, batch)?;
    if let Some(r) = (0..rows).find(|&r| !completion.iter().any(|s| s.position / seq == r)) {
        return Err(Error::Input {
            problem: format!("pair row {r} has no answer token to score"),
        });
    }
    let inner = device.clone().inner();
    let detached = |t: Tensor<1>| t.inner().detach();
    match *objective {
        Objective::Sft => Err(Error::Input {
            problem: "the supervised objective does not train on pairs".into(),
        }),
        Objective::Dpo {
            beta,
            label_smoothing,
        } => {
            if crate::lora::parameters(model).is_empty() {
                return Err(Error::Input {
                    problem: "DPO compares the model with its adapter off: train an adapter \
                              (method lora), or use ORPO, which needs no reference"
                        .into(),
                });
            }
            let mut weights = row_weights(&completion, rows, seq, false);
            weights.extend(row_weights(&completion, rows, seq, true));
            let both = weighted_sums(
                token_logps(model, batch, &completion, device)?,
                weights,
                device,
            );
            let policy = both.clone().narrow(0, 0, rows);
            let means = both.narrow(0, rows, rows);
            let mut base = model.valid();
            match reference {
                Reference::Base => crate::lora::detach(&mut base),
                Reference::Adapter(branches) => crate::lora::put(&mut base, branches, 1.0),
            }
            let reference = token_logps(&base, batch, &completion, &inner)?;
            let reference = weighted_sums(
                reference,
                row_weights(&completion, rows, seq, false),
                &inner,
            );
            let reference = Tensor::<1>::from_inner(reference);
            let ratios = policy.clone() - reference;
            let chosen = ratios.clone().narrow(0, 0, n);
            let rejected = ratios.narrow(0, n, n);
            let delta = (chosen.clone() - rejected.clone()).mul_scalar(beta);
            let eps = label_smoothing;
            let loss = log_sigmoid(delta.clone())
                .mul_scalar(-(1.0 - eps))
                .add(log_sigmoid(delta.neg()).mul_scalar(eps))
                .div_scalar(1.0 - 2.0 * eps)
                .mean();
            let stats = Tensor::cat(
                vec![
                    detached(policy),
                    detached(chosen.mul_scalar(beta)),
                    detached(rejected.mul_scalar(beta)),
                    detached(means),
                    crate::device::to_f32(Tensor::zeros([3], &inner)),
                ],
                0,
            );
            Ok((loss, stats))
        }
        Objective::Orpo { beta } => {
            // The chosen rows' every next token, prompt included, for the NLL; then the
            // answers' tokens of both rows for their mean log-probabilities.
            let mut scored: Vec<Scored> = (0..n)
                .flat_map(|r| {
                    let len = pairs.lengths[r];
                    (0..len.saturating_sub(1)).map(move |t| Scored {
                        position: r * seq + t,
                        target: batch.ids[r][t + 1],
                    })
                })
                .collect();
            let whole = scored.len();
            scored.extend(&completion);
            let logps = token_logps(model, batch, &scored, device)?;
            let mut weights = vec![vec![0f32; scored.len()]; rows + 1];
            for (r, row) in row_weights(&completion, rows, seq, true)
                .into_iter()
                .enumerate()
            {
                weights[r][whole..].copy_from_slice(&row);
            }
            for w in &mut weights[rows][..whole] {
                *w = 1.0 / whole.max(1) as f32;
            }
            let sums = weighted_sums(logps, weights, device);
            let means = sums.clone().narrow(0, 0, rows);
            let nll = sums.narrow(0, rows, 1).neg();
            let chosen = means.clone().narrow(0, 0, n);
            let rejected = means.clone().narrow(0, n, n);
            let log_odds = (chosen.clone() - rejected.clone())
                - (log1mexp(chosen.clone()) - log1mexp(rejected.clone()));
            let ratio = log_sigmoid(log_odds.clone());
            let loss = nll.clone() - ratio.clone().mul_scalar(beta).mean();
            let stats = Tensor::cat(
                vec![
                    detached(means.clone()),
                    detached(chosen.mul_scalar(beta)),
                    detached(rejected.mul_scalar(beta)),
                    detached(means),
                    detached(nll),
                    detached(ratio.mean()),
                    detached(log_odds.mean()),
                ],
                0,
            );
            Ok((loss, stats))
        }
    }
}
