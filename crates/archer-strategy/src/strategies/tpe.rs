use std::sync::Arc;

use archer_core::{Arch, History, Trial};
use archer_rng::Rng;
use archer_space::{settle, Dimension, Domain, Gene, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::{Kind, Proposal, Strategy, StrategyError, StrategySettings};

pub(crate) const KIND: Kind<TpeConfig> = Kind::new(
    "tpe",
    "tree-structured Parzen estimator with BOHB's kernel density model and defaults",
    |c, ctx| Box::new(Tpe::new(ctx.space, ctx.rng, c)),
);

/// `[strategy] name = "tpe"`. Defaults are BOHB's (Falkner et al. 2018).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpeConfig {
    /// Share of the observations that make the "good" density.
    #[serde(default = "top_fraction")]
    pub top_fraction: f64,
    /// Candidates drawn from the good density per proposal.
    #[serde(default = "candidates")]
    pub candidates: usize,
    /// Candidates are drawn with the bandwidths widened by this factor.
    #[serde(default = "bandwidth_factor")]
    pub bandwidth_factor: f64,
    /// Share of proposals drawn uniformly at random, model or not.
    #[serde(default = "random_fraction")]
    pub random_fraction: f64,
    #[serde(default = "min_bandwidth")]
    pub min_bandwidth: f64,
    /// Observations needed in each density before the model is used; default the number of
    /// dimensions + 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_points: Option<usize>,
}

fn top_fraction() -> f64 {
    0.15
}
fn candidates() -> usize {
    64
}
fn bandwidth_factor() -> f64 {
    3.0
}
fn random_fraction() -> f64 {
    1.0 / 3.0
}
fn min_bandwidth() -> f64 {
    1e-3
}

impl StrategySettings for TpeConfig {
    fn validate(&self) -> Result<(), String> {
        if !(self.top_fraction > 0.0 && self.top_fraction < 1.0) {
            return Err(format!(
                "strategy.top_fraction = {}; it must be between 0 and 1",
                self.top_fraction
            ));
        }
        if self.candidates == 0 {
            return Err("strategy.candidates must be at least 1".into());
        }
        if !(self.bandwidth_factor.is_finite() && self.bandwidth_factor > 0.0) {
            return Err("strategy.bandwidth_factor must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.random_fraction) {
            return Err("strategy.random_fraction must be between 0 and 1".into());
        }
        if !(self.min_bandwidth > 0.0 && self.min_bandwidth < 1.0) {
            return Err("strategy.min_bandwidth must be between 0 and 1".into());
        }
        if self.min_points == Some(0) {
            return Err("strategy.min_points must be at least 1".into());
        }
        Ok(())
    }
}

/// How many uniform draws stand in for candidates the density proposes outside the space
/// (a space restricted to a table's rows admits few of them).
const UNIFORM_STAND_INS: usize = 64;

/// TPE as BOHB runs it: the observations sorted by score split into the best
/// `top_fraction` (at least `min_points`) and the rest (at least `min_points`); each gets a
/// product kernel density over the genes (Aitchison–Aitken for choices, an absent gene being
/// one more choice; Gaussian on the unit interval for floats) with normal-reference
/// bandwidths `1.06 σ n^(-1/5)`, at least `min_bandwidth`. Each proposal draws `candidates`
/// points from the good density with widened bandwidths and takes the one with the highest
/// `l(x)/g(x)`; a `random_fraction` of proposals, and every proposal before both densities
/// have `min_points` observations, is uniform. Candidates outside the space (or already
/// evaluated) are replaced by uniform draws, which are ranked by the same ratio.
pub struct Tpe {
    space: Arc<dyn SearchSpace>,
    config: TpeConfig,
    state: TpeState,
}

#[derive(Serialize, Deserialize)]
struct TpeState {
    rng: Rng,
    observed: Vec<(Arch, f64)>,
}

/// One density: the observations' coded genes and a bandwidth per dimension.
struct Density {
    points: Vec<Vec<f64>>,
    bandwidths: Vec<f64>,
}

impl Tpe {
    pub fn new(space: Arc<dyn SearchSpace>, rng: Rng, config: TpeConfig) -> Self {
        Tpe {
            space,
            config,
            state: TpeState {
                rng,
                observed: Vec::new(),
            },
        }
    }

    fn min_points(&self) -> usize {
        self.config
            .min_points
            .unwrap_or(self.space.dimensions().len() + 1)
    }

    /// The good and bad densities, once there are enough observations for both.
    fn densities(&self) -> Option<(Density, Density)> {
        let n = self.state.observed.len();
        let min = self.min_points();
        if n < min + 2 {
            return None;
        }
        let mut sorted: Vec<&(Arch, f64)> = self.state.observed.iter().collect();
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        let n_good = ((self.config.top_fraction * n as f64) as usize).max(min);
        let n_bad = (((1.0 - self.config.top_fraction) * n as f64) as usize).max(min);
        let dims = self.space.dimensions();
        let code = |a: &Arch| code(dims, &a.genes);
        let good: Vec<Vec<f64>> = sorted[..n_good.min(n)].iter().map(|o| code(&o.0)).collect();
        let bad: Vec<Vec<f64>> = sorted[n - n_bad.min(n)..]
            .iter()
            .map(|o| code(&o.0))
            .collect();
        Some((
            Density::fit(dims, good, self.config.min_bandwidth),
            Density::fit(dims, bad, self.config.min_bandwidth),
        ))
    }

