//! The model-based search loop shared by BO and BANANAS.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial};
use archer_rng::Rng;
use archer_space::SearchSpace;
use archer_strategy::{
    draw_passing, passes, AcquisitionKind, ModelSearchSettings, Prescreen, Proposal, Strategy,
    StrategyError,
};
use serde::{Deserialize, Serialize};

use crate::{acquire, build_predictor, gaussian_copula, PredictError, Predictor};

/// Model-based search: after `initial_samples` random (or zero-cost warm-start)
/// architectures, each step fits the predictor on every result so far, scores candidates
/// (every one-edit neighbour of the `parents` best architectures plus `random_candidates`
/// random ones, never one already evaluated or pending) by the acquisition function, and
/// proposes the `batch` best.
///
/// BO is this loop with a GP; BANANAS with an MLP ensemble on the path encoding. Both use
/// expected improvement by default.
pub struct ModelBasedSearch {
    space: Arc<dyn SearchSpace>,
    settings: ModelSearchSettings,
    predictor: Box<dyn Predictor>,
    /// Several objectives: the model is fitted on a fresh random scalarisation at each ask.
    parego: Option<crate::Parego>,
    /// Constraints known before evaluation: candidates that break them are not scored.
    prescreen: Option<Arc<dyn Prescreen>>,
    state: SearchState,
}

#[derive(Serialize, Deserialize)]
struct SearchState {
    rng: Rng,
    initial_asked: usize,
    /// Warm-start architectures not yet proposed, best proxy score first.
    warm: VecDeque<Arch>,
    /// Every COMPLETE result told, in order.
    observed: Vec<(Arch, f64)>,
    /// Proposals chosen by the last model fit and not yet handed out.
    queue: VecDeque<Arch>,
    /// Asks whose model failed (and fell back to a random candidate), with the last error,
    /// so a failing predictor shows in the saved strategy state instead of passing unseen.
    #[serde(default)]
    model_failures: ModelFailures,
}

/// How often the predictor failed to fit or predict, and the last reason.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ModelFailures {
    pub count: u64,
    pub last: Option<String>,
}

impl ModelFailures {
    pub(crate) fn record(&mut self, error: PredictError) {
        self.count += 1;
        self.last = Some(error.to_string());
    }
}

impl ModelBasedSearch {
    /// `settings` must be valid (checked by `StrategyConfig::validate`); `warm_start` lists
    /// the architectures to begin with, best first. The predictor is fitted on the Gaussian
    /// copula transform of the scores ([`crate::gaussian_copula`]).
    pub fn new(
        space: Arc<dyn SearchSpace>,
        rng: Rng,
        settings: ModelSearchSettings,
        warm_start: Vec<Arch>,
    ) -> Self {
        let predictor = build_predictor(&settings.predictor, space.clone());
        ModelBasedSearch {
            space,
            settings,
            predictor,
            parego: None,
            prescreen: None,
            state: SearchState {
                rng,
                initial_asked: 0,
                warm: warm_start.into(),
                observed: Vec::new(),
                queue: VecDeque::new(),
                model_failures: ModelFailures::default(),
            },
        }
    }
}

impl ModelBasedSearch {
    /// The same search on several objectives (ParEGO): at each ask the results are
    /// scalarised by `parego` with fresh random weights and the model is fitted on that.
    pub fn with_parego(mut self, parego: crate::Parego) -> Self {
        self.parego = Some(parego);
        self
    }

    /// Random starts are drawn until they pass `prescreen`, and candidates that do not pass
    /// are dropped before scoring (unless none passes).
    pub fn with_prescreen(mut self, prescreen: Option<Arc<dyn Prescreen>>) -> Self {
        self.prescreen = prescreen;
        self
    }

    /// What the model is fitted on: every COMPLETE result's score, or under ParEGO this
    /// ask's scalarisation of every COMPLETE result (infeasible ones below the feasible).
    fn training_data(&mut self, history: &History) -> Vec<(Arch, f64)> {
        match &self.parego {
            Some(p) => p.targets(history, &mut self.state.rng),
            None => self.state.observed.clone(),
        }
    }
}

/// Whether `arch` was already evaluated or is pending.
pub(crate) fn known(space: &dyn SearchSpace, history: &History, arch: &Arch) -> bool {
    history.is_known(&space.canonical_hash(arch), &Fidelity::full())
}

/// The next warm-start architecture that is not known, else a random unknown one (a random
/// one if 100 draws found nothing new; the de-duplicating wrapper handles that case).
pub(crate) fn initial_arch(
    space: &dyn SearchSpace,
    history: &History,
    warm: &mut VecDeque<Arch>,
    rng: &mut Rng,
) -> Result<Arch, StrategyError> {
    while let Some(a) = warm.pop_front() {
        if !known(space, history, &a) {
            return Ok(a);
        }
    }
    archer_strategy::sample_unknown(space, history, rng)
}

