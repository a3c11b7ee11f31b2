//! The advisor's results: the marks of every answer, a row per approach, the recommendation
//! that explains itself by the field's rules of thumb, and the table as Markdown.

use serde::{Deserialize, Serialize};

use super::score::Marker;

/// One of the approaches compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The model as it is.
    Base,
    /// The model with retrieved sources in the prompt.
    Rag,
    /// The model with a LoRA adapter trained on the labelled questions.
    Lora,
    /// A LoRA adapter trained on the labelled questions with their retrieved sources, answering
    /// with retrieval.
    LoraRag,
}

impl Arm {
    /// Every approach, in the table's order.
    pub const ALL: [Arm; 4] = [Arm::Base, Arm::Rag, Arm::Lora, Arm::LoraRag];

    /// Its name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Arm::Base => "base model",
            Arm::Rag => "RAG",
            Arm::Lora => "LoRA",
            Arm::LoraRag => "LoRA + RAG",
        }
    }

    /// Whether it answers with retrieved sources.
    pub fn retrieves(self) -> bool {
        matches!(self, Arm::Rag | Arm::LoraRag)
    }

    /// Whether it trains an adapter.
    pub fn fine_tunes(self) -> bool {
        matches!(self, Arm::Lora | Arm::LoraRag)
    }
}

/// Which questions an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Set {
    /// Questions no approach trained on, asked of the documents as first indexed.
    HeldOut,
    /// Questions whose answers the documents' change altered, asked after it.
    Changed,
}

impl Set {
    /// Its name in progress messages.
    pub fn label(self) -> &'static str {
        match self {
            Set::HeldOut => "held-out",
            Set::Changed => "changed",
        }
    }
}

/// One answer and its marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marked {
    /// Who answered.
    pub arm: Arm,
    /// Which questions.
    pub set: Set,
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// Whether it states every key fact.
    pub facts_stated: bool,
    /// Whether it states a fact the change made stale.
    pub stale: bool,
    /// Whether it follows the house format.
    pub format_followed: bool,
    /// Seconds from question to the whole answer (retrieval included).
    pub seconds: f64,
    /// The prompt's length in tokens.
    pub prompt_tokens: usize,
}

/// How an approach takes in a changed document.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Absorb {
    /// Re-indexing the changed documents (measured).
    Reindex {
        /// Documents re-indexed.
        documents: usize,
        /// Seconds it took.
        seconds: f64,
    },
    /// Training again on answers rewritten for the change: as long as its training took.
    Retrain {
        /// Seconds its training took.
        seconds: f64,
    },
    /// It cannot: it knows only what it was pre-trained on.
    Never,
}

impl Absorb {
    fn describe(&self) -> String {
        match self {
            Absorb::Reindex { documents, seconds } => {
                format!("{seconds:.1} s (re-index {documents} document(s))")
            }
            Absorb::Retrain { seconds } => {
                format!("{seconds:.0} s of training, after rewriting the answers")
            }
            Absorb::Never => "never".into(),
        }
    }
}

/// One approach's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmReport {
    /// The approach.
    pub arm: Arm,
    /// Share of held-out answers in the house format (`None`: the data has none).
    pub format: Option<f64>,
    /// Share of held-out answers that state their facts.
    pub facts: f64,
    /// Share of the changed questions' answers that state the new facts.
    pub changed_facts: f64,
    /// Share of the changed questions' answers that state an old fact.
    pub stale: f64,
    /// Mean seconds per answer.
    pub seconds_per_answer: f64,
    /// Mean prompt length in tokens.
    pub prompt_tokens: f64,
    /// Bytes it keeps loaded: the model, an adapter, the encoder and the index.
    pub memory_bytes: u64,
    /// Seconds its adapter trained, if it has one.
    pub training_seconds: Option<f64>,
    /// How it takes in the change.
    pub absorb: Absorb,
}

fn share(marked: &[&Marked], f: impl Fn(&Marked) -> bool) -> f64 {
    match marked.len() {
        0 => 0.0,
        n => marked.iter().filter(|m| f(m)).count() as f64 / n as f64,
    }
}

impl ArmReport {
    /// The row for `arm` from its answers.
    pub fn new(
        arm: Arm,
        marked: &[Marked],
        has_format: bool,
        memory_bytes: u64,
        training_seconds: Option<f64>,
        absorb: Absorb,
    ) -> Self {
        let held: Vec<&Marked> = marked.iter().filter(|m| m.set == Set::HeldOut).collect();
        let changed: Vec<&Marked> = marked.iter().filter(|m| m.set == Set::Changed).collect();
        let all: Vec<&Marked> = marked.iter().collect();
        Self {
            arm,
            format: has_format.then(|| share(&held, |m| m.format_followed)),
            facts: share(&held, |m| m.facts_stated),
            changed_facts: share(&changed, |m| m.facts_stated),
            stale: share(&changed, |m| m.stale),
            seconds_per_answer: all.iter().map(|m| m.seconds).sum::<f64>()
                / all.len().max(1) as f64,
            prompt_tokens: all.iter().map(|m| m.prompt_tokens as f64).sum::<f64>()
                / all.len().max(1) as f64,
            memory_bytes,
            training_seconds,
            absorb,
        }
    }
}

