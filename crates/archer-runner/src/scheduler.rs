//! The seam beside the strategy that decides how much of an evaluation each trial gets:
//! its fidelity when it starts, after every intermediate report whether it goes on, pauses
//! or stops, and which paused trial to continue (promote) before a new one is asked for.
//! Multi-fidelity schedulers (successive halving, Hyperband, ASHA, median stopping) fill it
//! in; the default runs every trial at its proposed fidelity to the end.

use archer_core::{Fidelity, History, Trial};
use archer_strategy::Proposal;

/// A scheduler's answer to an intermediate report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Continue,
    /// Stop the evaluation now and keep the trial for later: it is recorded as PAUSED,
    /// charged what it used, not told to the strategy and not a failure, until
    /// [`Scheduler::promote`] continues it.
    Pause,
    /// Stop the evaluation now; the trial is recorded as PRUNED and charged what it used.
    Stop,
}

/// A paused trial to continue, at a new fidelity.
#[derive(Clone, Debug, PartialEq)]
pub struct Promotion {
    pub trial: u64,
    pub fidelity: Fidelity,
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

    /// Asked before every new proposal: a PAUSED trial of `history` to continue instead. The
    /// trial keeps its id, architecture and intermediate values; its evaluation starts again
    /// at the new fidelity (an evaluator that saved a checkpoint continues from it), and its
    /// cost adds up. A paused trial nobody promotes stays PAUSED when the study ends.
    fn promote(&mut self, _history: &History) -> Option<Promotion> {
        None
    }

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
