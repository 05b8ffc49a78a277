//! The seam beside the strategy that decides how much of an evaluation each trial gets:
//! its fidelity when it starts, and after every intermediate report whether it goes on.
//! Multi-fidelity schedulers (successive halving, Hyperband, ASHA, median stopping) fill it
//! in; the default runs every trial at its proposed fidelity to the end.

use archer_core::{Fidelity, History, Trial};
use archer_strategy::Proposal;

/// A scheduler's answer to an intermediate report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Continue,
    /// Stop the evaluation now; the trial is recorded as PRUNED and charged what it used.
    Stop,
}

/// Decides each trial's fidelity and whether a running trial continues.
///
/// Contract:
/// - deterministic given the history and its own state; it never evaluates, sleeps or
///   touches storage (like a strategy);
/// - `decide` sees every report of a running trial, in order, with the study's history as
///   it stands (other trials' values at the same step included);
/// - `restore(state())` on a fresh scheduler of the same configuration continues exactly.
pub trait Scheduler: Send {
    fn name(&self) -> &str;

    /// The fidelity to evaluate a new proposal at.
    fn fidelity(&mut self, proposal: &Proposal, history: &History) -> Fidelity;

    /// After `trial` reported `value` at `step`.
    fn decide(&mut self, trial: &Trial, step: u32, value: f64, history: &History) -> Decision;

    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _state: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

/// What Archer did before schedulers: the strategy's fidelity, never stopped early.
#[derive(Clone, Copy, Debug, Default)]
pub struct FullFidelity;

impl Scheduler for FullFidelity {
    fn name(&self) -> &str {
        "full"
    }

    fn fidelity(&mut self, proposal: &Proposal, _history: &History) -> Fidelity {
        proposal.fidelity.clone()
    }

    fn decide(&mut self, _: &Trial, _: u32, _: f64, _: &History) -> Decision {
        Decision::Continue
    }
}
