use archer_core::{Arch, Fidelity, History, Trial};
use serde::{Deserialize, Serialize};

use crate::StrategyError;

/// What a strategy wants evaluated next.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub arch: Arch,
    pub fidelity: Fidelity,
    /// The finished trial whose trained weights this architecture starts from (network
    /// morphism), when the evaluator can use them; `None`: trained from scratch.
    pub inherit: Option<Inheritance>,
}

/// Which trained network a proposal starts from, and how it was changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inheritance {
    /// The parent trial's id; its checkpoint holds the weights.
    pub parent: u64,
    /// The parent's architecture.
    pub parent_arch: Arch,
    /// The change from the parent, for people (`widen(layer 2)`).
    pub morph: String,
}

impl Proposal {
    /// Evaluate `arch` at the evaluator's full fidelity.
    pub fn full(arch: Arch) -> Self {
        Proposal {
            arch,
            fidelity: Fidelity::full(),
            inherit: None,
        }
    }

    /// `self`, starting from `inheritance`'s trained parent.
    pub fn inheriting(mut self, inheritance: Inheritance) -> Self {
        self.inherit = Some(inheritance);
        self
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

    /// How many of the best COMPLETE trials keep their final checkpoints, as parents whose
    /// weights later proposals inherit ([`Proposal::inherit`]). 0 (the default): a finished
    /// trial's checkpoint is removed.
    fn parents_kept(&self) -> usize {
        0
    }
}
