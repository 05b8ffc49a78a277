use std::collections::VecDeque;
use std::sync::Arc;

use archer_core::{Arch, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::{
    draw_passing, sample_passing, Kind, Prescreen, Proposal, Strategy, StrategyError,
    StrategySettings,
};

pub(crate) const KIND: Kind<ReaConfig> = Kind::new(
    "rea",
    "regularized (aging) evolution, NAS-Bench-201's settings",
    |c, ctx| {
        Box::new(
            RegularizedEvolution::new(ctx.space, ctx.rng, c.population, c.sample)
                .with_prescreen(ctx.prescreen),
        )
    },
);

/// `[strategy] name = "rea"`. Defaults follow NAS-Bench-201 (population 10, sample 3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaConfig {
    #[serde(default = "population")]
    pub population: usize,
    #[serde(default = "sample")]
    pub sample: usize,
}

fn population() -> usize {
    10
}
fn sample() -> usize {
    3
}

impl StrategySettings for ReaConfig {
    fn validate(&self) -> Result<(), String> {
        crate::population::check_tournament(self.population, self.sample)
    }
}

/// Regularized (aging) evolution, Real et al. 2019, as run in NAS-Bench-201: a population of
/// the `population` most recent results; each child mutates the best of `sample` members
/// drawn uniformly with replacement; the oldest member dies when a child arrives. Under
/// constraints, infeasible results join the population too and lose every tournament to a
/// feasible one (between themselves, the smaller total violation wins).
pub struct RegularizedEvolution {
    space: Arc<dyn SearchSpace>,
    population_size: usize,
    sample_size: usize,
    prescreen: Option<Arc<dyn Prescreen>>,
    state: ReaState,
}

/// One evaluated architecture of a single-objective population (shared with `ga`).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Member {
    pub arch: Arch,
    /// `None` for an infeasible member, which ranks below every feasible one.
    pub score: Option<f64>,
    /// Total constraint violation; between infeasible members the smaller wins.
    #[serde(default)]
    pub violation: f64,
}

impl Member {
    /// The member a finished trial gives: COMPLETE trials that are infeasible or scored.
    pub fn from_trial(trial: &Trial) -> Option<Member> {
        if trial.state != TrialState::Complete || (trial.feasible && trial.score.is_none()) {
            return None;
        }
        Some(Member {
            arch: trial.arch.clone(),
            score: trial.score.filter(|_| trial.feasible),
            violation: trial.violation,
        })
    }

    /// Deb's rule on one objective: feasible beats infeasible, then score, then violation.
    pub fn beats(&self, other: &Member) -> bool {
        match (self.score, other.score) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => self.violation < other.violation,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct ReaState {
    rng: Rng,
    /// Random architectures proposed to seed the population.
    initial_asked: usize,
    /// Oldest first.
    population: VecDeque<Member>,
}

impl RegularizedEvolution {
    /// `population >= 1`, `1 <= sample <= population` (checked by [`ReaConfig`]).
    pub fn new(space: Arc<dyn SearchSpace>, rng: Rng, population: usize, sample: usize) -> Self {
        RegularizedEvolution {
            space,
            population_size: population,
            sample_size: sample,
            prescreen: None,
            state: ReaState {
                rng,
                initial_asked: 0,
                population: VecDeque::new(),
            },
        }
    }
}

impl RegularizedEvolution {
    /// Random starts and mutants are redrawn until they pass `prescreen`.
    pub fn with_prescreen(mut self, prescreen: Option<Arc<dyn Prescreen>>) -> Self {
        self.prescreen = prescreen;
        self
    }
}

impl Strategy for RegularizedEvolution {
    fn name(&self) -> &str {
        "rea"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        let s = &mut self.state;
        // Seed the population with random architectures; if every one failed, keep sampling.
        if s.initial_asked < self.population_size || s.population.is_empty() {
            s.initial_asked += 1;
            return Ok(Proposal::full(sample_passing(
                self.space.as_ref(),
                self.prescreen.as_deref(),
                &mut s.rng,
            )?));
        }
        let mut parent: Option<&Member> = None;
        for _ in 0..self.sample_size {
            let m = &s.population[s.rng.below(s.population.len())];
            if parent.is_none_or(|p| m.beats(p)) {
                parent = Some(m);
            }
        }
        let parent = parent
            .expect("sample_size >= 1 and population non-empty")
            .arch
            .clone();
        let space = self.space.as_ref();
        let child = draw_passing(self.prescreen.as_deref(), || {
            Ok(space.mutate(&parent, &mut s.rng))
        })?;
        Ok(Proposal::full(child))
    }

    fn tell(&mut self, trial: &Trial) {
        let Some(member) = Member::from_trial(trial) else {
            return;
        };
        self.state.population.push_back(member);
        while self.state.population.len() > self.population_size {
            self.state.population.pop_front();
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: ReaState =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("rea", e))?;
        crate::population::check_members(
            "rea",
            self.space.as_ref(),
            s.population.iter().map(|m| &m.arch),
        )?;
        self.state = s;
        Ok(())
    }
}
