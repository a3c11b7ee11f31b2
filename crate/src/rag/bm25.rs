//! A BM25 keyword index over chunks (Okapi BM25, k1 = 1.2, b = 0.75, Lucene's idf
//! `ln(1 + (N − df + 0.5) / (df + 0.5))`): terms are lower-cased runs of letters and digits
//! (any script; CJK characters count one term each), without Lucene's English stop words, and
//! lightly stemmed (plural `-s`/`-es`/`-ies`, `-ing`, `-ed`: "expenses" and "parking" find
//! "expense" and "park"). Chunks are added and removed one at a time; statistics follow.

use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Lucene's English stop words.
const STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// A light English stemmer: plurals (`-ies` → `-y`, `-es` after `ss`/`x`/`z`/`ch`/`sh`, `-s`), `-ing`
/// and `-ed` when a vowel stays in the stem (a doubled final consonant is undoubled).
fn stem(word: &str) -> String {
    let has_vowel = |s: &str| s.chars().any(|c| "aeiouy".contains(c));
    let undouble = |s: &str| {
        let b = s.as_bytes();
        match b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] && !b"lsz".contains(&b[b.len() - 1])
        {
            true => s[..s.len() - 1].to_string(),
            false => s.to_string(),
        }
    };
    if !word.is_ascii() || word.len() <= 3 {
        return word.to_string();
    }
    if let Some(s) = word.strip_suffix("ies").filter(|s| s.len() >= 2) {
        return format!("{s}y");
    }
    if let Some(s) = word.strip_suffix("es")
        && (s.ends_with(['x', 'z']) || ["ss", "ch", "sh"].iter().any(|e| s.ends_with(e)))
    {
        return s.to_string();
    }
    if let Some(s) = word
        .strip_suffix("ing")
        .filter(|s| s.len() >= 3 && has_vowel(s))
    {
        return undouble(s);
    }
    if let Some(s) = word
        .strip_suffix("ed")
        .filter(|s| s.len() >= 3 && has_vowel(s))
    {
        return undouble(s);
    }
    match word.strip_suffix('s') {
        Some(s) if !s.ends_with(['s', 'u', 'i']) => s.to_string(),
        _ => word.to_string(),
    }
}

/// Terms of `text`: lower-cased runs of alphanumerics, stop words dropped, stemmed; each CJK
/// ideograph or kana on its own.
pub fn terms(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        let cjk = matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af);
        if cjk {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The keyword index: term → postings (chunk id, term frequency), and each chunk's length
/// and distinct terms (to remove it).
#[derive(Debug, Clone, Default)]
pub struct Bm25 {
    postings: HashMap<String, Vec<(u64, u32)>>,
    lengths: HashMap<u64, u32>,
    chunk_terms: HashMap<u64, Vec<String>>,
    total_length: u64,
}

impl Bm25 {
    /// Adds chunk `id` with `text` (an id already present is replaced).
    pub fn add(&mut self, id: u64, text: &str) {
        self.remove(id);
        let terms = terms(text);
        let mut counts: HashMap<String, u32> = HashMap::new();
        for t in &terms {
            *counts.entry(t.clone()).or_default() += 1;
        }
        let mut distinct = Vec::with_capacity(counts.len());
        for (term, tf) in counts {
            self.postings
                .entry(term.clone())
                .or_default()
                .push((id, tf));
            distinct.push(term);
        }
        self.chunk_terms.insert(id, distinct);
        self.lengths.insert(id, terms.len() as u32);
        self.total_length += terms.len() as u64;
    }

    /// Removes chunk `id` (absent: nothing happens).
    pub fn remove(&mut self, id: u64) {
        let Some(length) = self.lengths.remove(&id) else {
            return;
        };
        self.total_length -= u64::from(length);
        for term in self.chunk_terms.remove(&id).unwrap_or_default() {
            if let Some(list) = self.postings.get_mut(&term) {
                list.retain(|(c, _)| *c != id);
                if list.is_empty() {
                    self.postings.remove(&term);
                }
            }
        }
    }

    /// Chunks indexed.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// The `k` best chunks for `query`, best first, as `(chunk id, score)`; chunks sharing no
    /// term with the query are not returned. Ties go to the lower id.
    pub fn search(&self, query: &str, k: usize) -> Vec<(u64, f64)> {
        let n = self.lengths.len() as f64;
        if n == 0.0 {
            return Vec::new();
        }
        let average = self.total_length as f64 / n;
        let mut query_terms = terms(query);
        query_terms.sort();
        query_terms.dedup();
        let mut scores: HashMap<u64, f64> = HashMap::new();
        for term in &query_terms {
            let Some(list) = self.postings.get(term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for &(id, tf) in list {
                let tf = f64::from(tf);
                let length = f64::from(self.lengths[&id]);
                let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / average));
                *scores.entry(id).or_default() += idf * norm;
            }
        }
        top_k(scores.into_iter().collect(), k)
    }
}

/// The `k` highest `(id, score)` pairs, best first, ties to the lower id.
pub(crate) fn top_k(mut scored: Vec<(u64, f64)>, k: usize) -> Vec<(u64, f64)> {
    let order = |a: &(u64, f64), b: &(u64, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if k == 0 {
        return Vec::new();
    }
    if scored.len() > k {
        // Partition around the k-th best first: linear, not a sort of everything.
        scored.select_nth_unstable_by(k - 1, order);
        scored.truncate(k);
    }
    scored.sort_by(order);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_fold_case_split_punctuation_and_cjk() {
        assert_eq!(
            terms("Café-Zürich, 2024: OK!"),
            ["café", "zürich", "2024", "ok"]
        );
        assert_eq!(terms("東京 office"), ["東", "京", "office"]);
    }

    #[test]
    fn terms_drop_stop_words_and_stem_lightly() {
        assert_eq!(
            terms("The expenses of parking and dogs in the policies, booked and running classes"),
            ["expense", "park", "dog", "policy", "book", "run", "class"]
        );
        for keep in ["bus", "class", "analysis", "red", "sing"] {
            assert_eq!(stem(keep), keep);
        }
    }

    #[test]
    fn scores_as_bm25_defines_them() {
        let mut index = Bm25::default();
        index.add(1, "annual leave is twenty days");
        index.add(2, "sick leave needs a note");
        index.add(3, "the office opens at eight");
        let hits = index.search("annual leave", 10);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2]);
        // Chunk 1 by hand ("is" is a stop word, "days" stems to "day"): N = 3, lengths 4, 4
        // and 3, so the average is 11/3; "annual" df 1, "leave" df 2.
        let avg = 11.0 / 3.0;
        let norm = |len: f64| 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * len / avg));
        let idf = |df: f64| (1.0f64 + (3.0 - df + 0.5) / (df + 0.5)).ln();
        let want = idf(1.0) * norm(4.0) + idf(2.0) * norm(4.0);
        assert!((hits[0].1 - want).abs() < 1e-12, "{} vs {want}", hits[0].1);
    }

    #[test]
    fn removing_and_replacing_chunks_updates_the_statistics() {
        let mut index = Bm25::default();
        index.add(1, "remote work three days");
        index.add(2, "remote work two days");
        index.remove(1);
        assert_eq!(index.len(), 1);
        assert!(index.search("three", 5).is_empty());
        index.add(2, "remote work four days");
        assert_eq!(index.search("four", 5)[0].0, 2);
        assert!(index.search("two", 5).is_empty());
        let mut fresh = Bm25::default();
        fresh.add(2, "remote work four days");
        assert_eq!(
            index.search("remote days", 5),
            fresh.search("remote days", 5)
        );
    }
}
