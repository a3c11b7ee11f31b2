//! Data quality before training: near-duplicate rows (MinHash over word 3-grams, candidates
//! from banded signatures, each pair confirmed by its exact Jaccard similarity, whole and
//! without the 3-grams most rows share), validation
//! rows that leak from training, and the balance of answers drawn from a small set (Yes/No,
//! classes), with an opt-in oversampling of the rarer answers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Example;
use crate::rng::Rng;

/// Rows at least this similar (Jaccard of their word 3-grams, after normalisation) are
/// near-duplicates.
pub const NEAR_DUPLICATE: f64 = 0.8;
/// Near-duplicates also share at least this much of what sets them apart from the other rows
/// (their 3-grams without those most rows share: a system prompt, a repeated instruction).
const DISTINCT: f64 = 0.5;
/// MinHash functions: `BANDS` bands of `ROWS` (a pair at Jaccard 0.8 becomes a candidate with
/// probability 1 − (1 − 0.8⁴)¹⁶ ≈ 0.9998).
const BANDS: usize = 16;
const ROWS: usize = 4;
/// At most this many distinct answers make a label set.
const MAX_LABELS: usize = 10;
/// Answers are imbalanced when the commonest is this many times as frequent as the rarest.
const IMBALANCE: f64 = 2.0;

/// A group of rows (their lines in the file) that repeat each other, exactly or nearly; the
/// first is the one kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repeats {
    /// The lines, in file order.
    pub lines: Vec<usize>,
    /// The lowest Jaccard similarity between the first row and another (1: exact after
    /// normalisation).
    pub similarity: f64,
}

/// A validation row that repeats a training row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leak {
    /// The validation row's line (in the validation file when there is one).
    pub validation_line: usize,
    /// The training row's line.
    pub training_line: usize,
    /// Their Jaccard similarity.
    pub similarity: f64,
}

/// How often each answer of a label-like dataset occurs among the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    /// `(answer, rows)`, commonest first (answers compared trimmed, lower-case, without
    /// final punctuation).
    pub counts: Vec<(String, usize)>,
    /// The same after rebalancing, when it was asked for.
    pub rebalanced: Option<Vec<(String, usize)>>,
    /// Whether the commonest answer is at least twice as frequent as the rarest.
    pub imbalanced: bool,
}

/// The text of `example` that is compared for repeats.
fn whole_text(example: &Example) -> String {
    match example {
        Example::Chat(messages) => messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Example::Completion { prompt, completion } => format!("{prompt}\n{completion}"),
        Example::Text(text) => text.clone(),
    }
}

/// The trained answer of `example`, normalised: the last assistant turn or the completion.
pub fn answer(example: &Example) -> Option<String> {
    let text = match example {
        Example::Chat(messages) => &messages.iter().rfind(|m| m.role == "assistant")?.content,
        Example::Completion { completion, .. } => completion,
        Example::Text(_) => return None,
    };
    let text = text.trim().trim_end_matches(['.', '!', '?']).to_lowercase();
    (!text.is_empty()).then_some(text)
}

/// FNV-1a of `bytes`.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64's finaliser: a seeded hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The sorted, distinct hashes of `text`'s word 3-grams (its words when it has fewer than
/// three), after lower-casing and keeping only letters and digits.
pub fn shingles(text: &str) -> Vec<u64> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let n = if words.len() >= 3 { 3 } else { 1 };
    let mut out: Vec<u64> = words
        .windows(n)
        .map(|w| fnv(w.join(" ").as_bytes()))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard similarity of two sorted, distinct sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut both) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f64 / (a.len() + b.len() - both) as f64
}

