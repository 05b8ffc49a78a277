//! `ehvi-bo`: multi-objective Bayesian optimisation by expected hypervolume improvement,
//! using the objectives known before evaluation (a latency table, a parameter count) as
//! they are and a GP for each of the others.

use std::sync::Arc;

use archer_core::pareto::{non_dominated_ranks, Point};
use archer_core::{Arch, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::SearchSpace;
use archer_strategy::{
    passes, sample_passing, GpKernel, Kind, Prescreen, Proposal, Strategy, StrategyError,
    StrategySettings,
};
use serde::{Deserialize, Serialize};

use crate::ehvi::{normal_quadrature, Axis, Ehvi};
use crate::model_search::{candidates, ModelFailures};
use crate::{gaussian_copula, GaussianProcess, PredictError, Predictor};

pub(crate) static KIND: Kind<EhviBoConfig> = Kind::new(
    "ehvi-bo",
    "multi-objective BO: expected hypervolume improvement, a GP per objective not known before evaluation",
    |c, ctx| Box::new(EhviBo::new(ctx.space, ctx.rng, c, ctx.prescreen)),
)
.multi_objective();

/// `[strategy] name = "ehvi-bo"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EhviBoConfig {
    /// The GP's architecture kernel.
    #[serde(default)]
    pub kernel: GpKernel,
    /// Random architectures before the first model fit (10, chosen on seeds 100-149 over 5).
    #[serde(default = "initial_samples")]
    pub initial_samples: usize,
    /// Candidates: every one-edit neighbour of the `parents` best results (by
    /// non-dominated rank) ...
    #[serde(default = "parents")]
    pub parents: usize,
    /// ... plus this many random architectures.
    #[serde(default = "random_candidates")]
    pub random_candidates: usize,
    /// Gauss-Hermite nodes per predicted objective for the expectation.
    #[serde(default = "quadrature")]
    pub quadrature: usize,
}

/// The reference point lies this share of the observed range below the worst feasible
/// result on every axis. Chosen on seeds 100-149 of the three NB201 pairs (README) among
/// 0.1, 0.5 and 1: a distant reference credits the ends of the front, which the nearer
/// ones left unexplored.
const REFERENCE_MARGIN: f64 = 1.0;

fn initial_samples() -> usize {
    10
}
fn parents() -> usize {
    10
}
fn random_candidates() -> usize {
    2000
}
fn quadrature() -> usize {
    16
}

impl StrategySettings for EhviBoConfig {
    fn validate(&self) -> Result<(), String> {
        if self.initial_samples < 2 {
            return Err(format!(
                "strategy.initial_samples = {}; at least 2 (a model needs two results)",
                self.initial_samples
            ));
        }
        if self.parents + self.random_candidates == 0 {
            return Err("strategy.parents and strategy.random_candidates are both 0: no candidates to score".into());
        }
        if !(1..=64).contains(&self.quadrature) {
            return Err(format!(
                "strategy.quadrature = {}; accepted: 1 to 64",
                self.quadrature
            ));
        }
        Ok(())
    }
}

/// Expected hypervolume improvement search (Emmerich et al. 2006), asynchronous.
///
/// Each ask reads every result from the history. Objectives are scaled to [0, 1] over the
/// feasible COMPLETE results (1 = best seen), and the reference point is −1 on every axis
/// (a whole observed range below the worst result). An objective that the study's
/// evaluator knows before evaluation (the prescreen's `known_scores`) is taken as it is for
/// every candidate; each other objective gets a GP,
/// fitted on the Gaussian copula transform of its results (as BO's), whose prediction is
/// mapped back to the objective's scale through the inverse of that transform (linear
/// between the results, extended by the slope of the top and bottom tenth). Candidates (the
/// one-edit neighbours of the best-ranked results plus random ones, never a known one, and
/// only those that pass the constraints known before evaluation) are scored by the
/// expectation of their improvement over the feasible front, by Gauss-Hermite quadrature;
/// the best is proposed. Pending trials are not modelled: a parallel worker proposes the
/// next best unknown candidate only through de-duplication.
pub struct EhviBo {
    space: Arc<dyn SearchSpace>,
    config: EhviBoConfig,
    prescreen: Option<Arc<dyn Prescreen>>,
    state: EhviState,
}

#[derive(Serialize, Deserialize)]
struct EhviState {
    rng: Rng,
    initial_asked: usize,
    #[serde(default)]
    model_failures: ModelFailures,
}

