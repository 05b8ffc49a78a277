use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial};
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::{Proposal, Strategy, StrategyError};

/// Wraps a strategy so that no architecture is evaluated twice at the same fidelity (up to
/// isomorphism): the key is (canonical hash, fidelity), so a promotion to a higher fidelity
/// is new.
///
/// When the inner strategy proposes an architecture whose canonical hash already completed,
/// the inner strategy is told that result again (as NNI's deduplication middleware does: an
/// evolutionary population still gets the member) and asked anew, at no evaluation cost.
/// Proposals still WAITING or RUNNING are simply re-asked. After `replace_after` duplicates
/// in a row (a converged policy, a local search at the end of its road) a uniformly random
/// new architecture is proposed instead (NNI's `replace` action); the space is exhausted
/// only when `max_attempts` draws in a row find nothing new.
pub struct Dedup {
    inner: Box<dyn Strategy>,
    space: Arc<dyn SearchSpace>,
    max_attempts: usize,
    replace_after: usize,
    rng: Rng,
}

#[derive(Serialize, Deserialize)]
struct DedupState {
    inner: serde_json::Value,
    rng: Rng,
}

impl Dedup {
    pub const DEFAULT_MAX_ATTEMPTS: usize = 10_000;
    pub const DEFAULT_REPLACE_AFTER: usize = 100;

    /// `rng` draws the replacement architectures.
    pub fn new(inner: Box<dyn Strategy>, space: Arc<dyn SearchSpace>, rng: Rng) -> Self {
        Dedup {
            inner,
            space,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            replace_after: Self::DEFAULT_REPLACE_AFTER,
            rng,
        }
    }
}

impl Strategy for Dedup {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        for attempt in 0..self.max_attempts {
            let replacing = attempt >= self.replace_after;
            let proposal = if replacing {
                Proposal::full(self.space.sample(&mut self.rng)?)
            } else {
                self.inner.ask(history)?
            };
            let hash = self.space.canonical_hash(&proposal.arch);
            if let Some(done) = history.find_completed(&hash, &proposal.fidelity) {
                if !replacing {
                    let mut replay: Trial = done.clone();
                    replay.arch = proposal.arch;
                    self.inner.tell(&replay);
                }
                continue;
            }
            if history.is_known(&hash, &proposal.fidelity) {
                continue;
            }
            return Ok(proposal);
        }
        Err(StrategyError::Exhausted(format!(
            "{} and {} random draws found no new architecture ({} trials so far)",
            self.inner.name(),
            self.max_attempts.saturating_sub(self.replace_after),
            history.len()
        )))
    }

    fn tell(&mut self, trial: &Trial) {
        self.inner.tell(trial)
    }

    fn parents_kept(&self) -> usize {
        self.inner.parents_kept()
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(DedupState {
            inner: self.inner.state(),
            rng: self.rng.clone(),
        })
        .expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: DedupState =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("dedup", e))?;
        self.inner.restore(s.inner)?;
        self.rng = s.rng;
        Ok(())
    }
}

/// A uniformly random architecture neither evaluated nor pending at full fidelity (up to
/// isomorphism); the last of 101 draws when none of them is new (the [`Dedup`] wrapper
/// handles that case).
pub fn sample_unknown(
    space: &dyn SearchSpace,
    history: &History,
    rng: &mut Rng,
) -> Result<Arch, StrategyError> {
    let known = |a: &Arch| history.is_known(&space.canonical_hash(a), &Fidelity::full());
    let mut arch = space.sample(rng)?;
    for _ in 0..100 {
        if !known(&arch) {
            break;
        }
        arch = space.sample(rng)?;
    }
    Ok(arch)
}
