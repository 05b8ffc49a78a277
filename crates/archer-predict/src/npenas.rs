//! NPENAS: regularized evolution whose children are ranked by a predictor before any is
//! evaluated (Wei et al., "NPENAS: Neural predictor guided evolution for NAS", 2022).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::SearchSpace;
use archer_strategy::{NpenasConfig, Proposal, Strategy, StrategyError};
use serde::{Deserialize, Serialize};

use crate::model_search::{initial_arch, ranking, ModelFailures, Scoring};
use crate::{build_predictor, Predictor};

/// Predictor-guided evolution. The population is the `population` most recent results
/// (REA's aging). Each step: the best of `sample` members drawn with replacement is the
/// parent; up to `children` distinct, unknown mutants of it are made; the predictor, fitted
/// on every result so far, scores them by the acquisition (the predicted mean by default);
/// the best is proposed.
pub struct Npenas {
    space: Arc<dyn SearchSpace>,
    config: NpenasConfig,
    predictor: Box<dyn Predictor>,
    state: NpenasState,
}

#[derive(Serialize, Deserialize)]
struct NpenasState {
    rng: Rng,
    initial_asked: usize,
    warm: VecDeque<Arch>,
    /// Oldest first.
    population: VecDeque<(Arch, f64)>,
    observed: Vec<(Arch, f64)>,
    #[serde(default)]
    model_failures: ModelFailures,
}

impl Npenas {
    /// `config` must be valid (checked by `StrategyConfig::validate`).
    pub fn new(
        space: Arc<dyn SearchSpace>,
        rng: Rng,
        config: NpenasConfig,
        warm_start: Vec<Arch>,
    ) -> Self {
        let predictor = build_predictor(&config.predictor, space.clone());
        Npenas {
            space,
            config,
            predictor,
            state: NpenasState {
                rng,
                initial_asked: 0,
                warm: warm_start.into(),
                population: VecDeque::new(),
                observed: Vec::new(),
                model_failures: ModelFailures::default(),
            },
        }
    }
}

impl Strategy for Npenas {
    fn name(&self) -> &str {
        "npenas"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        let space = self.space.as_ref();
        let s = &mut self.state;
        if s.initial_asked < self.config.population || s.population.is_empty() {
            s.initial_asked += 1;
            return Ok(Proposal::full(initial_arch(
                space,
                history,
                &mut s.warm,
                &mut s.rng,
            )?));
        }
        let mut parent: Option<&(Arch, f64)> = None;
        for _ in 0..self.config.sample {
            let m = &s.population[s.rng.below(s.population.len())];
            if parent.is_none_or(|p| m.1 > p.1) {
                parent = Some(m);
            }
        }
        let parent = parent.expect("sample >= 1, population non-empty").0.clone();
        let mut seen = HashSet::new();
        let mut children = Vec::new();
        for _ in 0..self.config.children * 5 {
            if children.len() >= self.config.children {
                break;
            }
            let child = space.mutate(&parent, &mut s.rng);
            let hash = space.canonical_hash(&child);
            if !history.is_known(&hash, &Fidelity::full()) && seen.insert(hash) {
                children.push(child);
            }
        }
        if children.is_empty() {
            return Ok(Proposal::full(space.mutate(&parent, &mut s.rng)));
        }
        if children.len() == 1 || s.observed.len() < 2 {
            return Ok(Proposal::full(children.swap_remove(0)));
        }
        let scoring = Scoring {
            acquisition: self.config.acquisition,
            ucb_beta: self.config.ucb_beta,
        };
        let values =
            match scoring.score(self.predictor.as_mut(), &s.observed, &children, &mut s.rng) {
                Ok(v) => v,
                Err(e) => {
                    // As in REA: the first mutant, and the reason kept in the state.
                    s.model_failures.record(e);
                    return Ok(Proposal::full(children.swap_remove(0)));
                }
            };
        let pick = ranking(&values)[0];
        Ok(Proposal::full(children.swap_remove(pick)))
    }

    fn tell(&mut self, trial: &Trial) {
        let (TrialState::Complete, Some(score)) = (trial.state, trial.score) else {
            return;
        };
        if !score.is_finite() {
            return;
        }
        let s = &mut self.state;
        s.observed.push((trial.arch.clone(), score));
        s.population.push_back((trial.arch.clone(), score));
        while s.population.len() > self.config.population {
            s.population.pop_front();
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = serde_json::from_value(state).map_err(|e| StrategyError::Restore {
            strategy: "npenas".into(),
            reason: e.to_string(),
        })?;
        Ok(())
    }
}
