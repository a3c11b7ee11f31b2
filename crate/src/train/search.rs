//! Settings search by successive halving: every candidate setting (learning rate × rank)
//! trains a few steps, the best third by validation loss trains on (continuing where it
//! stopped, on the schedule of the longest run), and so on until one is left, trained as long
//! as the budget allows. Training longer is how epochs are searched: the survivor's steps are
//! the run's length. The rungs' sizes are computed here; the runs are the session's.

use serde::{Deserialize, Serialize};

use super::TrainConfig;
use crate::error::{Error, Result};

/// What to search and how much it may cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Peak learning rates to try.
    pub lr: Vec<f64>,
    /// LoRA ranks to try (alpha is twice the rank).
    pub rank: Vec<usize>,
    /// Optimizer steps the whole search may take, every trial's together.
    pub budget_steps: usize,
    /// Each rung keeps one candidate in this many.
    pub keep_one_in: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            lr: vec![1e-4, 3e-4, 1e-3],
            rank: vec![8, 16],
            budget_steps: 200,
            keep_one_in: 3,
        }
    }
}

/// One rung of successive halving: how many candidates train, to which step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    /// Candidates trained in this rung.
    pub candidates: usize,
    /// The step each of them reaches (continuing from the previous rung's).
    pub steps: usize,
}

impl SearchConfig {
    /// The candidate settings: `base` with each learning rate and rank, in order.
    pub fn candidates(&self, base: &TrainConfig) -> Vec<TrainConfig> {
        let mut out = Vec::new();
        for &rank in &self.rank {
            for &lr in &self.lr {
                let mut config = base.clone();
                config.optimizer.lr = lr;
                config.lora.r = rank;
                config.lora.lora_alpha = 2.0 * rank as f64;
                out.push(config);
            }
        }
        out
    }

    /// The rungs for `candidates` settings: the first trains each a few steps, each next one
    /// keeps the best `1 / keep_one_in` (at least one) and trains them `keep_one_in` times
    /// as far, the last holds one; the first rung's steps are the most the budget allows.
    /// A budget that cannot give every candidate one step is refused, saying what it needs.
    pub fn rungs(&self, candidates: usize) -> Result<Vec<Rung>> {
        let bad = |problem: String| Error::Setting {
            setting: "search".into(),
            problem,
        };
        let eta = self.keep_one_in;
        if eta < 2 {
            return Err(bad(format!("keep_one_in is {eta}: it must be at least 2")));
        }
        if candidates == 0 {
            return Err(bad(
                "has no setting to try (an empty list of lr or rank)".into()
            ));
        }
        let mut counts = vec![candidates];
        while let Some(&last) = counts.last().filter(|&&n| n > 1) {
            counts.push(last.div_ceil(eta).min(last - 1).max(1));
        }
        // Steps of rung k are first · eta^k; the cost is what each rung adds to its
        // candidates' runs.
        let scale: Vec<usize> = (0..counts.len()).map(|k| eta.pow(k as u32)).collect();
        let unit: usize = counts
            .iter()
            .enumerate()
            .map(|(k, &n)| n * (scale[k] - if k == 0 { 0 } else { scale[k - 1] }))
            .sum();
        let first = self.budget_steps / unit;
        if first == 0 {
            return Err(bad(format!(
                "budget_steps is {}: too small for one trial — {candidates} settings over {} \
                 rungs need at least {unit} steps",
                self.budget_steps,
                counts.len()
            )));
        }
        Ok(counts
            .iter()
            .zip(&scale)
            .map(|(&candidates, &s)| Rung {
                candidates,
                steps: first * s,
            })
            .collect())
    }
}

/// One candidate's result at one rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Its place among the candidates.
    pub candidate: usize,
    /// Its learning rate.
    pub lr: f64,
    /// Its LoRA rank.
    pub rank: usize,
    /// The rung (0: everyone).
    pub rung: usize,
    /// Steps trained so far.
    pub steps: usize,
    /// Validation loss after them (`None`: no validation data, or not finite).
    pub validation_loss: Option<f64>,
    /// Seconds this rung took it.
    pub seconds: f64,
}

/// The candidates (indices into `trials`) that go on: the best `keep` by validation loss, ties
/// and missing losses going to the earlier candidate.
pub fn survivors(trials: &[Trial], keep: usize) -> Vec<usize> {
    let mut order: Vec<&Trial> = trials.iter().collect();
    order.sort_by(|a, b| {
        let loss = |t: &Trial| {
            t.validation_loss
                .filter(|l| l.is_finite())
                .unwrap_or(f64::INFINITY)
        };
        loss(a)
            .total_cmp(&loss(b))
            .then(a.candidate.cmp(&b.candidate))
    });
    order.into_iter().take(keep).map(|t| t.candidate).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_spend_the_budget_and_keep_a_third() {
        let search = SearchConfig {
            budget_steps: 100,
            ..SearchConfig::default()
        };
        // 6 candidates: 6 → 2 → 1; cost per first-rung step 6·1 + 2·2 + 1·6 = 16.
        let rungs = search.rungs(6).unwrap();
        assert_eq!(
            rungs,
            [
                Rung {
                    candidates: 6,
                    steps: 6
                },
                Rung {
                    candidates: 2,
                    steps: 18
                },
                Rung {
                    candidates: 1,
                    steps: 54
                }
            ]
        );
        let spent: usize = [6 * 6, 2 * 12, 36].iter().sum();
        assert!(spent <= 100);
        assert_eq!(
            search.rungs(1).unwrap(),
            [Rung {
                candidates: 1,
                steps: 100
            }]
        );
        let err = SearchConfig {
            budget_steps: 10,
            ..search.clone()
        }
        .rungs(6)
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("too small for one trial") && err.contains("at least 16"),
            "{err}"
        );
        assert!(search.rungs(0).is_err());
    }

    #[test]
    fn survivors_are_the_lowest_losses() {
        let trial = |candidate, loss| Trial {
            candidate,
            lr: 0.0,
            rank: 1,
            rung: 0,
            steps: 1,
            validation_loss: loss,
            seconds: 0.0,
        };
        let trials = [
            trial(0, Some(2.0)),
            trial(1, None),
            trial(2, Some(1.5)),
            trial(3, Some(f64::NAN)),
            trial(4, Some(1.5)),
        ];
        assert_eq!(survivors(&trials, 2), [2, 4]);
        assert_eq!(survivors(&trials, 3), [2, 4, 0]);
    }
}
