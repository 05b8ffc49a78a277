//! `genet`: the genetic algorithm of GeNet (Xie & Yuille 2017, "Genetic CNN").
//!
//! Generations of `population` individuals. The first is random. Each next one is made from
//! the last: Russian-roulette selection of `population` individuals with probability
//! proportional to `score − min score` of the generation (uniform when all are equal);
//! then, for each pair (1st and 2nd, 3rd and 4th, …), crossover with probability
//! `crossover_probability` (p_C), which swaps each stage between the two with probability
//! `stage_swap_probability` (q_C); then each individual that was not crossed over mutates
//! with probability `mutation_probability` (p_M), each gene flipping with probability
//! `bit_flip_probability` (q_M). Defaults are the paper's (N = 20, p_M = 0.8, q_M = 0.1,
//! p_C = 0.2, q_C = 0.3).
//!
//! GeNet's genes are bits. On other spaces a "flip" moves a gene to a random neighbouring
//! value, and a stage is a run of dimensions whose labels share the part before the first
//! `_` (GeNet's `s1_…`, `s2_…`; DARTS's `normal_…`, `reduce_…`; the chain's `layer3_…`);
//! a space whose labels give a single run uses its gene groups. A crossover or mutation that
//! leaves the space is undone.
//!
//! An individual evaluated before keeps its result and is not trained again (the paper
//! re-trained survivors and averaged). A generation is built when the last one has been
//! handed out, from the results known then (with one worker, all of them).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use archer_core::{Fidelity, History, Trial};
use archer_rng::Rng;
use archer_space::{settle, Arch, Gene, SearchSpace};
use serde::{Deserialize, Serialize};

use super::rea::Member;
use crate::{
    draw_passing, sample_passing, sample_unknown, Kind, Prescreen, Proposal, Strategy,
    StrategyError, StrategySettings,
};

pub(crate) const KIND: Kind<GenetConfig> = Kind::new(
    "genet",
    "GeNet's GA: generations with roulette selection, crossover by stage, per-bit mutation",
    |c, ctx| {
        let stages = stages(ctx.space.as_ref());
        Box::new(Genet {
            space: ctx.space,
            prescreen: ctx.prescreen,
            config: c,
            stages,
            state: GenetState {
                rng: ctx.rng,
                generation: 0,
                members: Vec::new(),
                queue: VecDeque::new(),
                results: BTreeMap::new(),
                fallbacks: 0,
            },
        })
    },
);

/// `[strategy] name = "genet"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenetConfig {
    /// N: individuals per generation.
    #[serde(default = "population")]
    pub population: usize,
    /// p_C: probability that a pair is crossed over.
    #[serde(default = "crossover_probability")]
    pub crossover_probability: f64,
    /// q_C: probability that a crossed pair swaps each stage.
    #[serde(default = "stage_swap_probability")]
    pub stage_swap_probability: f64,
    /// p_M: probability that an individual not crossed over mutates.
    #[serde(default = "mutation_probability")]
    pub mutation_probability: f64,
    /// q_M: probability that a mutating individual flips each gene.
    #[serde(default = "bit_flip_probability")]
    pub bit_flip_probability: f64,
}

fn population() -> usize {
    20
}
fn crossover_probability() -> f64 {
    0.2
}
fn stage_swap_probability() -> f64 {
    0.3
}
fn mutation_probability() -> f64 {
    0.8
}
fn bit_flip_probability() -> f64 {
    0.1
}

impl StrategySettings for GenetConfig {
    fn validate(&self) -> Result<(), String> {
        if !(2..=100_000).contains(&self.population) {
            return Err(format!(
                "strategy.population = {}; accepted: 2 to 100000",
                self.population
            ));
        }
        crate::population::check_probabilities(&[
            ("crossover_probability", self.crossover_probability),
            ("stage_swap_probability", self.stage_swap_probability),
            ("mutation_probability", self.mutation_probability),
            ("bit_flip_probability", self.bit_flip_probability),
        ])
    }
}

/// The stages of `space`: runs of dimensions whose labels share the part before the first
/// `_`, or the space's gene groups when that gives a single run.
pub fn stages(space: &dyn SearchSpace) -> Vec<Range<usize>> {
    let prefix = |label: &str| label.split('_').next().unwrap_or_default().to_string();
    let dims = space.dimensions();
    let mut runs: Vec<Range<usize>> = Vec::new();
    for (i, d) in dims.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if prefix(&dims[r.start].label) == prefix(&d.label) => r.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    if runs.len() > 1 {
        runs
    } else {
        space.genes()
    }
}

pub struct Genet {
    space: Arc<dyn SearchSpace>,
    prescreen: Option<Arc<dyn Prescreen>>,
    config: GenetConfig,
    stages: Vec<Range<usize>>,
    state: GenetState,
}

