use std::sync::Arc;

use archer_core::{History, Trial};
use archer_space::SearchSpace;

use crate::{Proposal, Strategy, StrategyError};

/// Wraps a strategy so that no architecture is evaluated twice (up to isomorphism).
///
/// When the inner strategy proposes an architecture whose canonical hash already completed,
/// the inner strategy is told that result again (as NNI's deduplication middleware does: an
/// evolutionary population still gets the member) and asked anew, at no evaluation cost.
/// Proposals still WAITING or RUNNING are simply re-asked. After `max_attempts` duplicates in
/// a row the space is taken to be exhausted.
pub struct Dedup {
    inner: Box<dyn Strategy>,
    space: Arc<dyn SearchSpace>,
    max_attempts: usize,
}

impl Dedup {
    pub const DEFAULT_MAX_ATTEMPTS: usize = 10_000;

    pub fn new(inner: Box<dyn Strategy>, space: Arc<dyn SearchSpace>) -> Self {
        Dedup {
            inner,
            space,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
        }
    }

    pub fn with_max_attempts(mut self, n: usize) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

impl Strategy for Dedup {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        for _ in 0..self.max_attempts {
            let proposal = self.inner.ask(history)?;
            let hash = self.space.canonical_hash(&proposal.arch);
            if let Some(done) = history.find_completed(&hash) {
                let mut replay: Trial = done.clone();
                replay.arch = proposal.arch;
                self.inner.tell(&replay);
                continue;
            }
            if history.is_known(&hash) {
                continue;
            }
            return Ok(proposal);
        }
        Err(StrategyError::Exhausted(format!(
            "{} proposed {} already-evaluated architectures in a row ({} trials so far)",
            self.inner.name(),
            self.max_attempts,
            history.len()
        )))
    }

    fn tell(&mut self, trial: &Trial) {
        self.inner.tell(trial)
    }

    fn state(&self) -> serde_json::Value {
        self.inner.state()
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.inner.restore(state)
    }
}
