//! `Session::search_settings`: successive halving over learning rate × rank on the loaded dataset
//! (see [`crate::train::search`]). Every candidate runs on the schedule of the longest run, so
//! that a candidate that goes on continues its own trajectory from its checkpoint, and the
//! last one standing is the full run with the chosen setting: its adapter is the result.

use serde::{Deserialize, Serialize};

use super::{Session, no_data, no_model};
use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::platform::seconds_now;
use crate::train::search::{Rung, SearchConfig, Trial, survivors};
use crate::train::{
    Checkpoint, Event, Method, TrainConfig, fine_tune, planned_steps, prepare_model,
};

/// What a search reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "search", rename_all = "snake_case")]
pub enum SearchEvent {
    /// Before the first trial: the candidates that fit and the rungs.
    Started {
        /// Candidates that fit the memory plan.
        candidates: usize,
        /// The rungs of successive halving.
        rungs: Vec<Rung>,
    },
    /// A training event of one candidate's run.
    Run {
        /// The candidate.
        candidate: usize,
        /// The rung.
        rung: usize,
        /// What its run reported.
        event: Event,
    },
    /// A candidate finished a rung.
    Trial {
        /// Its result.
        trial: Trial,
    },
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// Every candidate's result at every rung it reached, in order.
    pub trials: Vec<Trial>,
    /// The rungs.
    pub rungs: Vec<Rung>,
    /// Settings left out because their memory plan does not fit, with why.
    pub skipped: Vec<String>,
    /// The chosen setting: the last one standing (its run is the open model's adapter now).
    pub best: TrainConfig,
    /// Optimizer steps taken by all trials together.
    pub steps: usize,
    /// Whether the caller stopped the search: `best` is then the lowest validation loss so
    /// far, and the open model's adapter is the last trial's, not necessarily its.
    pub stopped: bool,
}

impl Session {
    /// Searches `search`'s learning rates × ranks around `base` on the loaded dataset by
    /// successive halving within `search.budget_steps`, leaving the open model with the chosen
    /// setting's adapter, trained as long as the budget allows. Candidates whose memory plan
    /// does not fit `budget` are left out and named. `on_event` returning [`Flow::Stop`] ends
    /// the search after the current step.
    pub async fn search_settings(
        &mut self,
        base: TrainConfig,
        search: &SearchConfig,
        budget: Option<u64>,
        mut on_event: impl FnMut(&SearchEvent) -> Flow,
    ) -> Result<SearchReport> {
        let mut base = self.on_loaded_data(base)?;
        base.validate()?;
        if base.method != Method::Lora {
            return Err(Error::Setting {
                setting: "method".into(),
                problem: "is not lora: the search tries LoRA ranks".into(),
            });
        }
        let (mut candidates, mut skipped) = (Vec::new(), Vec::new());
        for config in search.candidates(&base) {
            let plan = self.plan(&config, budget)?;
            match plan.fits {
                true => candidates.push(config),
                false => skipped.push(format!(
                    "lr {} rank {}: {}",
                    config.optimizer.lr,
                    config.lora.r,
                    plan.problems.join("; ")
                )),
            }
        }
        if candidates.is_empty() {
            return Err(Error::Setting {
                setting: "search".into(),
                problem: format!(
                    "has no setting that fits the memory: {}",
                    skipped.join("; ")
                ),
            });
        }
        let rungs = search.rungs(candidates.len())?;
        let last = rungs.last().map_or(1, |r| r.steps);
        // Every candidate on the longest run's schedule, evaluated only where it stops.
        let (data, _) = self.data.as_ref().ok_or_else(no_data)?;
        base.max_steps = None;
        base.epochs = 1;
        let per_epoch = planned_steps(data, &base).max(1);
        for config in &mut candidates {
            config.max_steps = Some(last);
            config.epochs = last.div_ceil(per_epoch);
            config.eval_every = 0;
            config.early_stopping_patience = None;
            config.checkpoint_every = 0;
        }
        on_event(&SearchEvent::Started {
            candidates: candidates.len(),
            rungs: rungs.clone(),
        });
        let device = self.device.autodiff();
        let open = self.model.as_mut().ok_or_else(no_model)?;
        let mut saved: Vec<Option<Checkpoint>> = vec![None; candidates.len()];
        let mut alive: Vec<usize> = (0..candidates.len()).collect();
        let (mut trials, mut steps, mut stopped) = (Vec::new(), 0, false);
        'rungs: for (k, rung) in rungs.iter().enumerate() {
            let mut this_rung = Vec::new();
            for &c in &alive {
                let config = &candidates[c];
                let start = seconds_now();
                let from = saved[c]
                    .as_ref()
                    .map_or(Ok(0), |s| s.state().map(|s| s.step))?;
                prepare_model(&mut open.loaded.model, config, &device)?;
                let mut taken = None;
                let log = fine_tune(
                    &mut open.loaded.model,
                    data,
                    config,
                    &device,
                    saved[c].as_ref(),
                    |event| {
                        let flow = on_event(&SearchEvent::Run {
                            candidate: c,
                            rung: k,
                            event: event.clone(),
                        });
                        stopped |= flow == Flow::Stop;
                        match event {
                            _ if stopped => Flow::Stop,
                            Event::Step { report, .. } if report.step + 1 >= rung.steps => {
                                Flow::Stop
                            }
                            _ => Flow::Continue,
                        }
                    },
                    |checkpoint| {
                        taken = Some(checkpoint);
                        Ok(())
                    },
                )
                .await?;
                saved[c] = taken;
                let reached = log.iter().rev().find_map(|e| match e {
                    Event::Finished { steps, .. } => Some(*steps),
                    _ => None,
                });
                let trial = Trial {
                    candidate: c,
                    lr: config.optimizer.lr,
                    rank: config.lora.r,
                    rung: k,
                    steps: reached.unwrap_or(rung.steps),
                    validation_loss: log.iter().rev().find_map(|e| match e {
                        Event::Eval {
                            validation_loss, ..
                        } => Some(*validation_loss),
                        _ => None,
                    }),
                    seconds: seconds_now() - start,
                };
                steps += trial.steps - from;
                on_event(&SearchEvent::Trial {
                    trial: trial.clone(),
                });
                this_rung.push(trial);
                if stopped {
                    trials.extend(this_rung);
                    break 'rungs;
                }
            }
            let keep = rungs.get(k + 1).map_or(1, |r| r.candidates);
            alive = survivors(&this_rung, keep);
            trials.extend(this_rung);
        }
        // The last rung ran one candidate: the open model holds its adapter. A stopped search
        // names the best so far.
        let best = match stopped {
            true => survivors(&trials, 1).first().copied(),
            false => alive.first().copied(),
        };
        let best = candidates[best.unwrap_or(0)].clone();
        self.config = Some(best.clone());
        Ok(SearchReport {
            trials,
            rungs,
            skipped,
            best,
            steps,
            stopped,
        })
    }
}
