//! The checks a generated pair must pass. Words are compared as terms (lower case, stop words
//! dropped, lightly stemmed: [`crate::rag::bm25::terms`]).
//!
//! - a question: a line ending in its only `?`, of 3 to 40 words, with at least one term
//!   from its passage;
//! - an answer: not a refusal, with at least `min_overlap` of its terms in the passage, and at
//!   least one passage term that the question does not already hold (not the question
//!   restated);
//! - no repeats: a question whose terms overlap a kept one's by `repeat_similarity`
//!   (Jaccard) or more is dropped.

use std::collections::HashSet;

use serde::Serialize;

use crate::rag::bm25::terms;

/// Why a generated pair was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dropped {
    /// The passage and the request do not fit the model's context.
    TooLong,
    /// The line is not a question (no `?`, too short or too long).
    NotAQuestion,
    /// The question shares no term with its passage.
    OffPassage,
    /// The question repeats one already kept.
    Repeat,
    /// The answer is empty or a refusal.
    NoAnswer,
    /// Too few of the answer's terms are in the passage.
    Ungrounded,
    /// The answer adds nothing from the passage to the question.
    Restates,
}

impl Dropped {
    /// Every reason, in report order.
    pub const ALL: [Dropped; 7] = [
        Self::TooLong,
        Self::NotAQuestion,
        Self::OffPassage,
        Self::Repeat,
        Self::NoAnswer,
        Self::Ungrounded,
        Self::Restates,
    ];

    /// The reason in words.
    pub fn label(self) -> &'static str {
        match self {
            Self::TooLong => "passage too long for the model",
            Self::NotAQuestion => "not a question",
            Self::OffPassage => "not about the passage",
            Self::Repeat => "repeats a kept question",
            Self::NoAnswer => "no answer",
            Self::Ungrounded => "answer not grounded in the passage",
            Self::Restates => "answer restates the question",
        }
    }
}

/// The lines of the model's text that could be questions, with list markers (`1.`, `-`,
/// `Q:`, `Question 2:`) and quotes taken off.
pub fn question_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(strip_marker)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn strip_marker(line: &str) -> &str {
    // Markers come nested ("- 2. Q: …"): strip until nothing changes.
    let mut s = line.trim();
    loop {
        let next = strip_once(s);
        if next == s {
            return s;
        }
        s = next;
    }
}

fn strip_once(line: &str) -> &str {
    let mut s = line.trim();
    for prefix in ["Question", "question", "Q:", "Q.", "Q "] {
        if let Some(rest) = s.strip_prefix(prefix) {
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            if let Some(rest) = rest.strip_prefix(':').or(rest.strip_prefix('.')) {
                s = rest.trim();
            } else if prefix.ends_with([':', '.']) {
                s = rest.trim();
            }
            break;
        }
    }
    let digits = s.trim_start_matches(|c: char| c.is_ascii_digit());
    if digits.len() < s.len()
        && let Some(rest) = digits.strip_prefix(['.', ')'])
    {
        s = rest.trim();
    }
    s = s.trim_start_matches(['-', '*', '•']).trim();
    s.trim_matches(['"', '“', '”', '*']).trim()
}

/// Checks a candidate question against its passage.
pub fn question(line: &str, passage: &str) -> Result<(), Dropped> {
    let words = line.split_whitespace().count();
    let one = line.matches('?').count() == 1;
    if !line.ends_with('?') || !one || !(3..=40).contains(&words) {
        return Err(Dropped::NotAQuestion);
    }
    let passage: HashSet<String> = terms(passage).into_iter().collect();
    if !content(line).iter().any(|t| passage.contains(t)) {
        return Err(Dropped::OffPassage);
    }
    Ok(())
}

/// The answer's first line, cut after its second sentence, trimmed.
pub fn first_sentences(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    let mut ends = 0;
    for (i, c) in line.char_indices() {
        let next = line[i + c.len_utf8()..].chars().next();
        if matches!(c, '.' | '!' | '?') && next.is_none_or(char::is_whitespace) {
            ends += 1;
            if ends == 2 {
                return line[..i + c.len_utf8()].to_string();
            }
        }
    }
    line.to_string()
}

/// Words that carry no content of their own (pronouns, question words, auxiliaries), left
/// out of the comparisons beside the stop words.
const FUNCTION_WORDS: [&str; 34] = [
    "i", "me", "my", "you", "your", "we", "our", "us", "he", "she", "his", "her", "can", "could",
    "may", "might", "must", "should", "would", "do", "doe", "did", "have", "has", "had", "how",
    "what", "which", "who", "when", "where", "why", "many", "much",
];

/// The content terms of `text`.
fn content(text: &str) -> Vec<String> {
    terms(text)
        .into_iter()
        .filter(|t| !FUNCTION_WORDS.contains(&t.as_str()))
        .collect()
}

/// Openings of answers that decline or talk about the model rather than the passage.
const REFUSALS: [&str; 6] = [
    "i'm sorry",
    "i am sorry",
    "as an ai",
    "as a chatbot",
    "i cannot",
    "i can't",
];

