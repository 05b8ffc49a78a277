use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Arch, Fidelity, Metrics};

/// A trial's lifecycle: WAITING → RUNNING → COMPLETE | PRUNED | FAILED. Finished trials are
/// never changed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrialState {
    Waiting,
    Running,
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
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Failed => "FAILED",
        }
    }
}

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
    /// The objective oriented so that higher is better; set only for COMPLETE trials.
    pub score: Option<f64>,
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
