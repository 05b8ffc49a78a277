//! ParEGO's random scalarisation (Knowles 2006) of several objectives into one target.

use std::marker::PhantomData;

use archer_core::{Arch, History, TrialState};
use archer_rng::Rng;
use archer_strategy::{
    BuildContext, ModelSearchSettings, Settings, Strategy, StrategyError, StrategyKind,
};
use serde::de::DeserializeOwned;

use crate::ModelBasedSearch;

/// A registered ParEGO strategy over a model-based configuration `C` (BO's or BANANAS'
/// settings, all of whose keys it accepts, plus `rho`).
pub struct ParegoKind<C> {
    name: &'static str,
    summary: &'static str,
    settings: fn(&C) -> ModelSearchSettings,
    /// Settings that differ from the base strategy's defaults when not written.
    defaults: &'static [(&'static str, u64)],
    config: PhantomData<fn() -> C>,
}

impl<C> ParegoKind<C> {
    pub const fn new(
        name: &'static str,
        summary: &'static str,
        settings: fn(&C) -> ModelSearchSettings,
        defaults: &'static [(&'static str, u64)],
    ) -> Self {
        ParegoKind {
            name,
            summary,
            settings,
            defaults,
            config: PhantomData,
        }
    }
}

impl<C: DeserializeOwned> ParegoKind<C> {
    fn parse(&self, settings: &Settings) -> Result<(ModelSearchSettings, Parego), StrategyError> {
        let bad = |reason: String| StrategyError::InvalidSetting {
            strategy: self.name.to_string(),
            reason,
        };
        let mut rest = settings.clone();
        for (key, value) in self.defaults {
            rest.entry(key.to_string())
                .or_insert_with(|| serde_json::Value::from(*value));
        }
        let rho = match rest.remove("rho") {
            None => Parego::default().rho,
            Some(v) => v
                .as_f64()
                .filter(|r| r.is_finite() && *r >= 0.0 && *r <= 1.0)
                .ok_or_else(|| bad(format!("strategy.rho = {v}; accepted: 0 to 1")))?,
        };
        let config: C = serde_json::from_value(serde_json::Value::Object(rest))
            .map_err(|e| bad(format!("[strategy]: {e}")))?;
        let mut model = (self.settings)(&config);
        model.validate().map_err(bad)?;
        model.name = self.name;
        Ok((model, Parego { rho }))
    }
}

impl<C: DeserializeOwned> StrategyKind for ParegoKind<C> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn multi_objective(&self) -> bool {
        true
    }

    fn check(&self, settings: &Settings) -> Result<(), StrategyError> {
        self.parse(settings).map(|_| ())
    }

    fn build(
        &self,
        settings: &Settings,
        ctx: BuildContext,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        let (model, parego) = self.parse(settings)?;
        Ok(Box::new(
            ModelBasedSearch::new(ctx.space, ctx.rng, model, ctx.warm_start)
                .with_parego(parego)
                .with_prescreen(ctx.prescreen),
        ))
    }
}

/// Augmented Chebyshev scalarisation with fresh random weights at every ask.
///
/// Each objective is scaled to [0, 1] over the feasible COMPLETE results so far (0 = best
/// seen), a weight vector is drawn uniformly from the simplex, and each result's target is
/// `−(max_k w_k f_k + ρ Σ_k w_k f_k)` (higher = better, as models expect). Infeasible
/// results get targets below every feasible one, ordered by their total violation, so the
/// model learns where the constraints bite. Knowles draws the weights from a fixed lattice;
/// a uniform draw from the simplex is the common continuous variant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parego {
    /// The augmentation weight ρ (Knowles: 0.05).
    pub rho: f64,
}

impl Default for Parego {
    fn default() -> Self {
        Parego { rho: 0.05 }
    }
}

impl Parego {
    /// The training pairs for this ask, drawing the weights from `rng`.
    pub fn targets(&self, history: &History, rng: &mut Rng) -> Vec<(Arch, f64)> {
        let done: Vec<_> = history
            .trials()
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter(|t| !t.feasible || !t.scores.is_empty())
            .collect();
        let dims = done
            .iter()
            .find(|t| t.feasible)
            .map_or(0, |t| t.scores.len());
        let weights = simplex_weights(dims, rng);
        let mut lo = vec![f64::INFINITY; dims];
        let mut hi = vec![f64::NEG_INFINITY; dims];
        for t in done.iter().filter(|t| t.feasible) {
            for k in 0..dims {
                lo[k] = lo[k].min(t.scores[k]);
                hi[k] = hi[k].max(t.scores[k]);
            }
        }
        let scalar = |scores: &[f64]| {
            let mut worst = 0.0f64;
            let mut sum = 0.0;
            for k in 0..dims {
                let span = hi[k] - lo[k];
                let f = if span > 0.0 {
                    (hi[k] - scores[k]) / span
                } else {
                    0.0
                };
                worst = worst.max(weights[k] * f);
                sum += weights[k] * f;
            }
            -(worst + self.rho * sum)
        };
        let feasible_floor = done
            .iter()
            .filter(|t| t.feasible)
            .map(|t| scalar(&t.scores))
            .fold(0.0f64, f64::min);
        done.iter()
            .map(|t| {
                let target = if t.feasible {
                    scalar(&t.scores)
                } else {
                    feasible_floor - 1.0 - t.violation.min(1e6)
                };
                (t.arch.clone(), target)
            })
            .collect()
    }
}

/// A weight vector drawn uniformly from the probability simplex of `dims` entries.
fn simplex_weights(dims: usize, rng: &mut Rng) -> Vec<f64> {
    let e: Vec<f64> = (0..dims).map(|_| -(1.0 - rng.unit()).ln()).collect();
    let total: f64 = e.iter().sum();
    if total > 0.0 {
        e.iter().map(|x| x / total).collect()
    } else {
        vec![1.0 / dims.max(1) as f64; dims]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_core::{Fidelity, Trial};

    fn done(id: u64, scores: Vec<f64>, feasible: bool, violation: f64) -> Trial {
        let mut t = Trial::new(
            id,
            Arch::new("s", 1, vec![id as u16]),
            format!("{id}"),
            Fidelity::full(),
        );
        t.state = TrialState::Complete;
        t.scores = scores;
        t.feasible = feasible;
        t.violation = violation;
        t
    }

    #[test]
    fn the_front_beats_dominated_and_infeasible_results_under_any_weights() {
        let mut h = History::new();
        h.record(done(0, vec![1.0, 0.0], true, 0.0));
        h.record(done(1, vec![0.0, 1.0], true, 0.0));
        h.record(done(2, vec![0.0, 0.0], true, 0.0));
        h.record(done(3, vec![], false, 0.5));
        h.record(done(4, vec![], false, 2.0));
        let mut rng = Rng::seed_from(1);
        for _ in 0..50 {
            let t: Vec<f64> = Parego::default()
                .targets(&h, &mut rng)
                .into_iter()
                .map(|p| p.1)
                .collect();
            assert!(t[0] > t[2] && t[1] > t[2], "{t:?}");
            assert!(t[2] > t[3] && t[3] > t[4], "{t:?}");
        }
        let w = simplex_weights(3, &mut rng);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12 && w.iter().all(|&x| x >= 0.0));
    }
}