/// The advice, with the reasons behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The approach to use.
    pub choice: Arm,
    /// Why, each with the numbers it rests on.
    pub reasons: Vec<String>,
}

/// Everything the advisor found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Labelled examples the adapters trained on.
    pub training_examples: usize,
    /// Generated examples they trained on beside them.
    #[serde(default)]
    pub generated_examples: usize,
    /// Questions no approach trained on.
    pub held_out_questions: usize,
    /// Questions asked after the change.
    pub changed_questions: usize,
    /// The documents that changed.
    pub changed_documents: Vec<String>,
    /// The house format learned from the training answers (empty: none).
    pub format: Vec<Marker>,
    /// A row per approach.
    pub arms: Vec<ArmReport>,
    /// What to do.
    pub recommendation: Recommendation,
    /// Every answer with its marks.
    pub answers: Vec<Marked>,
}

/// Points a measured gain must reach to count (a tenth of the questions).
const MATTERS: f64 = 0.1;
/// Fewer labelled examples than this is "little labelled data".
const LITTLE_DATA: usize = 1000;

fn row(arms: &[ArmReport], arm: Arm) -> Option<&ArmReport> {
    arms.iter().find(|a| a.arm == arm)
}

/// The mean gain of `on` over `off` for `metric`, over the pairs of rows both present.
fn gain(arms: &[ArmReport], pairs: [(Arm, Arm); 2], metric: impl Fn(&ArmReport) -> f64) -> f64 {
    let gains: Vec<f64> = pairs
        .iter()
        .filter_map(|&(on, off)| Some(metric(row(arms, on)?) - metric(row(arms, off)?)))
        .collect();
    gains.iter().sum::<f64>() / gains.len().max(1) as f64
}

fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

/// The recommendation from the rows: retrieval where it answers changed or unseen facts,
/// fine-tuning where it brings the house format, and the labelled data's size.
pub fn recommend(
    arms: &[ArmReport],
    training_examples: usize,
    format: &[Marker],
) -> Recommendation {
    let retrieval = [(Arm::Rag, Arm::Base), (Arm::LoraRag, Arm::Lora)];
    let tuning = [(Arm::Lora, Arm::Base), (Arm::LoraRag, Arm::Rag)];
    let changed_gain = gain(arms, retrieval, |a| a.changed_facts);
    let facts_gain = gain(arms, retrieval, |a| a.facts);
    let format_gain = gain(arms, tuning, |a| a.format.unwrap_or(0.0));
    let mut reasons = Vec::new();
    let use_rag = changed_gain >= MATTERS || facts_gain >= MATTERS;
    let reindex = arms.iter().find_map(|a| match a.absorb {
        Absorb::Reindex { seconds, .. } => Some(seconds),
        _ => None,
    });
    let retrain = row(arms, Arm::Lora).and_then(|a| a.training_seconds);
    let stale = row(arms, Arm::Lora).map_or(0.0, |a| a.stale);
    reasons.push(format!(
        "Facts that change → RAG. After the documents changed, retrieval raised the share of \
         answers stating the new facts by {} points{}; it took the change in by re-indexing \
         ({:.1} s), while the fine-tune alone {} and would need rewritten answers and another \
         {:.0} s of training.{}",
        (100.0 * changed_gain).round(),
        best_of(arms, |a| a.changed_facts),
        reindex.unwrap_or(0.0),
        match stale > 0.0 {
            true => format!("repeated the old facts in {} of its answers", pct(stale)),
            false => "did not state the new facts".to_string(),
        },
        retrain.unwrap_or(0.0),
        match changed_gain >= MATTERS {
            true => "",
            false => " Here the gain is too small to count.",
        }
    ));
    reasons.push(format!(
        "Facts that only the documents hold: retrieval changed the share of held-out questions \
         answered with their facts by {} points{}.",
        (100.0 * facts_gain).round(),
        best_of(arms, |a| a.facts)
    ));
    let use_tune = !format.is_empty() && format_gain >= MATTERS;
    match format.is_empty() {
        true => reasons.push(
            "Style or behaviour → fine-tune: the training answers share no fixed format, so \
             the advisor measured none; fine-tune when answers must follow a style the \
             documents do not show."
                .into(),
        ),
        false => reasons.push(format!(
            "Style or behaviour → fine-tune. The house format ({}) was followed {} points more \
             often with the adapter than without{}; sources in the prompt do not teach a format.",
            format
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            (100.0 * format_gain).round(),
            best_of(arms, |a| a.format.unwrap_or(0.0)),
        )),
    }
    if training_examples < LITTLE_DATA {
        reasons.push(format!(
            "Little labelled data → RAG for the facts: {training_examples} examples (under \
             {LITTLE_DATA}) are enough to teach a format, not to make a model know a document \
             set; keep facts in the index{}.",
            match use_tune {
                true => " and use the adapter for the format",
                false => "",
            }
        ));
    }
    let choice = match (use_rag, use_tune) {
        (true, true) => Arm::LoraRag,
        (true, false) => Arm::Rag,
        (false, true) => Arm::Lora,
        (false, false) => Arm::Base,
    };
    reasons.push(format!(
        "So: {}.",
        match choice {
            Arm::LoraRag => "fine-tune for the format and retrieve for the facts (LoRA + RAG)",
            Arm::Rag => "retrieve (RAG); fine-tuning did not measurably help here",
            Arm::Lora => "fine-tune (LoRA); retrieval did not measurably help here",
            Arm::Base => "neither approach measurably helped on these questions",
        }
    ));
    Recommendation { choice, reasons }
}

