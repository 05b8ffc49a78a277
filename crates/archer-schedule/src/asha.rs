//! Asynchronous successive halving (ASHA, Li et al. 2020), with several brackets
//! (asynchronous Hyperband) and in two types: *stopping* cuts a trial at a rung where it is
//! not in the top 1/η of what that rung has seen; *promotion* pauses every trial at each
//! rung and continues the best of a rung from its checkpoint when a worker is free.

use archer_core::{History, Trial};

use crate::rungs::{evaluated, max_step, paused_at, paused_by_promise, RungObjectives};
use crate::{Admission, Decision, Promotion, Scheduler};

/// Whether a rung cuts trials or pauses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RungType {
    Stopping,
    Promotion,
}

impl RungType {
    /// A scheduler's name with this type: `base` for promotion, `base-stop` for stopping.
    pub fn label(self, base: &str) -> String {
        match self {
            RungType::Promotion => base.to_string(),
            RungType::Stopping => format!("{base}-stop"),
        }
    }
}

/// ASHA. Trials run at their proposed (full) fidelity; the rungs cut or pause them. Trial
/// `id` belongs to bracket `id mod brackets`, whose rungs start at level `bracket`.
#[derive(Debug)]
pub struct Asha {
    name: String,
    levels: Vec<u32>,
    eta: f64,
    kind: RungType,
    brackets: usize,
    grace: u32,
    objectives: RungObjectives,
}

impl Asha {
    /// `levels`: from [`crate::rung_levels`], the last being the full fidelity;
    /// `brackets` is clamped to 1..=levels.len().
    pub fn new(
        levels: Vec<u32>,
        eta: f64,
        kind: RungType,
        brackets: usize,
        grace: u32,
        objectives: RungObjectives,
    ) -> Self {
        let brackets = brackets.clamp(1, levels.len().max(1));
        let base = if objectives.is_multi() {
            "mo-asha"
        } else {
            "asha"
        };
        Asha {
            name: kind.label(base),
            levels,
            eta,
            kind,
            brackets,
            grace,
            objectives,
        }
    }

    fn bracket(&self, trial: u64) -> usize {
        (trial % self.brackets as u64) as usize
    }

    fn levels_of(&self, bracket: usize) -> &[u32] {
        &self.levels[bracket..]
    }

    /// How many of a rung of `n` members go on: ⌊n/η⌋.
    fn top(&self, n: usize) -> usize {
        (n as f64 / self.eta).floor() as usize
    }

    /// The best paused trial that may go up from its bracket's rungs (highest rung first),
    /// as (level, trial).
    fn promotable(&self, history: &History, bracket: usize) -> Option<(u32, u64)> {
        let levels = self.levels_of(bracket);
        let mine: Vec<&Trial> = evaluated(history)
            .filter(|t| self.bracket(t.id) == bracket)
            .collect();
        for &level in levels[..levels.len() - 1].iter().rev() {
            let members = self.objectives.members(mine.iter().copied(), level);
            let ranked = self.objectives.rank(&members);
            let top = self.top(ranked.len());
            let found = ranked[..top]
                .iter()
                .find(|&&id| history.get(id).is_some_and(|t| paused_at(t, level)));
            if let Some(&id) = found {
                return Some((level, id));
            }
        }
        None
    }

    fn promotion(history: &History, id: u64) -> Promotion {
        let fidelity = history
            .get(id)
            .map(|t| t.fidelity.clone())
            .unwrap_or_default();
        Promotion::resume(id, fidelity)
    }
}

impl Scheduler for Asha {
    fn name(&self) -> &str {
        &self.name
    }

    fn decide(&mut self, trial: &Trial, step: u32, _value: f64, history: &History) -> Decision {
        let bracket = self.bracket(trial.id);
        let levels = self.levels_of(bracket);
        let top_level = *levels.last().expect("at least one level");
        if step < self.grace || step >= top_level || !levels.contains(&step) {
            return Decision::Continue;
        }
        match self.kind {
            // A trial continued from this rung passes it without pausing again.
            RungType::Promotion if step > max_step(trial) => Decision::Pause,
            RungType::Promotion => Decision::Continue,
            RungType::Stopping => {
                let members = self.objectives.members(
                    evaluated(history).filter(|t| self.bracket(t.id) == bracket),
                    step,
                );
                let ranked = self.objectives.rank(&members);
                let keep = self.top(ranked.len()).max(1);
                if ranked[..keep.min(ranked.len())].contains(&trial.id) {
                    Decision::Continue
                } else {
                    Decision::Stop
                }
            }
        }
    }

    fn next(&mut self, history: &History) -> Admission {
        if self.kind == RungType::Stopping {
            return Admission::New;
        }
        let best = (0..self.brackets)
            .filter_map(|b| self.promotable(history, b))
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        match best {
            Some((_, id)) => Admission::Promote(Self::promotion(history, id)),
            None => Admission::New,
        }
    }

    /// Promotion type: the best paused trial of the highest rung any paused trial waits at.
    fn exhausted(&mut self, history: &History) -> Option<Promotion> {
        if self.kind == RungType::Stopping {
            return None;
        }
        let paused: Vec<&Trial> = evaluated(history)
            .filter(|t| t.state == archer_core::TrialState::Paused)
            .collect();
        let level = paused.iter().map(|t| max_step(t)).max()?;
        let at_level = paused.iter().copied().filter(|t| max_step(t) == level);
        let members = self.objectives.members(at_level, level);
        let id = *self.objectives.rank(&members).first()?;
        Some(Self::promotion(history, id))
    }

    fn rung_levels(&self) -> Vec<u32> {
        self.levels.clone()
    }
    fn paused_by_promise(&self, history: &History) -> Vec<u64> {
        paused_by_promise(history, &self.objectives)
    }
}
