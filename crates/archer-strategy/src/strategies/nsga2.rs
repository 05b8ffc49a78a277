//! NSGA-II (Deb et al. 2002), steady-state and asynchronous.

use std::sync::Arc;

use archer_core::{History, Trial};
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::population::{better, check_members, crowding, ranks, Member};
use crate::{
    draw_passing, sample_passing, Kind, Prescreen, Proposal, Strategy, StrategyError,
    StrategySettings,
};

pub(crate) const KIND: Kind<Nsga2Config> = Kind::new(
    "nsga2",
    "NSGA-II: constrained non-dominated sorting and crowding distance, steady-state (no generations)",
    |c, ctx| Box::new(Nsga2::new(ctx.space, ctx.rng, c).with_prescreen(ctx.prescreen)),
)
.multi_objective();

/// `[strategy] name = "nsga2"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nsga2Config {
    /// Survivors kept (μ); also the number of random architectures that start the search.
    #[serde(default = "population")]
    pub population: usize,
    /// Chance that a child is the uniform crossover of its two parents (else a copy of the
    /// first) before mutation.
    #[serde(default = "crossover")]
    pub crossover_probability: f64,
    /// Chance that the child is then mutated (one edit).
    #[serde(default = "one")]
    pub mutation_probability: f64,
}

fn population() -> usize {
    20
}
fn crossover() -> f64 {
    0.9
}
fn one() -> f64 {
    1.0
}

impl StrategySettings for Nsga2Config {
    fn validate(&self) -> Result<(), String> {
        if self.population < 2 {
            return Err(format!(
                "strategy.population = {}; must be at least 2",
                self.population
            ));
        }
        crate::population::check_probabilities(&[
            ("crossover_probability", self.crossover_probability),
            ("mutation_probability", self.mutation_probability),
        ])
    }
}

/// NSGA-II without a generation barrier (the steady-state form of Durillo et al. 2009),
/// so parallel workers never wait: each ask picks two parents by binary tournament on
/// (non-dominated rank, crowding distance) over the current survivors and proposes their
/// crossover, mutated; each COMPLETE trial joins the survivors, and when there are more
/// than `population`, the member with the smallest crowding distance in the worst front
/// is dropped. Ranks use Deb's constrained domination: feasible beats infeasible, and
/// between infeasible members the smaller total violation wins. The first `population`
/// asks are uniformly random.
pub struct Nsga2 {
    space: Arc<dyn SearchSpace>,
    config: Nsga2Config,
    prescreen: Option<Arc<dyn Prescreen>>,
    state: Nsga2State,
}

#[derive(Serialize, Deserialize)]
struct Nsga2State {
    rng: Rng,
    initial_asked: usize,
    survivors: Vec<Member>,
}

impl Nsga2 {
    pub fn new(space: Arc<dyn SearchSpace>, rng: Rng, config: Nsga2Config) -> Self {
        Nsga2 {
            space,
            config,
            prescreen: None,
            state: Nsga2State {
                rng,
                initial_asked: 0,
                survivors: Vec::new(),
            },
        }
    }

    /// Random starts and children are redrawn until they pass `prescreen` (a few hundred
    /// tries at most), so proposals rarely break a constraint known before evaluation.
    pub fn with_prescreen(mut self, prescreen: Option<Arc<dyn Prescreen>>) -> Self {
        self.prescreen = prescreen;
        self
    }

    fn tournament(&mut self, ranks: &[usize], crowd: &[f64]) -> usize {
        let n = self.state.survivors.len();
        let a = self.state.rng.below(n);
        let b = self.state.rng.below(n);
        better(a, b, ranks, crowd)
    }
}

impl Strategy for Nsga2 {
    fn name(&self) -> &str {
        "nsga2"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        if self.state.initial_asked < self.config.population || self.state.survivors.len() < 2 {
            self.state.initial_asked += 1;
            return Ok(Proposal::full(sample_passing(
                self.space.as_ref(),
                self.prescreen.as_deref(),
                &mut self.state.rng,
            )?));
        }
        let members: Vec<&Member> = self.state.survivors.iter().collect();
        let r = ranks(members.iter().copied());
        let crowd = crowding(&members, &r);
        let first = self.tournament(&r, &crowd);
        let second = self.tournament(&r, &crowd);
        let s = &mut self.state;
        let (a, b) = (&s.survivors[first].arch, &s.survivors[second].arch);
        let (space, config) = (self.space.as_ref(), &self.config);
        let child = draw_passing(self.prescreen.as_deref(), || {
            let mut child = if s.rng.chance(config.crossover_probability) {
                space.crossover(a, b, &mut s.rng)
            } else {
                a.clone()
            };
            if s.rng.chance(config.mutation_probability) {
                child = space.mutate(&child, &mut s.rng);
            }
            Ok(child)
        })?;
        Ok(Proposal::full(child))
    }

    fn tell(&mut self, trial: &Trial) {
        let Some(member) = Member::from_trial(trial) else {
            return;
        };
        // A repeat (de-duplication replays known results) must not crowd the survivors.
        if self.state.survivors.iter().any(|m| m.hash == member.hash) {
            return;
        }
        self.state.survivors.push(member);
        if self.state.survivors.len() <= self.config.population {
            return;
        }
        let members: Vec<&Member> = self.state.survivors.iter().collect();
        let r = ranks(members.iter().copied());
        let crowd = crowding(&members, &r);
        let worst_rank = r.iter().copied().max().unwrap_or(0);
        // The least crowded-apart member of the worst front; the oldest on ties.
        let drop = (0..members.len())
            .filter(|&i| r[i] == worst_rank)
            .min_by(|&i, &j| crowd[i].total_cmp(&crowd[j]).then(i.cmp(&j)))
            .unwrap_or(0);
        self.state.survivors.remove(drop);
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: Nsga2State =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("nsga2", e))?;
        check_members("nsga2", self.space.as_ref(), s.survivors.iter().map(|m| &m.arch))?;
        self.state = s;
        Ok(())
    }
}