/// " (best: NAME, X %)" for the row with the highest `metric`; nothing when no row scored.
fn best_of(arms: &[ArmReport], metric: impl Fn(&ArmReport) -> f64) -> String {
    arms.iter()
        .max_by(|a, b| metric(a).total_cmp(&metric(b)))
        .filter(|a| metric(a) > 0.0)
        .map_or(String::new(), |a| {
            format!(" (best: {}, {})", a.arm.label(), pct(metric(a)))
        })
}

impl Report {
    /// The table and the recommendation as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "{} training examples{}; {} held-out questions; {} questions after the change to \
             {}.\n\n\
             | approach | house format | facts (held-out) | changed facts | stale facts | \
             s / answer | prompt tokens | memory | time to absorb the change |\n\
             |---|---|---|---|---|---|---|---|---|\n",
            self.training_examples,
            match self.generated_examples {
                0 => String::new(),
                n => format!(" (+ {n} generated)"),
            },
            self.held_out_questions,
            self.changed_questions,
            match self.changed_documents.is_empty() {
                true => "no document".to_string(),
                false => self.changed_documents.join(", "),
            }
        );
        for a in &self.arms {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.0} MiB | {} |\n",
                a.arm.label(),
                a.format.map_or("n/a".into(), pct),
                pct(a.facts),
                pct(a.changed_facts),
                pct(a.stale),
                a.seconds_per_answer,
                a.prompt_tokens,
                a.memory_bytes as f64 / (1u64 << 20) as f64,
                a.absorb.describe(),
            ));
        }
        out.push_str(&format!(
            "\n**Recommendation: {}.**\n\n",
            self.recommendation.choice.label()
        ));
        for reason in &self.recommendation.reasons {
            out.push_str(&format!("- {reason}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(arm: Arm, format: f64, facts: f64, changed: f64, stale: f64) -> ArmReport {
        ArmReport {
            arm,
            format: Some(format),
            facts,
            changed_facts: changed,
            stale,
            seconds_per_answer: 1.0,
            prompt_tokens: 100.0,
            memory_bytes: 1 << 20,
            training_seconds: arm.fine_tunes().then_some(60.0),
            absorb: match arm {
                Arm::Rag | Arm::LoraRag => Absorb::Reindex {
                    documents: 1,
                    seconds: 0.5,
                },
                Arm::Lora => Absorb::Retrain { seconds: 60.0 },
                Arm::Base => Absorb::Never,
            },
        }
    }

    #[test]
    fn the_recommendation_follows_the_measurements() {
        let format = [Marker::Label("Answer:".into())];
        let both = [
            arm(Arm::Base, 0.0, 0.1, 0.0, 0.0),
            arm(Arm::Rag, 0.0, 0.4, 0.5, 0.0),
            arm(Arm::Lora, 0.9, 0.1, 0.0, 0.7),
            arm(Arm::LoraRag, 0.9, 0.6, 0.8, 0.1),
        ];
        let advice = recommend(&both, 40, &format);
        assert_eq!(advice.choice, Arm::LoraRag);
        assert!(advice.reasons[0].contains("65 points") && advice.reasons[0].contains("70 %"));
        assert!(advice.reasons.iter().any(|r| r.contains("40 examples")));
        // No format in the data: retrieval alone.
        assert_eq!(recommend(&both, 40, &[]).choice, Arm::Rag);
        // Retrieval that does not help: fine-tune alone.
        let flat = [
            arm(Arm::Base, 0.0, 0.1, 0.0, 0.0),
            arm(Arm::Rag, 0.0, 0.1, 0.0, 0.0),
            arm(Arm::Lora, 0.9, 0.1, 0.0, 0.0),
            arm(Arm::LoraRag, 0.9, 0.1, 0.05, 0.0),
        ];
        assert_eq!(recommend(&flat, 40, &format).choice, Arm::Lora);
        let report = Report {
            training_examples: 40,
            generated_examples: 0,
            held_out_questions: 18,
            changed_questions: 6,
            changed_documents: vec!["hr-work.md".into()],
            format: format.to_vec(),
            arms: both.to_vec(),
            recommendation: advice,
            answers: Vec::new(),
        };
        let md = report.markdown();
        assert!(md.contains("| LoRA + RAG | 90 % | 60 % | 80 % | 10 % | 1.00 | 100 | 1 MiB |"));
        assert!(md.contains("**Recommendation: LoRA + RAG.**"));
    }
}
