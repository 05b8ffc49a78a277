//! Random search with parameter sharing (Li & Talwalkar 2019): each step trains one path
//! drawn uniformly from the space; at the end `candidates` distinct random architectures
//! are scored on the shared weights and the best is chosen.

use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};

use crate::method::{Method, MethodKind, Scorer, Selection, Step};
use crate::search::StepLosses;
use crate::{OneShotError, Supernet};

pub static RSPS: MethodKind = MethodKind {
    name: "rsps",
    summary: "random search with parameter sharing: uniform single paths, then the best of N random architectures on the shared weights",
    default_epochs: 250,
    mixes: false,
    build: |i| {
        Ok(Box::new(Rsps {
            candidates: i.settings.candidates(),
        }))
    },
};

struct Rsps {
    candidates: usize,
}

impl Method for Rsps {
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
        super::best_of_distinct(self.candidates, keep, space, score, &mut || {
            space
                .sample(rng)
                .map_err(|e| OneShotError::Setting(e.to_string()))
        })
    }
}