/// Pairs `(i, j, similarity)` with `i < j` of `sets` at least [`NEAR_DUPLICATE`] similar.
pub fn similar_pairs(sets: &[Vec<u64>]) -> Vec<(usize, usize, f64)> {
    let mut buckets: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    for (i, set) in sets.iter().enumerate() {
        let signature: Vec<u64> = (0..BANDS * ROWS)
            .map(|k| {
                let seed = mix(k as u64 + 1);
                set.iter().map(|&h| mix(h ^ seed)).min().unwrap_or(0)
            })
            .collect();
        for (band, rows) in signature.chunks(ROWS).enumerate() {
            let key = rows.iter().fold(0u64, |h, &r| mix(h ^ r));
            buckets.entry((band, key)).or_default().push(i);
        }
    }
    let mut candidates: Vec<(usize, usize)> = buckets
        .values()
        .filter(|rows| rows.len() > 1)
        .flat_map(|rows| {
            rows.iter()
                .enumerate()
                .flat_map(move |(a, &i)| rows[a + 1..].iter().map(move |&j| (i, j)))
        })
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .filter_map(|(i, j)| {
            let s = jaccard(&sets[i], &sets[j]);
            (s >= NEAR_DUPLICATE).then_some((i, j, s))
        })
        .collect()
}

/// Removes the 3-grams that more than half of ten or more rows share (a system prompt, an
/// instruction every row repeats), leaving what sets each row apart.
fn drop_common(sets: &mut [Vec<u64>]) {
    if sets.len() < 10 {
        return;
    }
    let mut rows: HashMap<u64, usize> = HashMap::new();
    for set in sets.iter() {
        for &h in set {
            *rows.entry(h).or_default() += 1;
        }
    }
    let half = sets.len() / 2;
    for set in sets.iter_mut() {
        set.retain(|h| rows[h] <= half);
    }
}

/// What [`check`] found, by index into its `train` and `validation`.
#[derive(Debug, Default)]
pub struct Found {
    /// Groups of training rows that repeat each other (indices, the first kept).
    pub repeats: Vec<(Vec<usize>, f64)>,
    /// `(validation index, training index, similarity)`.
    pub leaks: Vec<(usize, usize, f64)>,
}

