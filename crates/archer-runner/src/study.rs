use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use archer_core::{metric, History, Metrics, Trial, TrialCtx, TrialState};
use archer_rng::Rng;
use archer_strategy::{Strategy, StrategyError};
use chrono::Utc;
use serde::Serialize;

use crate::{Experiment, Recorder, RunError};

/// Why a study ended normally.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    TrialBudget,
    SimBudget,
    WallBudget,
    /// The strategy found nothing new to evaluate.
    Exhausted {
        detail: String,
    },
    TooManyFailures {
        count: u64,
        last_error: String,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::TrialBudget => write!(f, "trial budget reached"),
            StopReason::SimBudget => write!(f, "simulated-time budget reached"),
            StopReason::WallBudget => write!(f, "wall-clock budget reached"),
            StopReason::Exhausted { detail } => write!(f, "{detail}"),
            StopReason::TooManyFailures { count, last_error } => {
                write!(
                    f,
                    "{count} trials failed in a row; last error: {last_error}"
                )
            }
        }
    }
}

/// The incumbent (best trial by the objective) after each finished trial.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrajectoryPoint {
    /// Finished trials so far.
    pub trials: u64,
    pub sim_seconds: f64,
    pub incumbent: u64,
    pub incumbent_metrics: Metrics,
}

/// What a study did.
#[derive(Clone, Debug, Serialize)]
pub struct StudySummary {
    pub name: String,
    pub seed: u64,
    pub strategy: String,
    pub stop: StopReason,
    pub trials: u64,
    pub complete: u64,
    pub failed: u64,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub best: Option<Trial>,
    #[serde(skip)]
    pub trajectory: Vec<TrajectoryPoint>,
}

/// Something worth showing while a study runs.
pub enum Event<'a> {
    TrialFinished {
        trial: &'a Trial,
        /// The trial is the new incumbent.
        new_best: bool,
        sim_seconds: f64,
        trials: u64,
    },
}

/// Owns the search loop: asks the strategy, evaluates, records, tells, enforces the budget.
///
/// Evaluation happens between two `record` calls, so swapping the recorder for a durable
/// store (or evaluation for a worker pool) does not change the loop's shape.
pub struct Study {
    experiment: Experiment,
    strategy: Box<dyn Strategy>,
    history: History,
    sim_seconds: f64,
    consecutive_failures: u64,
    trajectory: Vec<TrajectoryPoint>,
}

/// Seed stream for per-trial evaluator seeds, apart from the strategy's.
const EVAL_STREAM: u64 = 0x4556_414c; // "EVAL"

impl Study {
    pub fn new(experiment: Experiment) -> Result<Self, RunError> {
        let c = &experiment.config;
        let strategy = c
            .strategy
            .build(experiment.space.clone(), c.study.seed, c.study.deduplicate)
            .map_err(crate::ConfigError::from)?;
        Ok(Study {
            experiment,
            strategy,
            history: History::new(),
            sim_seconds: 0.0,
            consecutive_failures: 0,
            trajectory: Vec::new(),
        })
    }

    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn strategy_state(&self) -> serde_json::Value {
        self.strategy.state()
    }

    fn budget_reached(&self, started: Instant) -> Option<StopReason> {
        let b = &self.experiment.config.budget;
        if b.trials.is_some_and(|t| self.history.len() as u64 >= t) {
            return Some(StopReason::TrialBudget);
        }
        if b.sim_seconds.is_some_and(|s| self.sim_seconds >= s) {
            return Some(StopReason::SimBudget);
        }
        if b.wall_seconds
            .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
        {
            return Some(StopReason::WallBudget);
        }
        None
    }