/// The feasible results, scaled: 1 = best seen on every axis, 0 = worst seen.
struct Scaled {
    archs: Vec<Arch>,
    points: Vec<Vec<f64>>,
    /// Each result's non-dominated rank (0 = the front).
    ranks: Vec<usize>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Scaled {
    fn of(history: &History) -> Option<Scaled> {
        let done: Vec<&Trial> = history
            .trials()
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.feasible && !t.scores.is_empty())
            .collect();
        let dims = done.first()?.scores.len();
        let done: Vec<&Trial> = done
            .into_iter()
            .filter(|t| t.scores.len() == dims && t.scores.iter().all(|s| s.is_finite()))
            .collect();
        if done.len() < 2 {
            return None;
        }
        let mut lo = vec![f64::INFINITY; dims];
        let mut hi = vec![f64::NEG_INFINITY; dims];
        for t in &done {
            for k in 0..dims {
                lo[k] = lo[k].min(t.scores[k]);
                hi[k] = hi[k].max(t.scores[k]);
            }
        }
        let mut scaled = Scaled {
            archs: done.iter().map(|t| t.arch.clone()).collect(),
            points: Vec::new(),
            ranks: Vec::new(),
            lo,
            hi,
        };
        scaled.points = done.iter().map(|t| scaled.scale(&t.scores)).collect();
        let points: Vec<Point> = scaled.points.iter().map(|p| Point::feasible(p)).collect();
        scaled.ranks = non_dominated_ranks(&points);
        Some(scaled)
    }

    fn scale_axis(&self, k: usize, v: f64) -> f64 {
        let span = self.hi[k] - self.lo[k];
        if span > 0.0 {
            (v - self.lo[k]) / span
        } else {
            v - self.lo[k]
        }
    }

    fn scale(&self, scores: &[f64]) -> Vec<f64> {
        scores
            .iter()
            .enumerate()
            .map(|(k, &v)| self.scale_axis(k, v))
            .collect()
    }
}

/// A predicted objective's values at the quadrature nodes, with their weights.
type Nodes = Vec<(f64, f64)>;

/// The inverse of the Gaussian copula transform of `values`: a latent value back on the
/// values' scale.
struct InverseCopula {
    /// (latent, value), both increasing.
    knots: Vec<(f64, f64)>,
    slope_low: f64,
    slope_high: f64,
}

impl InverseCopula {
    fn new(values: &[f64], latent: &[f64]) -> Self {
        let mut knots: Vec<(f64, f64)> = latent.iter().copied().zip(values.iter().copied()).collect();
        knots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        knots.dedup_by(|a, b| a.0 == b.0);
        let n = knots.len();
        let tenth = (n / 10).max(1).min(n - 1);
        let slope = |a: (f64, f64), b: (f64, f64)| {
            if b.0 > a.0 {
                ((b.1 - a.1) / (b.0 - a.0)).max(0.0)
            } else {
                0.0
            }
        };
        InverseCopula {
            slope_low: slope(knots[0], knots[tenth]),
            slope_high: slope(knots[n - 1 - tenth], knots[n - 1]),
            knots,
        }
    }

    fn value(&self, z: f64) -> f64 {
        let (first, last) = (self.knots[0], self.knots[self.knots.len() - 1]);
        if z <= first.0 {
            return first.1 + self.slope_low * (z - first.0);
        }
        if z >= last.0 {
            return last.1 + self.slope_high * (z - last.0);
        }
        let i = self.knots.partition_point(|k| k.0 <= z);
        let (a, b) = (self.knots[i - 1], self.knots[i]);
        a.1 + (b.1 - a.1) * (z - a.0) / (b.0 - a.0)
    }
}

impl EhviBo {
    pub fn new(
        space: Arc<dyn SearchSpace>,
        rng: Rng,
        config: EhviBoConfig,
        prescreen: Option<Arc<dyn Prescreen>>,
    ) -> Self {
        EhviBo {
            space,
            config,
            prescreen,
            state: EhviState {
                rng,
                initial_asked: 0,
                model_failures: ModelFailures::default(),
            },
        }
    }

    fn known_scores(&self, arch: &Arch) -> Vec<Option<f64>> {
        self.prescreen
            .as_ref()
            .map_or_else(Vec::new, |p| p.known_scores(arch))
    }