/// Finds repeated training rows and validation rows that repeat training rows.
pub fn check(train: &[&Example], validation: &[&Example]) -> Found {
    let sets: Vec<Vec<u64>> = train
        .iter()
        .chain(validation)
        .map(|e| shingles(&whole_text(e)))
        .collect();
    let mut distinct = sets.clone();
    drop_common(&mut distinct);
    let n = train.len();
    let mut found = Found::default();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut lowest: HashMap<usize, f64> = HashMap::new();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let pairs = similar_pairs(&sets)
        .into_iter()
        .filter(|&(i, j, _)| jaccard(&distinct[i], &distinct[j]) >= DISTINCT);
    for (i, j, s) in pairs {
        match (i < n, j < n) {
            (true, true) => {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                let (keep, join) = (a.min(b), a.max(b));
                parent[join] = keep;
                let low = lowest.remove(&join).unwrap_or(1.0).min(s);
                let entry = lowest.entry(keep).or_insert(1.0);
                *entry = entry.min(low);
            }
            (true, false) => found.leaks.push((j - n, i, s)),
            (false, true) => found.leaks.push((i - n, j, s)),
            (false, false) => {}
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut repeats: Vec<(Vec<usize>, f64)> = groups
        .into_iter()
        .filter(|(_, g)| g.len() > 1)
        .map(|(r, g)| (g, lowest.get(&r).copied().unwrap_or(1.0)))
        .collect();
    repeats.sort_by_key(|(g, _)| g[0]);
    found.repeats = repeats;
    found.leaks.sort_by_key(|&(v, t, _)| (v, t));
    found
}

/// The answers of `train` when they come from a small set (at most ten distinct, each at
/// least twice, every row with one): `(answer, indices)` commonest first. `None` otherwise.
pub fn label_set(train: &[&Example]) -> Option<Vec<(String, Vec<usize>)>> {
    let mut by: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in train.iter().enumerate() {
        by.entry(answer(e)?).or_default().push(i);
    }
    if by.len() < 2 || by.len() > MAX_LABELS || by.values().any(|rows| rows.len() < 2) {
        return None;
    }
    let mut labels: Vec<(String, Vec<usize>)> = by.into_iter().collect();
    labels.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    Some(labels)
}

/// Whether `labels` (commonest first) are imbalanced.
pub fn imbalanced(labels: &[(String, Vec<usize>)]) -> bool {
    let (most, least) = (labels[0].1.len(), labels[labels.len() - 1].1.len());
    most as f64 >= IMBALANCE * least as f64
}

/// Indices to add so that every label has as many rows as the commonest: each rarer label's
/// rows repeated in a seeded order, whole passes first.
pub fn oversample(labels: &[(String, Vec<usize>)], seed: u64) -> Vec<usize> {
    let most = labels[0].1.len();
    let mut rng = Rng::new(seed ^ 0x5eed_ba1a);
    let mut extra = Vec::new();
    for (_, rows) in &labels[1..] {
        let mut order = rows.clone();
        for i in (1..order.len()).rev() {
            let j = ((rng.next_f32() as f64) * (i + 1) as f64) as usize;
            order.swap(i, j.min(i));
        }
        extra.extend(order.iter().cycle().take(most - rows.len()));
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Example {
        Example::Text(s.into())
    }

    #[test]
    fn near_duplicates_and_leaks_are_found_and_different_rows_are_not() {
        let long = "the annual leave policy grants twenty five days of paid leave to every \
                    employee after the probation period ends and the manager agrees";
        let rows = [
            text(long),
            text("How many moons does Mars have? Two small ones."),
            text(&long.to_uppercase().replace(' ', "  ")),
            text(&format!("{long} today")),
            text("Is 5 pounds of iron heavier than 20 pounds of lead?"),
            text("Is 7 pounds of tin heavier than 3 pounds of zinc?"),
        ];
        let held = [text("How many moons does Mars have?  Two small ones!")];
        let train: Vec<&Example> = rows.iter().collect();
        let found = check(&train, &held.iter().collect::<Vec<_>>());
        assert_eq!(found.repeats.len(), 1, "{:?}", found.repeats);
        assert_eq!(found.repeats[0].0, vec![0, 2, 3]);
        assert!(found.repeats[0].1 >= NEAR_DUPLICATE && found.repeats[0].1 < 1.0);
        assert_eq!(found.leaks.len(), 1);
        assert_eq!((found.leaks[0].0, found.leaks[0].1), (0, 1));
    }

    #[test]
    fn a_shared_instruction_does_not_make_rows_repeats() {
        let system = "You are a careful assistant working for the weights and measures \
                      office. Read the question below, think about the masses it compares, \
                      and answer it with a single word, Yes or No, and nothing else \
                      whatsoever: no explanation, no units, no punctuation, no greeting and \
                      no apology, because a program reads your answer.";
        let rows: Vec<Example> = (0..12)
            .map(|i| {
                text(&format!(
                    "{system}\nIs {i} pounds of iron heavier than {} pounds of lead?",
                    30 - i
                ))
            })
            .collect();
        // Compared whole, the shared instruction makes them look alike.
        let whole = |i: usize| shingles(&whole_text(&rows[i]));
        assert!(jaccard(&whole(1), &whole(2)) >= NEAR_DUPLICATE);
        let found = check(&rows.iter().collect::<Vec<_>>(), &[]);
        assert!(found.repeats.is_empty(), "{:?}", found.repeats);
    }

    #[test]
    fn a_skewed_label_set_is_found_and_oversampled_to_balance() {
        let chat = |a: &str| {
            Example::Chat(vec![
                crate::tokenizer::Message::new("user", "q"),
                crate::tokenizer::Message::new("assistant", a),
            ])
        };
        let rows: Vec<Example> = (0..20)
            .map(|i| chat(if i % 10 == 3 { "Yes." } else { "No" }))
            .collect();
        let train: Vec<&Example> = rows.iter().collect();
        let labels = label_set(&train).unwrap();
        assert_eq!(labels[0].0, "no");
        assert_eq!((labels[0].1.len(), labels[1].1.len()), (18, 2));
        assert!(imbalanced(&labels));
        let extra = oversample(&labels, 0);
        assert_eq!(extra.len(), 16);
        assert!(extra.iter().all(|&i| i % 10 == 3));
        // Free text is no label set.
        let free: Vec<Example> = (0..20).map(|i| chat(&format!("answer {i}"))).collect();
        assert!(label_set(&free.iter().collect::<Vec<_>>()).is_none());
    }
}
