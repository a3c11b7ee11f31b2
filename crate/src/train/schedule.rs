//! Learning-rate schedules with linear warmup, as transformers' `get_*_schedule_with_warmup`
//! define them (the factor applied at optimizer step `k`, counted from 0).

use serde::{Deserialize, Serialize};

/// The shape of the schedule after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Constant after warmup.
    Constant,
    /// Linear decay to 0 at the last step.
    Linear,
    /// Half a cosine down to 0 at the last step.
    Cosine,
}

/// A learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its shape after warmup.
    pub kind: ScheduleKind,
    /// Steps of linear warmup from 0.
    pub warmup_steps: usize,
    /// Total optimizer steps.
    pub total_steps: usize,
}

impl Schedule {
    /// The factor on the base learning rate at step `step` (0-based).
    pub fn factor(&self, step: usize) -> f64 {
        let (step, warmup, total) = (
            step as f64,
            self.warmup_steps as f64,
            self.total_steps as f64,
        );
        if step < warmup {
            return step / warmup.max(1.0);
        }
        match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Linear => ((total - step) / (total - warmup).max(1.0)).max(0.0),
            ScheduleKind::Cosine => {
                let progress = (step - warmup) / (total - warmup).max(1.0);
                (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay_like_transformers() {
        let cosine = Schedule {
            kind: ScheduleKind::Cosine,
            warmup_steps: 3,
            total_steps: 20,
        };
        assert_eq!(cosine.factor(0), 0.0);
        assert!((cosine.factor(2) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(cosine.factor(3), 1.0);
        assert!(cosine.factor(20).abs() < 1e-12);
        let linear = Schedule {
            kind: ScheduleKind::Linear,
            ..cosine
        };
        assert!((linear.factor(11) - 9.0 / 17.0).abs() < 1e-12);
    }
}