    /// The expected improvement of every candidate, or why the model could not give it.
    fn score(
        &mut self,
        data: &Scaled,
        pool: &[Arch],
        known: &[Vec<Option<f64>>],
    ) -> Result<Vec<f64>, PredictError> {
        let dims = data.lo.len();
        let uncertain: Vec<bool> = (0..dims)
            .map(|k| known.iter().any(|c| c.get(k).copied().flatten().is_none()))
            .collect();
        let rule = normal_quadrature(self.config.quadrature);
        // Per predicted axis: the values at every quadrature node, per candidate.
        let mut predicted: Vec<Option<Vec<Nodes>>> = vec![None; dims];
        for k in (0..dims).filter(|&k| uncertain[k]) {
            let values: Vec<f64> = data.points.iter().map(|p| p[k]).collect();
            let latent = gaussian_copula(&values);
            let inverse = InverseCopula::new(&values, &latent);
            let mut gp = GaussianProcess::new(self.space.clone(), self.config.kernel);
            let mut fit_rng = Rng::derive(self.state.rng.next_u64(), 0x0046_4954); // "FIT"
            gp.fit(&data.archs, &latent, &mut fit_rng)?;
            let nodes = gp
                .predict(pool)?
                .into_iter()
                .map(|p| {
                    rule.iter()
                        .map(|&(z, w)| (inverse.value(p.mean + p.std * z), w))
                        .collect()
                })
                .collect();
            predicted[k] = Some(nodes);
        }
        let front: Vec<Vec<f64>> = data
            .points
            .iter()
            .zip(&data.ranks)
            .filter(|(_, &r)| r == 0)
            .map(|(p, _)| p.clone())
            .collect();
        let ehvi = Ehvi::new(front, vec![-REFERENCE_MARGIN; dims], &uncertain);
        Ok((0..pool.len())
            .map(|i| {
                let axes: Vec<Axis> = (0..dims)
                    .map(|k| match (&predicted[k], known[i].get(k).copied().flatten()) {
                        (Some(nodes), _) => Axis::Uncertain(nodes[i].clone()),
                        (None, Some(v)) => Axis::Known(data.scale_axis(k, v)),
                        (None, None) => unreachable!("an axis unknown for a candidate is predicted"),
                    })
                    .collect();
                ehvi.expected(&axes)
            })
            .collect())
    }
}

impl Strategy for EhviBo {
    fn name(&self) -> &str {
        "ehvi-bo"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        let prescreen = self.prescreen.as_deref();
        let data = Scaled::of(history);
        let Some(data) = data.filter(|_| self.state.initial_asked >= self.config.initial_samples)
        else {
            self.state.initial_asked += 1;
            return Ok(Proposal::full(sample_passing(
                self.space.as_ref(),
                prescreen,
                &mut self.state.rng,
            )?));
        };
        // Parents: the results by non-dominated rank (ties in the order they arrived).
        let ranked: Vec<(Arch, f64)> = data
            .archs
            .iter()
            .cloned()
            .zip(data.ranks.iter().map(|&r| -(r as f64)))
            .collect();
        let mut pool = candidates(
            self.space.as_ref(),
            history,
            &ranked,
            self.config.parents,
            self.config.random_candidates,
            &mut self.state.rng,
        )?;
        if pool.iter().any(|a| passes(prescreen, a)) {
            pool.retain(|a| passes(prescreen, a));
        }
        if pool.is_empty() {
            return Ok(Proposal::full(sample_passing(
                self.space.as_ref(),
                prescreen,
                &mut self.state.rng,
            )?));
        }
        let known: Vec<Vec<Option<f64>>> = pool.iter().map(|a| self.known_scores(a)).collect();
        match self.score(&data, &pool, &known) {
            Ok(values) => {
                let best = (0..pool.len())
                    .max_by(|&a, &b| values[a].total_cmp(&values[b]).then(b.cmp(&a)))
                    .expect("the pool is not empty");
                Ok(Proposal::full(pool.swap_remove(best)))
            }
            Err(e) => {
                // A model that cannot fit this data must not stop the search.
                self.state.model_failures.record(e);
                let pick = self.state.rng.below(pool.len());
                Ok(Proposal::full(pool.swap_remove(pick)))
            }
        }
    }

    fn tell(&mut self, _trial: &Trial) {
        // Every result is read from the history at each ask.
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = serde_json::from_value(state).map_err(|e| StrategyError::Restore {
            strategy: "ehvi-bo".into(),
            reason: e.to_string(),
        })?;
        Ok(())
    }
}