/// Checks an answer to `question` against its passage; returns the share of its terms found
/// in the passage.
pub fn answer(
    answer: &str,
    question: &str,
    passage: &str,
    min_overlap: f64,
) -> Result<f64, Dropped> {
    let lower = answer.to_lowercase();
    if answer.trim().is_empty() || REFUSALS.iter().any(|r| lower.contains(r)) {
        return Err(Dropped::NoAnswer);
    }
    let passage: HashSet<String> = terms(passage).into_iter().collect();
    let said = content(answer);
    if said.is_empty() {
        return Err(Dropped::NoAnswer);
    }
    let found = said.iter().filter(|t| passage.contains(*t)).count();
    let overlap = found as f64 / said.len() as f64;
    if overlap < min_overlap {
        return Err(Dropped::Ungrounded);
    }
    let asked: HashSet<String> = content(question).into_iter().collect();
    if !said
        .iter()
        .any(|t| passage.contains(t) && !asked.contains(t))
    {
        return Err(Dropped::Restates);
    }
    Ok(overlap)
}

/// The questions kept so far, to find repeats.
pub struct Seen {
    sets: Vec<HashSet<String>>,
    similarity: f64,
}

impl Seen {
    /// None kept yet; `similarity` is the Jaccard overlap at which a question repeats.
    pub fn new(similarity: f64) -> Self {
        Self {
            sets: Vec::new(),
            similarity,
        }
    }

    /// Whether `question` repeats a kept one.
    pub fn repeats(&self, question: &str) -> bool {
        let set: HashSet<String> = content(question).into_iter().collect();
        self.sets.iter().any(|kept| {
            let both = kept.intersection(&set).count() as f64;
            let either = kept.union(&set).count().max(1) as f64;
            both / either >= self.similarity
        })
    }

    /// Keeps `question`.
    pub fn add(&mut self, question: &str) {
        self.sets.push(content(question).into_iter().collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSAGE: &str = "You may work from home up to 3 days a week, agreed with your lead. \
        Working from another country needs approval from People Operations and is limited to \
        20 working days a year.";

    #[test]
    fn list_markers_are_taken_off_question_lines() {
        let text = "1. How many days can I work from home?\n2) Who approves work abroad?\n\
                    - What is the limit?\nQ: Is it agreed with my lead?\nQuestion 3: Why?\n\n\
                    \"Can I work abroad?\"\nQ: 2.   \"Is a VPN needed?\n- 3) Who pays?";
        assert_eq!(
            question_lines(text),
            [
                "How many days can I work from home?",
                "Who approves work abroad?",
                "What is the limit?",
                "Is it agreed with my lead?",
                "Why?",
                "Can I work abroad?",
                "Is a VPN needed?",
                "Who pays?",
            ]
        );
    }

    #[test]
    fn questions_must_be_questions_about_the_passage() {
        assert_eq!(
            question("How many days can I work from home?", PASSAGE),
            Ok(())
        );
        assert_eq!(
            question("Working from home is allowed.", PASSAGE),
            Err(Dropped::NotAQuestion)
        );
        assert_eq!(question("Why?", PASSAGE), Err(Dropped::NotAQuestion));
        assert_eq!(
            question("Can I work from home? 2. Who approves it?", PASSAGE),
            Err(Dropped::NotAQuestion)
        );
        assert_eq!(
            question("What is the capital of France?", PASSAGE),
            Err(Dropped::OffPassage)
        );
    }

    #[test]
    fn answers_must_be_grounded_and_add_something() {
        let q = "How many days a week can I work from home?";
        let overlap = answer(
            "You can work from home up to 3 days a week.",
            q,
            PASSAGE,
            0.75,
        )
        .expect("grounded");
        assert!(overlap > 0.99, "{overlap}");
        assert_eq!(
            answer(
                "The policy ensures a healthy work-life balance for employees.",
                q,
                PASSAGE,
                0.75
            ),
            Err(Dropped::Ungrounded)
        );
        assert_eq!(
            answer("I'm sorry, as a chatbot I cannot say.", q, PASSAGE, 0.75),
            Err(Dropped::NoAnswer)
        );
        assert_eq!(
            answer("You can work from home.", q, PASSAGE, 0.75),
            Err(Dropped::Restates)
        );
    }

    #[test]
    fn answers_are_cut_to_two_sentences_of_the_first_line() {
        assert_eq!(
            first_sentences(" Up to 3 days. Agree them. Then more.\nNext line"),
            "Up to 3 days. Agree them."
        );
        assert_eq!(
            first_sentences("It costs 3.50 euros"),
            "It costs 3.50 euros"
        );
    }

    #[test]
    fn near_repeats_are_found() {
        let mut seen = Seen::new(0.7);
        seen.add("How many days a week can I work from home?");
        assert!(seen.repeats("How many days per week can I work from home?"));
        assert!(!seen.repeats("Who approves working from another country?"));
    }
}
