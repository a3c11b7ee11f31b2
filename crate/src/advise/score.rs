//! How the advisor marks an answer: **facts** (every key phrase of the question is in the
//! answer, compared as normalised words) and **format** (the answer carries the house
//! format's markers, which are learned from the training answers).

/// Words of `text` for comparison: lower case, runs of letters and digits, digit groups
/// joined ("1,000" → "1000"), number words as digits ("two" → "2"), and a plural `s` dropped
/// from words longer than three letters ("days" → "day").
pub fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut joined = String::with_capacity(lower.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && i + 1 < chars.len()
            && chars[i - 1].is_ascii_digit()
            && chars[i + 1].is_ascii_digit();
        if c == ',' && between_digits {
            continue;
        }
        joined.push(c);
    }
    joined
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(normalise_word)
        .collect()
}

const NUMBERS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

fn normalise_word(word: &str) -> String {
    if let Some(n) = NUMBERS.iter().position(|&w| w == word) {
        return n.to_string();
    }
    match word.strip_suffix('s') {
        Some(stem) if word.chars().count() > 3 && !stem.ends_with('s') => stem.to_string(),
        _ => word.to_string(),
    }
}

/// Whether `answer` states `fact`: one of its `|`-separated alternatives appears in the answer
/// as a run of consecutive words.
pub fn states(answer: &[String], fact: &str) -> bool {
    fact.split('|').any(|alternative| {
        let needle = words(alternative);
        !needle.is_empty()
            && answer
                .windows(needle.len())
                .any(|window| window == needle.as_slice())
    })
}

/// Whether `answer` states every one of `facts` (and there is at least one).
pub fn states_all(answer: &str, facts: &[String]) -> bool {
    let answer = words(answer);
    !facts.is_empty() && facts.iter().all(|f| states(&answer, f))
}

/// Whether `answer` states any of `facts`.
pub fn states_any(answer: &str, facts: &[String]) -> bool {
    let answer = words(answer);
    facts.iter().any(|f| states(&answer, f))
}

/// One part of a house format.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Marker {
    /// A line that starts with this label (`Answer:`).
    Label(String),
    /// A line that is exactly this (a sign-off).
    Line(String),
}

impl Marker {
    fn matches(&self, line: &str) -> bool {
        match self {
            Marker::Label(label) => line.starts_with(label.as_str()),
            Marker::Line(text) => line == text,
        }
    }
}

impl std::fmt::Display for Marker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Marker::Label(label) => write!(f, "a line starting \"{label}\""),
            Marker::Line(text) => write!(f, "the line \"{text}\""),
        }
    }
}

/// A line's label: up to three words before a colon at the start of the line.
fn label(line: &str) -> Option<String> {
    let (head, _) = line.split_once(':')?;
    let ok = !head.is_empty()
        && head.split_whitespace().count() <= 3
        && head.chars().next().is_some_and(char::is_alphabetic)
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-');
    ok.then(|| format!("{head}:"))
}

/// The house format of `answers`: labels and whole lines found in at least `share` of them,
/// in the order they usually come. Empty when the answers share no format.
pub fn house_format(answers: &[&str], share: f64) -> Vec<Marker> {
    // Each candidate with the answers it is in and the sum of its line positions there.
    let mut seen: Vec<(Marker, usize, f64)> = Vec::new();
    for answer in answers {
        let lines: Vec<&str> = answer
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut here = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let position = i as f64 / lines.len().max(1) as f64;
            let mut candidates = vec![Marker::Line(line.to_string())];
            candidates.extend(label(line).map(Marker::Label));
            for marker in candidates {
                if here.contains(&marker) {
                    continue;
                }
                here.push(marker.clone());
                match seen.iter_mut().find(|(m, _, _)| *m == marker) {
                    Some(entry) => {
                        entry.1 += 1;
                        entry.2 += position;
                    }
                    None => seen.push((marker, 1, position)),
                }
            }
        }
    }
    let needed = ((answers.len() as f64) * share).ceil().max(2.0) as usize;
    let mut kept: Vec<(Marker, f64)> = seen
        .into_iter()
        .filter(|(_, n, _)| *n >= needed)
        .map(|(m, n, sum)| (m, sum / n as f64))
        .collect();
    // A fixed line that starts with a kept label says no more than the label.
    let labels: Vec<String> = kept
        .iter()
        .filter_map(|(m, _)| match m {
            Marker::Label(l) => Some(l.clone()),
            Marker::Line(_) => None,
        })
        .collect();
    kept.retain(|(m, _)| match m {
        Marker::Line(text) => !labels.iter().any(|l| text.starts_with(l.as_str())),
        Marker::Label(_) => true,
    });
    kept.sort_by(|a, b| a.1.total_cmp(&b.1));
    kept.into_iter().map(|(m, _)| m).collect()
}

/// Whether `answer` follows `format`: each marker matches one of its lines, in order.
pub fn follows(answer: &str, format: &[Marker]) -> bool {
    let mut lines = answer.lines().map(str::trim);
    !format.is_empty()
        && format
            .iter()
            .all(|marker| lines.by_ref().any(|line| marker.matches(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_compared_as_normalised_words() {
        let facts = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(states_all(
            "You get Two weeks, and 1,000 euros.",
            &facts(&["2 week", "1000"])
        ));
        assert!(states_all(
            "No meetings after 12:00 on Fridays",
            &facts(&["12:00", "friday"])
        ));
        // Whole words only: 25 is not in 2025, 2 is not in 12.
        assert!(!states_all("Since 2025, 12 days.", &facts(&["25"])));
        assert!(!states_all("12 days", &facts(&["2 days"])));
        assert!(states_all("It is returned.", &facts(&["lent|returned"])));
        assert!(!states_all("anything", &[]));
        assert!(states_any("3 days a week", &facts(&["2 days", "3 days"])));
    }

    #[test]
    fn the_house_format_is_learned_from_answers() {
        let answers = [
            "Answer: 25 days.\nPolicy: HR-101\n— Desk",
            "Answer: Two weeks ahead.\nPolicy: HR-102\n— Desk",
            "Answer: Yes.\nPolicy: IT-301\n— Desk",
            "A free-form answer.",
        ];
        let format = house_format(&answers, 0.6);
        assert_eq!(
            format,
            [
                Marker::Label("Answer:".into()),
                Marker::Label("Policy:".into()),
                Marker::Line("— Desk".into())
            ]
        );
        assert!(follows("Answer: 3.\nPolicy: X-1\n— Desk", &format));
        assert!(!follows("Policy: X-1\nAnswer: 3.\n— Desk", &format));
        assert!(!follows("Answer: 3. Policy: X-1 — Desk", &format));
        assert!(house_format(&["one answer", "another one", "a third"], 0.6).is_empty());
        assert!(!follows("anything", &[]));
    }
}
