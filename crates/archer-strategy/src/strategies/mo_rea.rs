//! Multi-objective regularized (aging) evolution.

use std::collections::VecDeque;
use std::sync::Arc;

use archer_core::{History, Trial};
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::population::{better, check_members, hv_contribution, ranks, Member};
use crate::{
    draw_passing, sample_passing, Kind, Prescreen, Proposal, Strategy, StrategyError,
    StrategySettings,
};

pub(crate) const KIND: Kind<MoReaConfig> = Kind::new(
    "mo-rea",
    "multi-objective aging evolution: tournaments by non-dominated rank, then hypervolume contribution",
    |c, ctx| Box::new(MoRea::new(ctx.space, ctx.rng, c).with_prescreen(ctx.prescreen)),
)
.multi_objective();

/// `[strategy] name = "mo-rea"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoReaConfig {
    /// The population: the most recent results (the oldest dies when a child arrives).
    #[serde(default = "population")]
    pub population: usize,
    /// Members drawn (with replacement) for each tournament.
    #[serde(default = "sample")]
    pub sample: usize,
}

fn population() -> usize {
    20
}
fn sample() -> usize {
    5
}

impl StrategySettings for MoReaConfig {
    fn validate(&self) -> Result<(), String> {
        crate::population::check_tournament(self.population, self.sample)
    }
}

/// Regularized evolution (Real et al. 2019) for several objectives and constraints: an
/// aging population of the `population` most recent distinct results; each child mutates
/// the winner of a tournament of `sample` members drawn uniformly with replacement. The
/// tournament ranks by non-dominated rank over the whole population (Deb's constrained
/// domination), then by the member's exclusive hypervolume contribution within its front
/// (objectives scaled to [0, 1] over the population). Asynchronous: a child is proposed at
/// every ask, with no generation barrier.
pub struct MoRea {
    space: Arc<dyn SearchSpace>,
    config: MoReaConfig,
    prescreen: Option<Arc<dyn Prescreen>>,
    state: MoReaState,
}

#[derive(Serialize, Deserialize)]
struct MoReaState {
    rng: Rng,
    initial_asked: usize,
    /// Oldest first.
    population: VecDeque<Member>,
}

impl MoRea {
    pub fn new(space: Arc<dyn SearchSpace>, rng: Rng, config: MoReaConfig) -> Self {
        MoRea {
            space,
            config,
            prescreen: None,
            state: MoReaState {
                rng,
                initial_asked: 0,
                population: VecDeque::new(),
            },
        }
    }
}

impl MoRea {
    /// Random starts and mutants are redrawn until they pass `prescreen`.
    pub fn with_prescreen(mut self, prescreen: Option<Arc<dyn Prescreen>>) -> Self {
        self.prescreen = prescreen;
        self
    }
}

impl Strategy for MoRea {
    fn name(&self) -> &str {
        "mo-rea"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        let s = &mut self.state;
        if s.initial_asked < self.config.population || s.population.is_empty() {
            s.initial_asked += 1;
            return Ok(Proposal::full(sample_passing(
                self.space.as_ref(),
                self.prescreen.as_deref(),
                &mut s.rng,
            )?));
        }
        let members: Vec<&Member> = s.population.iter().collect();
        let r = ranks(members.iter().copied());
        let hv = hv_contribution(&members, &r);
        let mut winner = s.rng.below(members.len());
        for _ in 1..self.config.sample {
            let other = s.rng.below(members.len());
            winner = better(winner, other, &r, &hv);
        }
        let parent = members[winner].arch.clone();
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
        let pop = &mut self.state.population;
        if pop.iter().any(|m| m.hash == member.hash) {
            return;
        }
        pop.push_back(member);
        while pop.len() > self.config.population {
            pop.pop_front();
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: MoReaState =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("mo-rea", e))?;
        check_members("mo-rea", self.space.as_ref(), s.population.iter().map(|m| &m.arch))?;
        self.state = s;
        Ok(())
    }
}
