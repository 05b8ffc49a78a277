//! A genetic algorithm with crossover: tournament selection, the space's uniform crossover
//! by gene, mutation, and elitism, in two forms.
//!
//! - `steady-state` (the default): every told result enters the population at once and the
//!   worst member leaves; each ask breeds one child from the population as it is, so
//!   workers never wait for a generation.
//! - `generational`, a (μ+λ) GA: children are bred from the current parents; once λ
//!   children have been told, the best μ of parents and children become the next parents.
//!   Asks beyond λ before the generation is told breed more children of the same parents
//!   (they join the selection), so this form never waits either.
//!
//! Elitism: in both forms the best member survives until something better arrives.
//! Infeasible results rank below every feasible one (Deb's rule, as in `rea`).

use std::sync::Arc;

use archer_core::{History, Trial};
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use super::rea::Member;
use crate::{
    draw_passing, sample_passing, Kind, Prescreen, Proposal, Strategy, StrategyError,
    StrategySettings,
};

pub(crate) const KIND: Kind<GaConfig> = Kind::new(
    "ga",
    "genetic algorithm: tournament selection, uniform crossover, mutation, elitism (steady-state or (mu+lambda))",
    |c, ctx| {
        Box::new(GeneticAlgorithm {
            space: ctx.space,
            prescreen: ctx.prescreen,
            config: c,
            state: GaState {
                rng: ctx.rng,
                initial_asked: 0,
                population: Vec::new(),
                children: Vec::new(),
                generation: 0,
            },
        })
    },
)
.with_variants(
    &[("ga_gen", r#"{"form": "generational"}"#)],
    |c| match c.form {
        GaForm::SteadyState => "ga".to_string(),
        GaForm::Generational => "ga_gen".to_string(),
    },
);

/// The two forms of the GA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GaForm {
    SteadyState,
    Generational,
}

/// `[strategy] name = "ga"`. Defaults were chosen on NAS-Bench-201 CIFAR-10 seeds 100–199
/// (README, "The strategies that founded the field").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaConfig {
    /// `steady-state` or `generational` ((μ+λ)).
    #[serde(default = "form")]
    pub form: GaForm,
    /// μ: the members kept (the parents of a generation).
    #[serde(default = "population")]
    pub population: usize,
    /// λ: children per generation (`generational` only).
    #[serde(default = "offspring")]
    pub offspring: usize,
    /// Members drawn (with replacement) per tournament; the best is a parent.
    #[serde(default = "tournament")]
    pub tournament: usize,
    /// Probability that a child is the crossover of two parents (else a copy of one).
    #[serde(default = "crossover_probability")]
    pub crossover_probability: f64,
    /// Probability that a crossover child is also mutated (a copy is always mutated, and so
    /// is a crossover child identical to a parent).
    #[serde(default = "mutation_probability")]
    pub mutation_probability: f64,
}

fn form() -> GaForm {
    GaForm::SteadyState
}
fn population() -> usize {
    10
}
fn offspring() -> usize {
    10
}
fn tournament() -> usize {
    3
}
fn crossover_probability() -> f64 {
    0.5
}
fn mutation_probability() -> f64 {
    0.5
}

impl StrategySettings for GaConfig {
    fn validate(&self) -> Result<(), String> {
        crate::population::check_tournament(self.population, self.tournament)
            .map_err(|e| e.replace("strategy.sample", "strategy.tournament"))?;
        if self.offspring == 0 {
            return Err("strategy.offspring must be at least 1".into());
        }
        crate::population::check_probabilities(&[
            ("crossover_probability", self.crossover_probability),
            ("mutation_probability", self.mutation_probability),
        ])
    }
}

pub struct GeneticAlgorithm {
    space: Arc<dyn SearchSpace>,
    prescreen: Option<Arc<dyn Prescreen>>,
    config: GaConfig,
    state: GaState,
}

#[derive(Serialize, Deserialize)]
struct GaState {
    rng: Rng,
    /// Random architectures proposed to seed the population.
    initial_asked: usize,
    /// Steady-state: the members, in arrival order. Generational: the parents.
    population: Vec<Member>,
    /// Generational: the children told since the last selection.
    children: Vec<Member>,
    /// Generational: selections made so far.
    generation: u64,
}

impl GeneticAlgorithm {
    /// The best of `tournament` members drawn uniformly with replacement.
    fn select<'a>(rng: &mut Rng, population: &'a [Member], tournament: usize) -> &'a Member {
        let mut best: Option<&Member> = None;
        for _ in 0..tournament {
            let m = &population[rng.below(population.len())];
            if best.is_none_or(|b| m.beats(b)) {
                best = Some(m);
            }
        }
        best.expect("tournament >= 1 and population non-empty")
    }

    /// Keeps the best `n` of `members` (the earliest on ties), in their order.
    fn best_of(members: Vec<Member>, n: usize) -> Vec<Member> {
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&members[a], &members[b]);
            if x.beats(y) {
                std::cmp::Ordering::Less
            } else if y.beats(x) {
                std::cmp::Ordering::Greater
            } else {
                a.cmp(&b)
            }
        });
        let mut keep: Vec<usize> = order.into_iter().take(n).collect();
        keep.sort_unstable();
        let mut members: Vec<Option<Member>> = members.into_iter().map(Some).collect();
        keep.into_iter().filter_map(|i| members[i].take()).collect()
    }
}

