//! Any strategy as the searcher of a rung scheduler: it learns from what trials reported at
//! the highest rung that has enough of them (BOHB's rule: the model is fitted on the
//! largest budget with at least `min_points` observations), as if those were finished
//! evaluations at that fidelity.

use std::collections::BTreeSet;
use std::sync::Arc;

use archer_core::{Fidelity, History, Trial, TrialState};
use archer_strategy::{Proposal, Strategy, StrategyError};
use serde::{Deserialize, Serialize};

use crate::rungs::{evaluated, value_at};

/// Builds the inner strategy afresh; `salt` 0 is the study's own strategy, other salts give
/// the same configuration with a seed derived from the study's and the salt.
pub type StrategyFactory =
    Arc<dyn Fn(u64) -> Result<Box<dyn Strategy>, StrategyError> + Send + Sync>;

/// Wraps a strategy under a rung scheduler. Before each ask it finds the highest rung level
/// with at least `min_points` reported values; when that level moves up, the inner strategy
/// is rebuilt (seeded by the level) and told every value there, otherwise only the new ones.
/// Each told value is a COMPLETE copy of the trial at that fidelity, scored by the oriented
/// value. The loop's own tells (finished trials) are not passed on: the inner strategy sees
/// every trial through its rung values instead.
pub struct RungSearcher {
    factory: StrategyFactory,
    levels: Vec<u32>,
    min_points: usize,
    maximize: bool,
    inner: Box<dyn Strategy>,
    state: SearcherState,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SearcherState {
    /// The level the inner strategy learns from now; `None` before any has enough values.
    level: Option<u32>,
    /// Trials already told at `level`.
    told: BTreeSet<u64>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    searcher: SearcherState,
    inner: serde_json::Value,
}

impl RungSearcher {
    pub fn new(
        factory: StrategyFactory,
        levels: Vec<u32>,
        min_points: usize,
        maximize: bool,
    ) -> Result<Self, StrategyError> {
        let inner = factory(0)?;
        Ok(RungSearcher {
            factory,
            levels,
            min_points: min_points.max(1),
            maximize,
            inner,
            state: SearcherState::default(),
        })
    }

    /// The level the inner strategy learns from now.
    pub fn level(&self) -> Option<u32> {
        self.state.level
    }

    fn salt(level: Option<u32>) -> u64 {
        level.map_or(0, |l| l as u64 + 1)
    }

    fn sync(&mut self, history: &History) -> Result<(), StrategyError> {
        let level = self.levels.iter().rev().copied().find(|&l| {
            evaluated(history)
                .filter(|t| value_at(t, l).is_some())
                .take(self.min_points)
                .count()
                >= self.min_points
        });
        let Some(level) = level else { return Ok(()) };
        if self.state.level != Some(level) {
            self.inner = (self.factory)(Self::salt(Some(level)))?;
            self.state = SearcherState {
                level: Some(level),
                told: BTreeSet::new(),
            };
        }
        for t in evaluated(history) {
            if self.state.told.contains(&t.id) {
                continue;
            }
            let Some(v) = value_at(t, level) else {
                continue;
            };
            self.inner.tell(&at_rung(t, level, v, self.maximize));
            self.state.told.insert(t.id);
        }
        Ok(())
    }
}

/// `t` as a finished evaluation at `level` that measured `value`.
fn at_rung(t: &Trial, level: u32, value: f64, maximize: bool) -> Trial {
    let score = if maximize { value } else { -value };
    let mut told = t.clone();
    told.state = TrialState::Complete;
    told.fidelity = Fidelity {
        epochs: Some(level),
        ..Fidelity::full()
    };
    told.intermediate.retain(|(s, _)| *s <= level);
    told.score = Some(score);
    told.scores = vec![score];
    told.feasible = true;
    told.violation = 0.0;
    told.error = None;
    told
}

impl Strategy for RungSearcher {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        self.sync(history)?;
        self.inner.ask(history)
    }

    fn tell(&mut self, _trial: &Trial) {}

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(Saved {
            searcher: self.state.clone(),
            inner: self.inner.state(),
        })
        .expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let saved: Saved = serde_json::from_value(state).map_err(|e| StrategyError::Restore {
            strategy: "rung searcher".into(),
            reason: e.to_string(),
        })?;
        let mut inner = (self.factory)(Self::salt(saved.searcher.level))?;
        inner.restore(saved.inner)?;
        self.inner = inner;
        self.state = saved.searcher;
        Ok(())
    }
}
