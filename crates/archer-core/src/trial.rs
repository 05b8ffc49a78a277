use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Arch, Fidelity, Metrics};

/// A trial's lifecycle: WAITING → RUNNING → COMPLETE | PRUNED | FAILED, with RUNNING ⇄ PAUSED
/// for a scheduler that pauses a trial at a rung and resumes it later. Finished trials are
/// never changed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrialState {
    Waiting,
    Running,
    /// Stopped by a scheduler with a checkpoint (in `attrs`), to be resumed or finished later.
    Paused,
    Complete,
    Pruned,
    Failed,
}

impl TrialState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Waiting => "WAITING",
            TrialState::Running => "RUNNING",
            TrialState::Paused => "PAUSED",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Failed => "FAILED",
        }
    }
}

fn yes() -> bool {
    true
}

/// The attribute that marks a proposal rejected before evaluation: a constraint on a metric
/// known from the architecture alone (params, FLOPs, a latency table) was broken, so it cost
/// nothing.
pub const SCREENED_ATTR: &str = "screened";

/// The attribute counting a trial's promotions by a scheduler (each starts a new evaluation
/// of the trial, so it adds one to `attempts` too; the limit on restarts after a crash,
/// `study.max_attempts`, counts the attempts of the current evaluation only).
pub const PROMOTIONS_ATTR: &str = "promotions";

/// The attribute listing the steps at which a scheduler promoted this trial (the last step
/// it had reported each time), in order: what the dashboard marks on its curve.
pub const PROMOTED_AT_ATTR: &str = "promoted_at_steps";

/// One evaluation of one architecture at one fidelity, and everything known about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Position in the study, from 0, in the order trials were created.
    pub id: u64,
    pub arch: Arch,
    /// The space's canonical hash: isomorphic architectures share it.
    pub arch_hash: String,
    pub fidelity: Fidelity,
    pub state: TrialState,
    /// Everything the evaluator measured, held-out metrics included.
    pub metrics: Metrics,
    /// The first objective oriented so that higher is better; set only for COMPLETE trials
    /// that are feasible. Single-objective strategies read this.
    pub score: Option<f64>,
    /// Every objective, in the study's order, oriented so that higher is better; set for
    /// COMPLETE trials that measured them all (feasible or not). Empty otherwise, and for a
    /// proposal rejected before evaluation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<f64>,
    /// False when the trial breaks one of the study's constraints.
    #[serde(default = "yes")]
    pub feasible: bool,
    /// Total constraint violation ([`crate::Constraint::violation`], summed); 0 when feasible.
    #[serde(default)]
    pub violation: f64,
    /// Open key/value data for schedulers and the loop: rung, bracket, parent trial,
    /// checkpoint path, `screened` (rejected before evaluation).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, serde_json::Value>,
    /// `(step, value)` pairs reported during the evaluation (e.g. per epoch).
    pub intermediate: Vec<(u32, f64)>,
    /// Why the trial failed.
    pub error: Option<String>,
    /// Seconds charged to the study's simulated clock.
    pub cost_seconds: f64,
    /// How many times evaluation started (re-runs after a crash or under a retry policy).
    #[serde(default)]
    pub attempts: u32,
    pub worker: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Trial {
    /// The score of a COMPLETE trial when it is finite: what a model-based strategy learns
    /// from (infeasible and unscored trials give none).
    pub fn finite_score(&self) -> Option<f64> {
        self.score
            .filter(|s| s.is_finite() && self.state == TrialState::Complete)
    }

    /// How many times a scheduler promoted this trial ([`PROMOTIONS_ATTR`]).
    pub fn promotions(&self) -> u32 {
        self.attrs
            .get(PROMOTIONS_ATTR)
            .and_then(|v| v.as_u64())
            .map_or(0, |n| n as u32)
    }

    /// Whether this trial was rejected before evaluation (see [`SCREENED_ATTR`]).
    pub fn is_screened(&self) -> bool {
        self.attrs.get(SCREENED_ATTR) == Some(&serde_json::Value::Bool(true))
    }

    /// A new WAITING trial.
    pub fn new(id: u64, arch: Arch, arch_hash: String, fidelity: Fidelity) -> Self {
        Trial {
            id,
            arch,
            arch_hash,
            fidelity,
            state: TrialState::Waiting,
            metrics: Metrics::new(),
            score: None,
            scores: Vec::new(),
            feasible: true,
            violation: 0.0,
            attrs: BTreeMap::new(),
            intermediate: Vec::new(),
            error: None,
            cost_seconds: 0.0,
            attempts: 0,
            worker: None,
            started_at: None,
            finished_at: None,
        }
    }
}