    /// Runs until a budget is reached or the strategy is exhausted.
    pub fn run(
        &mut self,
        recorder: &mut dyn Recorder,
        observer: &mut dyn FnMut(Event),
    ) -> Result<StudySummary, RunError> {
        let started = Instant::now();
        recorder.begin(&self.experiment)?;
        let stop = loop {
            if let Some(reason) = self.budget_reached(started) {
                break reason;
            }
            let max_failures = self.experiment.config.study.max_consecutive_failures;
            if self.consecutive_failures >= max_failures {
                let last_error = self
                    .history
                    .trials()
                    .last()
                    .and_then(|t| t.error.clone())
                    .unwrap_or_default();
                break StopReason::TooManyFailures {
                    count: self.consecutive_failures,
                    last_error,
                };
            }
            let proposal = match self.strategy.ask(&self.history) {
                Ok(p) => p,
                Err(StrategyError::Exhausted(detail)) => break StopReason::Exhausted { detail },
                Err(e) => return Err(e.into()),
            };
            let hash = self.experiment.space.canonical_hash(&proposal.arch);
            let mut trial = Trial::new(
                self.history.next_id(),
                proposal.arch,
                hash,
                proposal.fidelity,
            );
            trial.state = TrialState::Running;
            trial.worker = Some("local".into());
            trial.started_at = Some(Utc::now());
            self.history.record(trial.clone());
            recorder.trial(&trial)?;

            self.evaluate(&mut trial);
            self.sim_seconds += trial.cost_seconds;
            self.history.record(trial.clone());
            recorder.trial(&trial)?;
            self.strategy.tell(&trial);

            let new_best = trial.state == TrialState::Complete
                && self.history.best().map(|b| b.id) == Some(trial.id);
            if let Some(best) = self.history.best() {
                self.trajectory.push(TrajectoryPoint {
                    trials: self.history.len() as u64,
                    sim_seconds: self.sim_seconds,
                    incumbent: best.id,
                    incumbent_metrics: best.metrics.clone(),
                });
            }
            observer(Event::TrialFinished {
                trial: &trial,
                new_best,
                sim_seconds: self.sim_seconds,
                trials: self.history.len() as u64,
            });
        };
        let summary = StudySummary {
            name: self.experiment.config.study.name.clone(),
            seed: self.experiment.config.study.seed,
            strategy: self.experiment.config.strategy.name().to_string(),
            stop,
            trials: self.history.len() as u64,
            complete: self.history.count(TrialState::Complete) as u64,
            failed: self.history.count(TrialState::Failed) as u64,
            sim_seconds: self.sim_seconds,
            wall_seconds: started.elapsed().as_secs_f64(),
            best: self.history.best().cloned(),
            trajectory: std::mem::take(&mut self.trajectory),
        };
        recorder.end(
            &summary,
            &self.history,
            &self.strategy.state(),
            &self.experiment,
        )?;
        Ok(summary)
    }

    /// Evaluates one trial in place; an evaluator error or panic marks it FAILED.
    fn evaluate(&mut self, trial: &mut Trial) {
        let seed =
            Rng::derive(self.experiment.config.study.seed ^ EVAL_STREAM, trial.id).next_u64();
        let mut ctx = TrialCtx::new(trial.id, seed);
        let evaluator = self.experiment.evaluator.clone();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            evaluator.evaluate(&trial.arch, &trial.fidelity, &mut ctx)
        }));
        trial.intermediate = ctx.into_intermediate();
        trial.finished_at = Some(Utc::now());
        let result = match outcome {
            Ok(Ok(metrics)) => match self.experiment.objective.score(&metrics) {
                Some(score) => Ok((metrics, score)),
                None => Err(format!(
                    "evaluator reported no finite value for the objective {:?}",
                    self.experiment.objective.metric
                )),
            },
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(format!("evaluator panicked: {}", panic_message(&panic))),
        };
        match result {
            Ok((metrics, score)) => {
                trial.cost_seconds = metrics.get(metric::SIM_SECONDS).unwrap_or(0.0);
                trial.metrics = metrics;
                trial.score = Some(score);
                trial.state = TrialState::Complete;
                self.consecutive_failures = 0;
            }
            Err(e) => {
                trial.state = TrialState::Failed;
                trial.error = Some(e);
                self.consecutive_failures += 1;
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}