/// Distinct (by canonical hash), unknown candidates: the one-edit neighbours of the
/// `parents` best observed architectures, then `random` random ones.
pub(crate) fn candidates(
    space: &dyn SearchSpace,
    history: &History,
    observed: &[(Arch, f64)],
    parents: usize,
    random: usize,
    rng: &mut Rng,
) -> Result<Vec<Arch>, StrategyError> {
    let mut ranked: Vec<&(Arch, f64)> = observed.iter().collect();
    // Stable sort: ties keep the order results arrived in.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut seen_parents = HashSet::new();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut offer = |arch: Arch, out: &mut Vec<Arch>| {
        let hash = space.canonical_hash(&arch);
        if !history.is_known(&hash, &Fidelity::full()) && seen.insert(hash) {
            out.push(arch);
        }
    };
    for (arch, _) in ranked {
        if seen_parents.len() >= parents {
            break;
        }
        if !seen_parents.insert(space.canonical_hash(arch)) {
            continue;
        }
        for n in space.neighbours(arch) {
            offer(n, &mut out);
        }
    }
    for _ in 0..random {
        offer(space.sample(rng)?, &mut out);
    }
    Ok(out)
}

/// How candidates are valued once a predictor is fitted.
pub(crate) struct Scoring {
    pub acquisition: AcquisitionKind,
    pub ucb_beta: f64,
}

impl Scoring {
    /// Fits `predictor` on the Gaussian-copula transform of the observed scores (order kept,
    /// scale and outliers gone) and returns the acquisition value of each candidate, or the
    /// predictor's error. The fit's generator is derived from `rng`.
    pub(crate) fn score(
        &self,
        predictor: &mut dyn Predictor,
        observed: &[(Arch, f64)],
        candidates: &[Arch],
        rng: &mut Rng,
    ) -> Result<Vec<f64>, PredictError> {
        let (archs, scores): (Vec<Arch>, Vec<f64>) = observed.iter().cloned().unzip();
        let targets = gaussian_copula(&scores);
        let mut fit_rng = Rng::derive(rng.next_u64(), 0x0046_4954); // "FIT"
        predictor.fit(&archs, &targets, &mut fit_rng)?;
        let predictions = predictor.predict(candidates)?;
        let best = targets.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        Ok(acquire(
            self.acquisition,
            &predictions,
            best,
            self.ucb_beta,
            rng,
        ))
    }
}

/// Indices of `scores` from best to worst; NaN last, ties by index.
pub(crate) fn ranking(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (scores[a], scores[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => y.total_cmp(&x),
        }
    });
    order
}

impl Strategy for ModelBasedSearch {
    fn name(&self) -> &str {
        self.settings.name
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        let observed = if self.state.initial_asked < self.settings.initial_samples {
            Vec::new()
        } else {
            self.training_data(history)
        };
        let space = self.space.as_ref();
        let s = &mut self.state;
        let prescreen = self.prescreen.as_deref();
        if s.initial_asked < self.settings.initial_samples || observed.len() < 2 {
            s.initial_asked += 1;
            return Ok(Proposal::full(draw_passing(prescreen, || {
                initial_arch(space, history, &mut s.warm, &mut s.rng)
            })?));
        }
        while let Some(a) = s.queue.pop_front() {
            if !known(space, history, &a) {
                return Ok(Proposal::full(a));
            }
        }
        let mut pool = candidates(
            space,
            history,
            &observed,
            self.settings.parents,
            self.settings.random_candidates,
            &mut s.rng,
        )?;
        if pool.iter().any(|a| passes(prescreen, a)) {
            pool.retain(|a| passes(prescreen, a));
        }
        if pool.is_empty() {
            return Ok(Proposal::full(initial_arch(
                space,
                history,
                &mut s.warm,
                &mut s.rng,
            )?));
        }
        let scoring = Scoring {
            acquisition: self.settings.acquisition,
            ucb_beta: self.settings.ucb_beta,
        };
        let values = match scoring.score(self.predictor.as_mut(), &observed, &pool, &mut s.rng) {
            Ok(v) => v,
            Err(e) => {
                // A predictor that cannot fit this data (e.g. a numerical failure) must not
                // stop the search: fall back to a random candidate, and keep the reason.
                s.model_failures.record(e);
                let pick = s.rng.below(pool.len());
                return Ok(Proposal::full(pool[pick].clone()));
            }
        };
        let mut chosen = ranking(&values)
            .into_iter()
            .take(self.settings.batch)
            .map(|i| pool[i].clone());
        let first = chosen.next().expect("the pool is not empty");
        s.queue = chosen.collect();
        Ok(Proposal::full(first))
    }

    fn tell(&mut self, trial: &Trial) {
        if self.parego.is_some() {
            // ParEGO reads every result from the history at each ask.
            return;
        }
        if let Some(score) = trial.finite_score() {
            self.state.observed.push((trial.arch.clone(), score));
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = serde_json::from_value(state).map_err(|e| StrategyError::Restore {
            strategy: self.settings.name.to_string(),
            reason: e.to_string(),
        })?;
        Ok(())
    }
}
