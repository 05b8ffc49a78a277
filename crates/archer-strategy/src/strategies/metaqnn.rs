//! MetaQNN (Baker et al. 2017): tabular Q-learning over the sequence of a space's decisions.
//!
//! The agent walks the dimensions in order; its state at dimension `i` is `i` and the
//! choice made at the dimension before (on the chain space, the layers in order: each
//! layer's op, kernel and filters are consecutive dimensions, so the state is the layer
//! being built), its action the choice at `i`. The reward, the architecture's score, comes
//! at the last decision; there is no discount (γ = 1) and the learning rate is 0.01, as in
//! the paper. Actions are ε-greedy: ε = 1 for the first `explore_models` models, then
//! stepped down through `epsilon_steps`, `step_models` models each, and kept at the last.
//! After every result, `replay` models drawn from the memory of all results (experience
//! replay) update the table, each from its last decision back to its first.
//!
//! Departures from the paper, which scored accuracies in [0, 1] from Q = 0.5: scores here
//! may have any scale, so an unvisited pair's value is the mean reward seen so far (what 0.5
//! was for the paper's accuracies). Dimensions that are continuous keep the value of a
//! random sample; conditional dimensions are settled after the walk. An infeasible result
//! is rewarded with the lowest reward seen.

use std::collections::BTreeMap;
use std::sync::Arc;

use archer_core::{History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::{settle, Arch, Gene, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::{draw_passing, Kind, Prescreen, Proposal, Strategy, StrategyError, StrategySettings};

pub(crate) const KIND: Kind<MetaQnnConfig> = Kind::new(
    "metaqnn",
    "MetaQNN: tabular Q-learning over the decisions in order, epsilon-greedy with experience replay",
    |c, ctx| {
        Box::new(MetaQnn {
            space: ctx.space,
            prescreen: ctx.prescreen,
            config: c,
            state: QState {
                rng: ctx.rng,
                asked: 0,
                q: BTreeMap::new(),
                memory: Vec::new(),
            },
        })
    },
);

/// `[strategy] name = "metaqnn"`. The learning rate, replay and ε steps are the paper's;
/// its schedule (1,500 of 2,700 models at ε = 1, then 100–200 per step) is scaled to the
/// about 100 models of a NAS-Bench-201 budget: 10 at ε = 1, then 2 per step, chosen on
/// seeds 100–199 (README).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaQnnConfig {
    /// α, the Q-learning rate (the paper's 0.01).
    #[serde(default = "learning_rate")]
    pub learning_rate: f64,
    /// Models replayed from memory after each result (the paper's 100).
    #[serde(default = "replay")]
    pub replay: usize,
    /// Models proposed at ε = 1 (pure exploration) first.
    #[serde(default = "explore_models")]
    pub explore_models: u64,
    /// Models proposed at each ε of `epsilon_steps`.
    #[serde(default = "step_models")]
    pub step_models: u64,
    /// The ε values after exploration, in order (the paper's 0.9 down to 0.1); the last
    /// one stays.
    #[serde(default = "epsilon_steps")]
    pub epsilon_steps: Vec<f64>,
}

fn learning_rate() -> f64 {
    0.01
}
fn replay() -> usize {
    100
}
fn explore_models() -> u64 {
    10
}
fn step_models() -> u64 {
    2
}
fn epsilon_steps() -> Vec<f64> {
    (1..=9).rev().map(|k| f64::from(k) / 10.0).collect()
}

impl StrategySettings for MetaQnnConfig {
    fn validate(&self) -> Result<(), String> {
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(format!(
                "strategy.learning_rate = {}; accepted: above 0, at most 1",
                self.learning_rate
            ));
        }
        if self.step_models == 0 {
            return Err("strategy.step_models must be at least 1".into());
        }
        if self.epsilon_steps.is_empty() {
            return Err("strategy.epsilon_steps must list at least one value".into());
        }
        let steps: Vec<(&str, f64)> = self.epsilon_steps.iter().map(|&e| ("epsilon_steps", e)).collect();
        crate::population::check_probabilities(&steps)
    }
}

pub struct MetaQnn {
    space: Arc<dyn SearchSpace>,
    prescreen: Option<Arc<dyn Prescreen>>,
    config: MetaQnnConfig,
    state: QState,
}

#[derive(Serialize, Deserialize)]
struct QState {
    rng: Rng,
    asked: u64,
    /// Q(state, action), keyed `dimension:previous choice:choice` (`-` for no previous).
    q: BTreeMap<String, f64>,
    /// Every result: the categorical choices in order (`None` where a dimension is not
    /// categorical or absent) and the reward.
    memory: Vec<(Vec<Option<u16>>, f64)>,
}

fn key(dim: usize, previous: Option<u16>, action: u16) -> String {
    match previous {
        Some(p) => format!("{dim}:{p}:{action}"),
        None => format!("{dim}:-:{action}"),
    }
}

impl MetaQnn {
    fn epsilon(&self) -> f64 {
        let c = &self.config;
        let n = self.state.asked;
        if n < c.explore_models {
            return 1.0;
        }
        let step = ((n - c.explore_models) / c.step_models) as usize;
        c.epsilon_steps[step.min(c.epsilon_steps.len() - 1)]
    }