impl Strategy for GeneticAlgorithm {
    fn name(&self) -> &str {
        "ga"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        let c = &self.config;
        let s = &mut self.state;
        let space = self.space.as_ref();
        // Seed the population with random architectures; if every one failed, keep sampling.
        if s.initial_asked < c.population || s.population.is_empty() {
            s.initial_asked += 1;
            return Ok(Proposal::full(sample_passing(
                space,
                self.prescreen.as_deref(),
                &mut s.rng,
            )?));
        }
        let child = draw_passing(self.prescreen.as_deref(), || {
            let a = Self::select(&mut s.rng, &s.population, c.tournament).arch.clone();
            if !s.rng.chance(c.crossover_probability) {
                return Ok(space.mutate(&a, &mut s.rng));
            }
            let b = &Self::select(&mut s.rng, &s.population, c.tournament).arch;
            let child = space.crossover(&a, b, &mut s.rng);
            if child == a || child == *b || s.rng.chance(c.mutation_probability) {
                Ok(space.mutate(&child, &mut s.rng))
            } else {
                Ok(child)
            }
        })?;
        Ok(Proposal::full(child))
    }

    fn tell(&mut self, trial: &Trial) {
        let Some(member) = Member::from_trial(trial) else {
            return;
        };
        let c = &self.config;
        let s = &mut self.state;
        // The seeds join the population directly, in both forms.
        if c.form == GaForm::SteadyState || s.population.len() < c.population {
            s.population.push(member);
            if s.population.len() > c.population {
                let all = std::mem::take(&mut s.population);
                s.population = Self::best_of(all, c.population);
            }
            return;
        }
        s.children.push(member);
        if s.children.len() >= c.offspring {
            let mut all = std::mem::take(&mut s.population);
            all.append(&mut s.children);
            s.population = Self::best_of(all, c.population);
            s.generation += 1;
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: GaState =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("ga", e))?;
        crate::population::check_members(
            "ga",
            self.space.as_ref(),
            s.population.iter().chain(&s.children).map(|m| &m.arch),
        )?;
        self.state = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_core::{Arch, TrialState};
    use archer_space::Nb201Space;

    fn member(score: Option<f64>) -> Member {
        Member {
            arch: Arch::new("nb201", 1, vec![0; 6]),
            score,
            violation: if score.is_some() { 0.0 } else { 1.0 },
        }
    }

    #[test]
    fn selection_keeps_the_best_in_arrival_order() {
        let kept = GeneticAlgorithm::best_of(
            vec![member(Some(1.0)), member(None), member(Some(3.0)), member(Some(2.0))],
            2,
        );
        let scores: Vec<Option<f64>> = kept.iter().map(|m| m.score).collect();
        assert_eq!(scores, [Some(3.0), Some(2.0)]);
    }

    /// `n` asks and tells; the strategy and every score told.
    fn run(form: GaForm, n: usize) -> (GeneticAlgorithm, Vec<f64>) {
        let space: Arc<dyn SearchSpace> = Arc::new(Nb201Space::default());
        let mut ga = GeneticAlgorithm {
            space: space.clone(),
            prescreen: None,
            config: GaConfig {
                form,
                population: 4,
                offspring: 3,
                tournament: 2,
                crossover_probability: 0.5,
                mutation_probability: 0.5,
            },
            state: GaState {
                rng: Rng::seed_from(5),
                initial_asked: 0,
                population: Vec::new(),
                children: Vec::new(),
                generation: 0,
            },
        };
        let mut history = History::new();
        let mut told = Vec::new();
        for id in 0..n as u64 {
            let p = ga.ask(&history).unwrap();
            let mut t = Trial::new(id, p.arch.clone(), space.canonical_hash(&p.arch), p.fidelity);
            t.state = TrialState::Complete;
            t.score = Some(p.arch.indices().iter().map(|&g| f64::from(g)).sum());
            history.record(t.clone());
            ga.tell(&t);
            told.extend(t.score);
        }
        (ga, told)
    }

    #[test]
    fn generational_selects_after_every_offspring_children_and_keeps_the_elite() {
        let (ga, _) = run(GaForm::Generational, 4 + 3 * 5);
        assert_eq!(ga.state.generation, 5);
        assert!(ga.state.children.is_empty());
        assert_eq!(ga.state.population.len(), 4);
        let (ga, _) = run(GaForm::Generational, 4 + 3 * 5 + 2);
        assert_eq!((ga.state.generation, ga.state.children.len()), (5, 2));
    }

    #[test]
    fn steady_state_holds_the_best_population_members_seen() {
        let (ga, mut told) = run(GaForm::SteadyState, 40);
        assert_eq!(ga.state.population.len(), 4);
        assert_eq!(ga.state.generation, 0);
        // Elitism: the members are the four best results told (scores are gene sums).
        let mut kept: Vec<f64> = ga.state.population.iter().filter_map(|m| m.score).collect();
        kept.sort_by(|a, b| b.total_cmp(a));
        told.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(kept, told[..4]);
    }
}