#[derive(Serialize, Deserialize)]
struct GenetState {
    rng: Rng,
    /// Generations built so far (the first is 1).
    generation: u64,
    /// The current generation's individuals.
    members: Vec<Arch>,
    /// Its individuals not yet handed out.
    queue: VecDeque<Arch>,
    /// Every finished result, by canonical hash.
    results: BTreeMap<String, Member>,
    /// Random architectures proposed because a generation had nothing new.
    fallbacks: u64,
}

impl Genet {
    /// Fitness of each member with a known result: score minus the generation's lowest
    /// (infeasible or failed: 0).
    fn fitness(&self) -> Vec<(Arch, f64)> {
        let known: Vec<(Arch, Option<f64>)> = self
            .state
            .members
            .iter()
            .filter_map(|a| {
                let m = self.state.results.get(&self.space.canonical_hash(a))?;
                Some((a.clone(), m.score))
            })
            .collect();
        let low = known
            .iter()
            .filter_map(|(_, s)| *s)
            .fold(f64::INFINITY, f64::min);
        known
            .into_iter()
            .map(|(a, s)| (a, s.map_or(0.0, |s| s - low)))
            .collect()
    }

    /// Russian roulette: one individual, with probability proportional to its fitness.
    fn spin(rng: &mut Rng, pool: &[(Arch, f64)]) -> Arch {
        let total: f64 = pool.iter().map(|(_, f)| f).sum();
        if total <= 0.0 {
            return pool[rng.below(pool.len())].0.clone();
        }
        let mut x = rng.unit() * total;
        for (a, f) in pool {
            if x < *f {
                return a.clone();
            }
            x -= f;
        }
        pool[pool.len() - 1].0.clone()
    }

    /// `a` with genes `range` taken from `b`; `a` when that leaves the space.
    fn swap_in(&self, a: &Arch, b: &Arch, range: &Range<usize>, rng: &mut Rng) -> Arch {
        let mut genes = a.genes.clone();
        genes[range.clone()].copy_from_slice(&b.genes[range.clone()]);
        self.within_space(a, genes, rng)
    }

    /// Each gene moves to a random neighbouring value with probability q_M; undone when
    /// the result leaves the space.
    fn flip(&self, a: &Arch, rng: &mut Rng) -> Arch {
        let dims = self.space.dimensions();
        let mut genes = a.genes.clone();
        for (i, d) in dims.iter().enumerate() {
            if genes[i].is_absent() || !rng.chance(self.config.bit_flip_probability) {
                continue;
            }
            let values = d.neighbour_values(genes[i]);
            if !values.is_empty() {
                genes[i] = values[rng.below(values.len())];
            }
        }
        self.within_space(a, genes, rng)
    }

    /// `a` with `genes`, conditions settled (dimensions that come into existence drawn from
    /// `rng`); `a` itself when that leaves the space.
    fn within_space(&self, a: &Arch, mut genes: Vec<Gene>, rng: &mut Rng) -> Arch {
        settle(self.space.dimensions(), &mut genes, Some(rng));
        let child = a.with_genes(genes);
        if self.space.contains(&child) {
            child
        } else {
            a.clone()
        }
    }

    /// The next generation from the current one's known results; empty when none is known.
    fn breed(&mut self) -> Vec<Arch> {
        let pool = self.fitness();
        if pool.is_empty() {
            return Vec::new();
        }
        let c = self.config.clone();
        let mut rng = self.state.rng.clone();
        let mut next: Vec<Arch> = (0..c.population)
            .map(|_| Self::spin(&mut rng, &pool))
            .collect();
        let mut crossed = vec![false; next.len()];
        for p in 0..next.len() / 2 {
            let (i, j) = (2 * p, 2 * p + 1);
            if !rng.chance(c.crossover_probability) {
                continue;
            }
            crossed[i] = true;
            crossed[j] = true;
            for stage in &self.stages {
                if rng.chance(c.stage_swap_probability) {
                    let (a, b) = (next[i].clone(), next[j].clone());
                    next[i] = self.swap_in(&a, &b, stage, &mut rng);
                    next[j] = self.swap_in(&b, &a, stage, &mut rng);
                }
            }
        }
        for (k, individual) in next.iter_mut().enumerate() {
            if !crossed[k] && rng.chance(c.mutation_probability) {
                *individual = self.flip(individual, &mut rng);
            }
        }
        self.state.rng = rng;
        next
    }

    /// Builds the next generation and queues its individuals not evaluated yet.
    fn next_generation(&mut self, history: &History) -> Result<(), StrategyError> {
        let members = if self.state.generation == 0 {
            let mut first = Vec::with_capacity(self.config.population);
            for _ in 0..self.config.population {
                first.push(sample_passing(
                    self.space.as_ref(),
                    self.prescreen.as_deref(),
                    &mut self.state.rng,
                )?);
            }
            first
        } else {
            let bred = self.breed();
            if bred.is_empty() {
                return Ok(());
            }
            let space = self.space.clone();
            let prescreen = self.prescreen.clone();
            let mut out = Vec::with_capacity(bred.len());
            for a in bred {
                // A child the constraints known before evaluation reject is mutated again.
                let mut tries = 0;
                let child = draw_passing(prescreen.as_deref(), || {
                    tries += 1;
                    Ok(if tries == 1 {
                        a.clone()
                    } else {
                        space.mutate(&a, &mut self.state.rng)
                    })
                })?;
                out.push(child);
            }
            out
        };
        self.state.generation += 1;
        let mut queued = std::collections::HashSet::new();
        for a in &members {
            let hash = self.space.canonical_hash(a);
            if !self.state.results.contains_key(&hash)
                && !history.is_known(&hash, &Fidelity::full())
                && queued.insert(hash)
            {
                self.state.queue.push_back(a.clone());
            }
        }
        self.state.members = members;
        Ok(())
    }
}

