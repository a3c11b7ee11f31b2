//! Choosing the next token from logits, on the host: greedy, temperature, top-k, top-p and
//! repetition penalty, with a seeded generator so that a run can be repeated exactly.

use serde::{Deserialize, Serialize};

pub use crate::rng::Rng;

/// How to pick the next token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sampling {
    /// 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1: all).
    pub top_p: f32,
    /// Divide positive logits (multiply negative ones) of already-seen tokens by this
    /// (1: off), as in the CTRL paper and transformers.
    pub repetition_penalty: f32,
    /// Seed of the sampling generator.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            seed: 0,
        }
    }
}

/// Picks the next token from one position's `logits`, given the tokens seen so far.
pub fn sample(logits: &mut [f32], seen: &[u32], sampling: &Sampling, rng: &mut Rng) -> u32 {
    if sampling.repetition_penalty != 1.0 {
        for &id in seen {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = if *l > 0.0 {
                    *l / sampling.repetition_penalty
                } else {
                    *l * sampling.repetition_penalty
                };
            }
        }
    }
    if sampling.temperature <= 0.0 {
        return argmax(logits);
    }
    // Candidates sorted by logit, most likely first (ties by id, for determinism).
    let mut order: Vec<u32> = (0..logits.len() as u32).collect();
    order.sort_by(|&a, &b| {
        logits[b as usize]
            .total_cmp(&logits[a as usize])
            .then(a.cmp(&b))
    });
    if sampling.top_k > 0 {
        order.truncate(sampling.top_k);
    }
    let max = logits[order[0] as usize];
    let mut probs: Vec<f32> = order
        .iter()
        .map(|&i| ((logits[i as usize] - max) / sampling.temperature).exp())
        .collect();
    let total: f32 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    if sampling.top_p < 1.0 {
        let mut cumulative = 0.0;
        let keep = probs
            .iter()
            .position(|p| {
                cumulative += p;
                cumulative >= sampling.top_p
            })
            .map_or(probs.len(), |i| i + 1);
        order.truncate(keep);
        probs.truncate(keep);
    }
    let total: f32 = probs.iter().sum();
    let mut target = rng.next_f32() * total;
    for (&id, &p) in order.iter().zip(&probs) {
        target -= p;
        if target < 0.0 {
            return id;
        }
    }
    order[order.len() - 1]
}

/// The index of the largest value (the first one on ties).
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut logits = [0.5, 2.0, 2.0, -1.0];
        assert_eq!(
            sample(&mut logits, &[], &Sampling::default(), &mut Rng::new(0)),
            1
        );
    }

    #[test]
    fn repetition_penalty_demotes_seen_tokens() {
        let sampling = Sampling {
            repetition_penalty: 2.0,
            ..Sampling::default()
        };
        let mut logits = [3.0, 2.0, -1.0];
        // 3.0 / 2 = 1.5 < 2.0
        assert_eq!(sample(&mut logits, &[0], &sampling, &mut Rng::new(0)), 1);
        assert_eq!(logits, [1.5, 2.0, -1.0]);
    }

    #[test]
    fn top_k_and_top_p_restrict_the_candidates() {
        let logits = [5.0, 4.0, 0.0, -3.0];
        let top1 = Sampling {
            temperature: 1.0,
            top_k: 1,
            ..Sampling::default()
        };
        let tight_p = Sampling {
            temperature: 1.0,
            top_p: 0.5,
            ..Sampling::default()
        };
        let mut rng = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(sample(&mut logits.clone(), &[], &top1, &mut rng), 0);
            assert_eq!(sample(&mut logits.clone(), &[], &tight_p, &mut rng), 0);
        }
    }

    #[test]
    fn sampling_follows_the_distribution_and_the_seed() {
        let logits = [0.0f32, 0.0, (3.0f32).ln()]; // probabilities 1/5, 1/5, 3/5
        let sampling = Sampling {
            temperature: 1.0,
            seed: 1,
            ..Sampling::default()
        };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..5000)
                .map(|_| sample(&mut logits.clone(), &[], &sampling, &mut rng))
                .collect::<Vec<_>>()
        };
        let draws = run(1);
        assert_eq!(draws, run(1));
        let share = draws.iter().filter(|&&t| t == 2).count() as f32 / 5000.0;
        assert!((share - 0.6).abs() < 0.03, "{share}");
    }
}