    /// A candidate drawn from `good` with widened bandwidths, as genes.
    fn draw(&mut self, good: &Density) -> Vec<Gene> {
        let dims = self.space.dimensions();
        let rng = &mut self.state.rng;
        let centre = &good.points[rng.below(good.points.len())];
        let mut genes: Vec<Gene> = dims
            .iter()
            .zip(centre)
            .zip(&good.bandwidths)
            .map(|((d, &c), &bw)| {
                let bw = bw * self.config.bandwidth_factor;
                match d.domain {
                    Domain::Float { .. } if c.is_nan() => Gene::Absent,
                    Domain::Float { .. } => {
                        let mut u = c + bw * rng.normal();
                        for _ in 0..16 {
                            if (0.0..=1.0).contains(&u) {
                                break;
                            }
                            u = c + bw * rng.normal();
                        }
                        Gene::float(d.float_at(u.clamp(0.0, 1.0)))
                    }
                    _ if rng.unit() < 1.0 - bw => decode_choice(d, c),
                    _ => Gene::Index(d.allowed[rng.below(d.allowed.len())]),
                }
            })
            .collect();
        settle(dims, &mut genes, Some(rng));
        genes
    }

    fn fresh(&self, arch: &Arch, history: &History) -> bool {
        self.space.check(arch).is_ok()
            && history
                .with_hash(&self.space.canonical_hash(arch))
                .next()
                .is_none()
    }
}

/// Each gene as a number: a choice by its position among the allowed values (an absent
/// gene is one more position), a float by its place in the unit interval (NaN if absent).
fn code(dims: &[Dimension], genes: &[Gene]) -> Vec<f64> {
    dims.iter()
        .zip(genes)
        .map(|(d, &g)| match (d.domain.clone(), g) {
            (Domain::Float { .. }, Gene::Absent) => f64::NAN,
            (Domain::Float { .. }, g) => d.unit(g),
            (_, Gene::Index(i)) => d.allowed.iter().position(|&a| a == i).unwrap_or(0) as f64,
            (_, _) => d.allowed.len() as f64,
        })
        .collect()
}

fn decode_choice(d: &Dimension, c: f64) -> Gene {
    d.allowed
        .get(c as usize)
        .map_or(Gene::Absent, |&i| Gene::Index(i))
}

impl Density {
    fn fit(dims: &[Dimension], points: Vec<Vec<f64>>, min_bw: f64) -> Self {
        let bandwidths = dims
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let xs: Vec<f64> = points
                    .iter()
                    .map(|p| p[k])
                    .filter(|x| !x.is_nan())
                    .collect();
                let n = xs.len().max(1) as f64;
                let mean = xs.iter().sum::<f64>() / n;
                let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                let bw = 1.06 * sd * n.powf(-0.2);
                let cap = match d.domain {
                    Domain::Float { .. } => 1.0,
                    _ => {
                        let k = (d.allowed.len() + 1) as f64;
                        (k - 1.0) / k
                    }
                };
                bw.clamp(min_bw, cap.max(min_bw))
            })
            .collect();
        Density { points, bandwidths }
    }

    /// The density at coded point `x` (up to a constant common to all points).
    fn at(&self, dims: &[Dimension], x: &[f64]) -> f64 {
        let mut total = 0.0;
        for p in &self.points {
            let mut k = 1.0;
            for (j, d) in dims.iter().enumerate() {
                let bw = self.bandwidths[j];
                k *= match d.domain {
                    Domain::Float { .. } if x[j].is_nan() || p[j].is_nan() => 1.0,
                    Domain::Float { .. } => (-0.5 * ((x[j] - p[j]) / bw).powi(2)).exp() / bw,
                    _ if x[j] == p[j] => 1.0 - bw,
                    _ => bw / d.allowed.len().max(1) as f64,
                };
            }
            total += k;
        }
        total / self.points.len().max(1) as f64
    }
}

impl Strategy for Tpe {
    fn name(&self) -> &str {
        "tpe"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        let explore = self.state.rng.unit() < self.config.random_fraction;
        let densities = if explore { None } else { self.densities() };
        let Some((good, bad)) = densities else {
            return Ok(Proposal::full(self.space.sample(&mut self.state.rng)?));
        };
        let dims = self.space.dimensions().to_vec();
        let mut best: Option<(f64, Arch)> = None;
        let consider = |arch: Arch, best: &mut Option<(f64, Arch)>| {
            let x = code(&dims, &arch.genes);
            let ratio = good.at(&dims, &x) / bad.at(&dims, &x).max(1e-300);
            if best.as_ref().is_none_or(|(b, _)| ratio > *b) {
                *best = Some((ratio, arch));
            }
        };
        let mut stand_ins = 0usize;
        for _ in 0..self.config.candidates {
            let genes = self.draw(&good);
            let arch = Arch::from_genes(self.space.name(), self.space.version(), genes);
            if self.fresh(&arch, history) {
                consider(arch, &mut best);
            } else {
                stand_ins += 1;
            }
        }
        for _ in 0..stand_ins.min(UNIFORM_STAND_INS) {
            let arch = self.space.sample(&mut self.state.rng)?;
            if self.fresh(&arch, history) {
                consider(arch, &mut best);
            }
        }
        match best {
            Some((_, arch)) => Ok(Proposal::full(arch)),
            None => Ok(Proposal::full(self.space.sample(&mut self.state.rng)?)),
        }
    }

    fn tell(&mut self, trial: &Trial) {
        if let Some(score) = trial.finite_score() {
            self.state.observed.push((trial.arch.clone(), score));
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = serde_json::from_value(state).map_err(|e| StrategyError::restore("tpe", e))?;
        Ok(())
    }
}
