//! The seam beside the strategy that decides how much of an evaluation each trial gets:
//! its fidelity when it starts, after every intermediate report whether it goes on, pauses
//! or stops, and which paused trial to continue (promote) before a new one is asked for.

use archer_core::{Fidelity, History, Trial};
use archer_strategy::Proposal;

/// A scheduler's answer to an intermediate report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Continue,
    /// Stop the evaluation now and keep the trial for later: it is recorded as PAUSED,
    /// charged what it used, not told to the strategy and not a failure, until a
    /// [`Promotion`] continues it.
    Pause,
    /// Stop the evaluation now; the trial is recorded as PRUNED and charged what it used.
    Stop,
}

/// A paused trial to continue, at a new fidelity.
#[derive(Clone, Debug, PartialEq)]
pub struct Promotion {
    pub trial: u64,
    pub fidelity: Fidelity,
    /// Train it again from scratch instead of continuing from its checkpoint (the
    /// "stopping" type of synchronous successive halving, as HpBandSter runs it): it is
    /// charged every step again.
    pub from_scratch: bool,
}

impl Promotion {
    /// Continue `trial` from its checkpoint at `fidelity`.
    pub fn resume(trial: u64, fidelity: Fidelity) -> Self {
        Promotion {
            trial,
            fidelity,
            from_scratch: false,
        }
    }
}

/// What the loop does when a worker is free.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// Continue this paused trial.
    Promote(Promotion),
    /// Ask the strategy for a new architecture.
    New,
}

/// Decides each trial's fidelity and whether a running trial continues.
///
/// Contract:
/// - deterministic given the history and its configuration; it never evaluates, sleeps or
///   touches storage (like a strategy);
/// - `decide` sees every report of a running trial, in order, with the study's history as
///   it stands, the report itself included (the running trial's entry holds its
///   intermediate values so far), other trials' values at the same step too;
/// - the schedulers of this crate keep no state of their own: everything they decide from
///   is in the history (intermediate values, states, the attributes they set through
///   [`Scheduler::new_trial_attrs`]), so a study resumed from its store, or a distributed
///   worker reading the shared store, decides exactly as an uninterrupted study would.
///   A scheduler that does keep state must return it from `state()` and accept it back in
///   `restore`.
pub trait Scheduler: Send {
    fn name(&self) -> &str;

    /// The fidelity to evaluate a new proposal at; by default the proposal's own (rung
    /// schedulers run every trial at full fidelity and cut it at their rungs).
    fn fidelity(&mut self, proposal: &Proposal, _history: &History) -> Fidelity {
        proposal.fidelity.clone()
    }

    /// Attributes to record on the next new trial (e.g. its bracket), asked right after
    /// [`Scheduler::fidelity`].
    fn new_trial_attrs(&mut self, _history: &History) -> Vec<(String, serde_json::Value)> {
        Vec::new()
    }

    /// After `trial` (as it started this evaluation) reported `value` at `step`.
    fn decide(&mut self, trial: &Trial, step: u32, value: f64, history: &History) -> Decision;

    /// Asked before every new proposal: continue a PAUSED trial of `history` instead, or ask
    /// for a new one. A promoted trial keeps its id, architecture and intermediate values;
    /// its evaluation starts again at the new fidelity (an evaluator that saved a
    /// checkpoint continues from it), and its cost adds up. A paused trial nobody promotes
    /// stays PAUSED when the study ends.
    fn next(&mut self, _history: &History) -> Admission {
        Admission::New
    }

    /// The strategy has nothing new to propose: a paused trial worth continuing anyway, if
    /// any (so that the budget goes to the most promising trials rather than to nothing).
    fn exhausted(&mut self, _history: &History) -> Option<Promotion> {
        None
    }

    /// The steps at which this scheduler compares trials (its rungs), lowest first; empty
    /// for a scheduler without rungs. A searcher learns from the values at these steps.
    fn rung_levels(&self) -> Vec<u32> {
        Vec::new()
    }

    /// The PAUSED trials of `history`, least promising first: the order in which a bound on
    /// kept checkpoints drops theirs. A scheduler that pauses trials should override it
    /// (the rung schedulers rank by [`crate::rungs::paused_by_promise`]); by default nothing
    /// is ranked, and so nothing is dropped.
    fn paused_by_promise(&self, _history: &History) -> Vec<u64> {
        Vec::new()
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

    fn decide(&mut self, _: &Trial, _: u32, _: f64, _: &History) -> Decision {
        Decision::Continue
    }
}