    /// The value of a pair never updated: the mean reward so far.
    fn default_q(&self) -> f64 {
        let m = &self.state.memory;
        if m.is_empty() {
            0.0
        } else {
            m.iter().map(|(_, r)| r).sum::<f64>() / m.len() as f64
        }
    }

    fn q(&self, dim: usize, previous: Option<u16>, action: u16, default: f64) -> f64 {
        self.state
            .q
            .get(&key(dim, previous, action))
            .copied()
            .unwrap_or(default)
    }

    /// The categorical choices of an architecture, in dimension order.
    fn choices(&self, arch: &Arch) -> Vec<Option<u16>> {
        let dims = self.space.dimensions();
        arch.genes
            .iter()
            .zip(dims)
            .map(|(g, d)| if d.is_float() { None } else { g.index() })
            .collect()
    }

    /// One walk over the dimensions, ε-greedy, on top of a random sample.
    fn walk(&mut self, epsilon: f64) -> Result<Arch, StrategyError> {
        let space = self.space.clone();
        let dims = space.dimensions();
        let mut arch = space.sample(&mut self.state.rng)?;
        let default = self.default_q();
        let mut previous: Option<u16> = None;
        for (i, d) in dims.iter().enumerate() {
            if d.is_float() || d.allowed.is_empty() {
                continue;
            }
            let action = if self.state.rng.chance(epsilon) {
                d.allowed[self.state.rng.below(d.allowed.len())]
            } else {
                // The best action, a random one among ties.
                let values: Vec<f64> = d.allowed.iter().map(|&a| self.q(i, previous, a, default)).collect();
                let best = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let tied: Vec<u16> = d
                    .allowed
                    .iter()
                    .zip(&values)
                    .filter(|(_, &v)| v == best)
                    .map(|(&a, _)| a)
                    .collect();
                tied[self.state.rng.below(tied.len())]
            };
            arch.genes[i] = Gene::Index(action);
            previous = Some(action);
        }
        settle(dims, &mut arch.genes, Some(&mut self.state.rng));
        Ok(arch)
    }

    /// The Q-learning update along one remembered model, from its last decision back.
    fn update(&mut self, choices: &[Option<u16>], reward: f64, default: f64) {
        let alpha = self.config.learning_rate;
        let dims = self.space.dimensions();
        let steps: Vec<(usize, Option<u16>, u16)> = {
            let mut previous = None;
            let mut out = Vec::new();
            for (i, c) in choices.iter().enumerate() {
                if let Some(a) = *c {
                    out.push((i, previous, a));
                    previous = Some(a);
                }
            }
            out
        };
        for k in (0..steps.len()).rev() {
            let (i, previous, action) = steps[k];
            let target = match steps.get(k + 1) {
                None => reward,
                // The next state is (the next decision, this action): its best value.
                Some(&(j, _, _)) => dims[j]
                    .allowed
                    .iter()
                    .map(|&a| self.q(j, Some(action), a, default))
                    .fold(f64::NEG_INFINITY, f64::max),
            };
            let old = self.q(i, previous, action, default);
            self.state
                .q
                .insert(key(i, previous, action), old + alpha * (target - old));
        }
    }
}

impl Strategy for MetaQnn {
    fn name(&self) -> &str {
        "metaqnn"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        let epsilon = self.epsilon();
        self.state.asked += 1;
        let prescreen = self.prescreen.clone();
        let arch = draw_passing(prescreen.as_deref(), || {
            // A walk that breaks the space's constraints is walked again, then sampled.
            for _ in 0..20 {
                let a = self.walk(epsilon)?;
                if self.space.contains(&a) {
                    return Ok(a);
                }
            }
            Ok(self.space.sample(&mut self.state.rng)?)
        })?;
        Ok(Proposal::full(arch))
    }

    fn tell(&mut self, trial: &Trial) {
        if trial.state != TrialState::Complete {
            return;
        }
        let reward = match trial.score.filter(|_| trial.feasible) {
            Some(s) if s.is_finite() => s,
            _ if !trial.feasible => {
                match self.state.memory.iter().map(|(_, r)| *r).reduce(f64::min) {
                    Some(worst) => worst,
                    None => return,
                }
            }
            _ => return,
        };
        let choices = self.choices(&trial.arch);
        self.state.memory.push((choices, reward));
        let default = self.default_q();
        for _ in 0..self.config.replay {
            let n = self.state.memory.len();
            let (choices, reward) = self.state.memory[self.state.rng.below(n)].clone();
            self.update(&choices, reward, default);
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: QState =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("metaqnn", e))?;
        let dims = self.space.dimensions().len();
        if let Some((c, _)) = s.memory.iter().find(|(c, _)| c.len() != dims) {
            return Err(StrategyError::Restore {
                strategy: "metaqnn".into(),
                reason: format!(
                    "a remembered model has {} decisions; the space {} has {dims}",
                    c.len(),
                    self.space.name()
                ),
            });
        }
        self.state = s;
        Ok(())
    }
}