impl Strategy for Genet {
    fn name(&self) -> &str {
        "genet"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        // A generation of individuals all evaluated before queues nothing; breed again.
        for _ in 0..10 {
            while let Some(a) = self.state.queue.pop_front() {
                if !history.is_known(&self.space.canonical_hash(&a), &Fidelity::full()) {
                    return Ok(Proposal::full(a));
                }
            }
            let before = self.state.generation;
            self.next_generation(history)?;
            if self.state.generation == before {
                break;
            }
        }
        self.state.fallbacks += 1;
        Ok(Proposal::full(sample_unknown(
            self.space.as_ref(),
            history,
            &mut self.state.rng,
        )?))
    }

    fn tell(&mut self, trial: &Trial) {
        if let Some(member) = Member::from_trial(trial) {
            self.state
                .results
                .insert(self.space.canonical_hash(&trial.arch), member);
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: GenetState =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("genet", e))?;
        crate::population::check_members(
            "genet",
            self.space.as_ref(),
            s.members.iter().chain(&s.queue),
        )?;
        self.state = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_space::SpaceConfig;

    #[test]
    fn stages_follow_label_prefixes() {
        let darts = SpaceConfig::named("darts").build().unwrap();
        assert_eq!(stages(darts.as_ref()), vec![0..16, 16..32]);
        let chain = SpaceConfig::named("macro")
            .with("layers", serde_json::json!(3))
            .build()
            .unwrap();
        // Layer i has op, kernel, filters and a skip flag per layer j <= i - 2.
        assert_eq!(stages(chain.as_ref()), vec![0..3, 3..6, 6..10]);
        let nb201 = SpaceConfig::named("nb201").build().unwrap();
        assert_eq!(stages(nb201.as_ref()), nb201.genes());
    }

    #[test]
    fn generations_get_fitter_on_a_smooth_objective() {
        use archer_core::TrialState;
        let space: Arc<dyn SearchSpace> = SpaceConfig::named("nb201").build().unwrap();
        let target = [3u16, 3, 3, 1, 3, 2];
        let score = |a: &Arch| {
            a.indices()
                .iter()
                .zip(target)
                .filter(|(x, y)| **x == *y)
                .count() as f64
        };
        let mut mean_by_generation: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
        for seed in 0..5 {
            let mut s = Genet {
                space: space.clone(),
                prescreen: None,
                config: serde_json::from_value(serde_json::json!({"population": 10})).unwrap(),
                stages: stages(space.as_ref()),
                state: GenetState {
                    rng: Rng::seed_from(seed),
                    generation: 0,
                    members: Vec::new(),
                    queue: VecDeque::new(),
                    results: BTreeMap::new(),
                    fallbacks: 0,
                },
            };
            let mut history = History::new();
            for id in 0..100 {
                let p = s.ask(&history).unwrap();
                let mut t =
                    Trial::new(id, p.arch.clone(), space.canonical_hash(&p.arch), p.fidelity);
                t.state = TrialState::Complete;
                t.score = Some(score(&p.arch));
                history.record(t.clone());
                s.tell(&t);
                let e = mean_by_generation.entry(s.state.generation).or_default();
                e.0 += score(&p.arch);
                e.1 += 1;
            }
        }
        let means: Vec<f64> = mean_by_generation.values().map(|(t, n)| t / *n as f64).collect();
        assert!(means.len() >= 5, "{means:?}");
        assert!(
            means[4] > means[0] + 0.5,
            "the fifth generation scores above the first: {means:?}"
        );
    }

    #[test]
    fn roulette_prefers_the_fitter_in_proportion() {
        let a = Arch::new("x", 1, vec![0]);
        let b = Arch::new("x", 1, vec![1]);
        let pool = vec![(a.clone(), 1.0), (b.clone(), 3.0)];
        let mut rng = Rng::seed_from(1);
        let picks_b = (0..4000)
            .filter(|_| Genet::spin(&mut rng, &pool) == b)
            .count();
        assert!((2800..3200).contains(&picks_b), "{picks_b}");
        // All equal: uniform.
        let flat = vec![(a.clone(), 0.0), (b, 0.0)];
        let picks_a = (0..4000)
            .filter(|_| Genet::spin(&mut rng, &flat) == a)
            .count();
        assert!((1800..2200).contains(&picks_a), "{picks_a}");
    }
}
