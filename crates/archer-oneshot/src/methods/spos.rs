//! Single Path One-Shot (Guo et al. 2020): the supernet trains one uniformly drawn path per
//! step; then, with the weights frozen, an evolutionary search over paths (a random
//! population, each generation's top k as parents, mutation and uniform crossover) scores
//! every candidate on the shared weights with its batch norms recalibrated, and the best is
//! chosen. Mutation is the space's one-edit mutation (SPOS resamples each choice with
//! probability 0.1).

use std::collections::HashMap;

use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};

use crate::method::{Method, MethodKind, Scorer, Selection, Step};
use crate::search::StepLosses;
use crate::settings::EvolutionSettings;
use crate::{OneShotError, Supernet};

pub static SPOS: MethodKind = MethodKind {
    name: "spos",
    summary: "single path one-shot: uniform single paths, then evolution over paths on the frozen supernet",
    default_epochs: 250,
    mixes: false,
    build: |i| {
        Ok(Box::new(Spos {
            evolution: i.settings.evolution(),
        }))
    },
};

struct Spos {
    evolution: EvolutionSettings,
}

impl Method for Spos {
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError> {
        super::uniform_path_step(s)
    }

    fn preferred(&self, _net: &Supernet) -> Option<Arch> {
        None
    }

    fn has_alpha(&self) -> bool {
        false
    }

    fn select(
        &mut self,
        _net: &Supernet,
        space: &dyn SearchSpace,
        score: &mut Scorer,
        rng: &mut Rng,
        keep: usize,
    ) -> Result<Selection, OneShotError> {
        let ranked = evolve(&self.evolution, space, score, rng)?;
        let scored = ranked.len();
        Ok(Selection {
            ranked: ranked.into_iter().take(keep.max(1)).collect(),
            scored,
        })
    }
}

/// The evolutionary search over paths: every architecture scored (each once, by canonical
/// hash), best first (ties by hash, so the order is stable), with its score.
pub fn evolve(
    e: &EvolutionSettings,
    space: &dyn SearchSpace,
    score: &mut Scorer,
    rng: &mut Rng,
) -> Result<Vec<(Arch, f64)>, OneShotError> {
    let mut scored: HashMap<String, (Arch, f64)> = HashMap::new();
    let mut evaluate = |arch: Arch, scored: &mut HashMap<String, (Arch, f64)>| {
        let key = space.canonical_hash(&arch);
        if scored.contains_key(&key) {
            return Ok(false);
        }
        let acc = score(&arch)?;
        scored.insert(key, (arch, acc));
        Ok::<bool, OneShotError>(true)
    };
    let mut tries = 0;
    while scored.len() < e.population && tries < e.population * 20 {
        tries += 1;
        let arch = space
            .sample(rng)
            .map_err(|err| OneShotError::Setting(err.to_string()))?;
        evaluate(arch, &mut scored)?;
    }
    for _ in 0..e.generations {
        let parents = top(&scored, e.top_k);
        if parents.is_empty() {
            break;
        }
        let mut made = 0;
        let mut tries = 0;
        while made < e.mutations && tries < e.mutations * 20 {
            tries += 1;
            let parent = &parents[rng.below(parents.len())];
            let child = space.mutate(parent, rng);
            if space.check(&child).is_ok() && evaluate(child, &mut scored)? {
                made += 1;
            }
        }
        let (mut made, mut tries) = (0, 0);
        while made < e.crossovers && tries < e.crossovers * 20 && parents.len() > 1 {
            tries += 1;
            let a = &parents[rng.below(parents.len())];
            let b = &parents[rng.below(parents.len())];
            let child = space.crossover(a, b, rng);
            if space.check(&child).is_ok() && evaluate(child, &mut scored)? {
                made += 1;
            }
        }
    }
    if scored.is_empty() {
        return Err(OneShotError::Setting("no candidate to score".into()));
    }
    Ok(ranked(&scored, scored.len()))
}

/// The `k` best scored architectures with their scores, best first (ties by hash, so the
/// order is stable).
fn ranked(scored: &HashMap<String, (Arch, f64)>, k: usize) -> Vec<(Arch, f64)> {
    let mut all: Vec<(&String, &(Arch, f64))> = scored.iter().collect();
    all.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1).then(a.0.cmp(b.0)));
    all.into_iter().take(k).map(|(_, v)| v.clone()).collect()
}

/// The `k` best scored architectures, best first.
fn top(scored: &HashMap<String, (Arch, f64)>, k: usize) -> Vec<Arch> {
    ranked(scored, k).into_iter().map(|(a, _)| a).collect()
}
