//! Random search with parameter sharing (Li & Talwalkar 2019): each step trains one path
//! drawn uniformly from the space; at the end `candidates` distinct random architectures
//! are scored on the shared weights and the best is chosen.

use std::collections::HashSet;

use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};

use crate::method::{Method, MethodKind, Scorer, Step};
use crate::search::StepLosses;
use crate::{Nb201Supernet, OneShotError};

pub static RSPS: MethodKind = MethodKind {
    name: "rsps",
    summary: "random search with parameter sharing: uniform single paths, then the best of N random architectures on the shared weights",
    default_epochs: 250,
    build: |s, _net| Box::new(Rsps { candidates: s.candidates() }),
};

struct Rsps {
    candidates: usize,
}

impl Method for Rsps {
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError> {
        super::uniform_path_step(s)
    }

    fn preferred(&self, _net: &Nb201Supernet) -> Option<Arch> {
        None
    }

    fn select(
        &mut self,
        _net: &Nb201Supernet,
        space: &dyn SearchSpace,
        score: &mut Scorer,
        rng: &mut Rng,
    ) -> Result<(Arch, usize), OneShotError> {
        let mut seen = HashSet::new();
        let mut best: Option<(Arch, f64)> = None;
        // Distinct architectures; a space with fewer than `candidates` stops at its size.
        let mut tries = 0;
        while seen.len() < self.candidates && tries < self.candidates * 20 {
            tries += 1;
            let arch = space
                .sample(rng)
                .map_err(|e| OneShotError::Setting(e.to_string()))?;
            if !seen.insert(space.canonical_hash(&arch)) {
                continue;
            }
            let acc = score(&arch)?;
            if best.as_ref().is_none_or(|(_, b)| acc > *b) {
                best = Some((arch, acc));
            }
        }
        let (arch, _) =
            best.ok_or_else(|| OneShotError::Setting("no candidate to score".into()))?;
        Ok((arch, seen.len()))
    }
}
