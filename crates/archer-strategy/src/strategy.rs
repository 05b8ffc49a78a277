use archer_core::{Arch, Fidelity, History, Trial};

use crate::StrategyError;

/// What a strategy wants evaluated next.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub arch: Arch,
    pub fidelity: Fidelity,
}

impl Proposal {
    /// Evaluate `arch` at the evaluator's full fidelity.
    pub fn full(arch: Arch) -> Self {
        Proposal {
            arch,
            fidelity: Fidelity::full(),
        }
    }
}

/// A search strategy on the ask/tell seam.
///
/// Contract:
/// - `ask` may be called several times before any `tell` (parallel workers): a strategy must
///   then still propose something sensible, never block or fail for lack of results;
/// - `tell` receives each finished trial (COMPLETE, PRUNED or FAILED) once, in completion
///   order; a COMPLETE trial's `score` is the objective with higher = better;
/// - all randomness comes from the strategy's own generator, seeded at construction;
/// - `restore(state())` on a freshly built strategy of the same configuration continues
///   exactly as the original would, given the same history and tells.
pub trait Strategy: Send {
    /// Short name used in configs and reports.
    fn name(&self) -> &str;

    /// Propose the next architecture to evaluate. `history` holds every trial so far,
    /// WAITING and RUNNING ones included.
    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError>;

    /// Learn from a finished trial.
    fn tell(&mut self, trial: &Trial);

    /// Everything needed to continue later, as JSON.
    fn state(&self) -> serde_json::Value;

    /// Continue from a `state()` of a strategy built with the same configuration.
    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError>;
}
