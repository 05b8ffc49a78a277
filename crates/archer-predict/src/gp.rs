//! Gaussian-process regression over architectures with architecture kernels.

use std::sync::Arc;

use archer_rng::Rng;
use archer_space::{Arch, Encoding, SearchSpace};
use archer_strategy::GpKernel;
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

use crate::predictor::{check_training_data, standardise};
use crate::wl::{wl_features, WlFeatures};
use crate::{PredictError, Prediction, Predictor};

/// Deepest WL level considered when fitting `h`.
const WL_MAX_LEVEL: usize = 3;
/// Length-scale grid, as multiples of the mean pairwise training distance.
const LENGTH_SCALES: [f64; 7] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];
/// Noise-variance grid, relative to the signal variance of the standardised targets.
const NOISES: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 0.3];

/// The hyperparameters chosen by marginal likelihood.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpHyperparameters {
    /// Exponential kernels: the length-scale in distance units. WL: unused (0).
    pub length_scale: f64,
    /// WL: the number of refinement levels. Exponential kernels: unused (0).
    pub wl_levels: usize,
    /// Exponential kernels: the length-scale as a multiple of the mean pairwise training
    /// distance (one of the grid's). WL: unused (0).
    pub length_scale_multiple: f64,
    /// Noise variance relative to the signal variance.
    pub noise: f64,
    /// Signal variance of the standardised targets (profiled out in closed form).
    pub signal: f64,
    pub log_marginal_likelihood: f64,
}

/// How an architecture enters the kernel.
#[derive(Clone)]
enum Repr {
    Arch(Arch),
    Vector(Vec<f32>),
    Wl(WlFeatures, [f64; WL_MAX_LEVEL + 1]),
}

struct Fit {
    train: Vec<Repr>,
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
    y_mean: f64,
    y_std: f64,
    hyper: GpHyperparameters,
}

/// GP regression with a kernel on architectures:
/// - `exp_hamming`: `exp(-d/ℓ)`, `d` = number of differing choices;
/// - `exp_path`: `exp(-d/ℓ)`, `d` = L1 distance between path encodings (functionally equal
///   cells are at distance 0);
/// - `wl`: the normalised Weisfeiler–Lehman subtree kernel on the cell graphs.
///
/// The length-scale (or WL depth) and noise are chosen on a grid by the log marginal
/// likelihood with the signal variance profiled out; targets are standardised. The
/// Cholesky factorisation is nalgebra's.
pub struct GaussianProcess {
    space: Arc<dyn SearchSpace>,
    kernel: GpKernel,
    /// Exponential kernels: the length-scale multiple and noise of an earlier fit, kept
    /// instead of searching the grid again (see [`GaussianProcess::keep_hyperparameters`]).
    kept: Option<(f64, f64)>,
    /// The distance `exp_hamming` uses between architectures.
    arch_distance: ArchDistance,
    fit: Option<Fit>,
}

/// A distance between two architectures of a space.
pub type ArchDistance = fn(&dyn SearchSpace, &Arch, &Arch) -> f64;

impl GaussianProcess {
    pub fn new(space: Arc<dyn SearchSpace>, kernel: GpKernel) -> Self {
        GaussianProcess {
            space,
            kernel,
            arch_distance: |space, a, b| space.distance(a, b),
            kept: None,
            fit: None,
        }
    }

    /// The GP with kernel `exp(-d/ℓ)` for a distance of one's own (network morphism's edit
    /// distance between networks), ℓ and the noise chosen as for the other kernels.
    pub fn with_distance(space: Arc<dyn SearchSpace>, distance: ArchDistance) -> Self {
        GaussianProcess {
            arch_distance: distance,
            ..GaussianProcess::new(space, GpKernel::ExpHamming)
        }
    }

    /// Exponential kernels: the next fits use this length-scale multiple and noise (as an
    /// earlier fit's [`GpHyperparameters`] chose them) instead of searching the grid: one
    /// factorisation instead of 35, for callers that refit often and search the grid now
    /// and then.
    pub fn keep_hyperparameters(&mut self, length_scale_multiple: f64, noise: f64) {
        self.kept = Some((length_scale_multiple, noise));
    }

    /// The hyperparameters of the last fit.
    pub fn hyperparameters(&self) -> Option<GpHyperparameters> {
        self.fit.as_ref().map(|f| f.hyper)
    }

    fn repr(&self, arch: &Arch) -> Repr {
        match self.kernel {
            GpKernel::ExpHamming => Repr::Arch(arch.clone()),
            GpKernel::ExpPath => Repr::Vector(self.space.encode(arch, Encoding::Path)),
            GpKernel::Wl => {
                let f = wl_features(self.space.as_ref(), arch, WL_MAX_LEVEL);
                let mut norms = [0.0; WL_MAX_LEVEL + 1];
                for (h, n) in norms.iter_mut().enumerate() {
                    *n = f.dot(&f, h).sqrt().max(1e-12);
                }
                Repr::Wl(f, norms)
            }
        }
    }
}

/// Distance (exponential kernels) between two representations.
fn distance(space: &dyn SearchSpace, arch_distance: ArchDistance, a: &Repr, b: &Repr) -> f64 {
    match (a, b) {
        (Repr::Arch(x), Repr::Arch(y)) => arch_distance(space, x, y),
        (Repr::Vector(x), Repr::Vector(y)) => {
            x.iter().zip(y).map(|(p, q)| f64::from((p - q).abs())).sum()
        }
        _ => unreachable!("one kernel, one representation"),
    }
}

/// Normalised WL similarity with levels `0..=h`.
fn wl_similarity(a: &Repr, b: &Repr, h: usize) -> f64 {
    match (a, b) {
        (Repr::Wl(fa, na), Repr::Wl(fb, nb)) => fa.dot(fb, h) / (na[h] * nb[h]),
        _ => unreachable!("one kernel, one representation"),
    }
}

/// The kernel value for hyperparameters `hp` given the precomputed base quantity.
fn kernel_value(gp: &GaussianProcess, a: &Repr, b: &Repr, hp: &GpHyperparameters) -> f64 {
    match gp.kernel {
        GpKernel::Wl => wl_similarity(a, b, hp.wl_levels),
        _ => (-distance(gp.space.as_ref(), gp.arch_distance, a, b) / hp.length_scale).exp(),
    }
}

/// Profiled log marginal likelihood of standardised targets `y` under correlation matrix
/// `r` plus `noise`: returns the factorisation, the signal variance and the value.
fn profile(
    r: &DMatrix<f64>,
    noise: f64,
    y: &DVector<f64>,
) -> Option<(Cholesky<f64, Dyn>, f64, f64)> {
    let n = y.len() as f64;
    let mut k = r.clone();
    for i in 0..r.nrows() {
        k[(i, i)] += noise;
    }
    let chol = k.cholesky()?;
    let alpha = chol.solve(y);
    let signal = (y.dot(&alpha) / n).max(1e-12);
    let log_det: f64 = chol
        .l_dirty()
        .diagonal()
        .iter()
        .map(|d| d.ln())
        .sum::<f64>()
        * 2.0;
    let lml = -0.5 * n * signal.ln()
        - 0.5 * log_det
        - 0.5 * n * (1.0 + (2.0 * std::f64::consts::PI).ln());
    Some((chol, signal, lml))
}

impl Predictor for GaussianProcess {
    fn name(&self) -> &'static str {
        "gp"
    }

    fn fit(&mut self, archs: &[Arch], targets: &[f64], _rng: &mut Rng) -> Result<(), PredictError> {
        check_training_data("gp", archs, targets, 1)?;
        let n = archs.len();
        let (y_mean, y_std) = standardise(targets);
        let y = DVector::from_iterator(n, targets.iter().map(|t| (t - y_mean) / y_std));
        let train: Vec<Repr> = archs.iter().map(|a| self.repr(a)).collect();

        // Candidate correlation matrices, one per kernel hyperparameter.
        let mut grids: Vec<(GpHyperparameters, DMatrix<f64>)> = Vec::new();
        match self.kernel {
            GpKernel::Wl => {
                for h in 0..=WL_MAX_LEVEL {
                    let r = DMatrix::from_fn(n, n, |i, j| wl_similarity(&train[i], &train[j], h));
                    grids.push((hyper(0.0, h), r));
                }
            }
            _ => {
                let d = DMatrix::from_fn(n, n, |i, j| {
                    distance(
                        self.space.as_ref(),
                        self.arch_distance,
                        &train[i],
                        &train[j],
                    )
                });
                let pairs = (n * (n - 1) / 2).max(1) as f64;
                let mean_d = (d.sum() / 2.0 / pairs).max(1e-6);
                let multiples = match self.kept {
                    Some((m, _)) => vec![m],
                    None => LENGTH_SCALES.to_vec(),
                };
                for m in multiples {
                    let l = m * mean_d;
                    let hp = GpHyperparameters {
                        length_scale_multiple: m,
                        ..hyper(l, 0)
                    };
                    grids.push((hp, d.map(|x| (-x / l).exp())));
                }
            }
        }
        let mut best: Option<(Cholesky<f64, Dyn>, GpHyperparameters)> = None;
        for (hp, r) in &grids {
            let noises = match (self.kernel, self.kept) {
                (GpKernel::Wl, _) | (_, None) => NOISES.to_vec(),
                (_, Some((_, noise))) => vec![noise],
            };
            for noise in noises {
                let Some((chol, signal, lml)) = profile(r, noise, &y) else {
                    continue;
                };
                if best
                    .as_ref()
                    .is_none_or(|b| lml > b.1.log_marginal_likelihood)
                {
                    let hp = GpHyperparameters {
                        noise,
                        signal,
                        log_marginal_likelihood: lml,
                        ..*hp
                    };
                    best = Some((chol, hp));
                }
            }
        }
        let (chol, hyper) = best.ok_or(PredictError::Numerical {
            predictor: "gp",
            reason: "no hyperparameter setting gave a positive-definite kernel matrix".into(),
        })?;
        let alpha = chol.solve(&y);
        self.fit = Some(Fit {
            train,
            chol,
            alpha,
            y_mean,
            y_std,
            hyper,
        });
        Ok(())
    }

    fn predict(&self, archs: &[Arch]) -> Result<Vec<Prediction>, PredictError> {
        let fit = self
            .fit
            .as_ref()
            .ok_or(PredictError::NotFitted { predictor: "gp" })?;
        let n = fit.train.len();
        let reprs: Vec<Repr> = archs.iter().map(|a| self.repr(a)).collect();
        let k_star = DMatrix::from_fn(n, reprs.len(), |i, j| {
            kernel_value(self, &fit.train[i], &reprs[j], &fit.hyper)
        });
        let mean = k_star.transpose() * &fit.alpha;
        let v =
            fit.chol
                .l_dirty()
                .solve_lower_triangular(&k_star)
                .ok_or(PredictError::Numerical {
                    predictor: "gp",
                    reason: "singular Cholesky factor".into(),
                })?;
        Ok((0..reprs.len())
            .map(|j| {
                let explained: f64 = v.column(j).iter().map(|x| x * x).sum();
                let var = (fit.hyper.signal * (1.0 - explained)).max(0.0);
                Prediction {
                    mean: fit.y_mean + fit.y_std * mean[j],
                    std: fit.y_std * var.sqrt(),
                }
            })
            .collect())
    }
}

fn hyper(length_scale: f64, wl_levels: usize) -> GpHyperparameters {
    GpHyperparameters {
        length_scale,
        length_scale_multiple: 0.0,
        wl_levels,
        noise: 0.0,
        signal: 0.0,
        log_marginal_likelihood: f64::NEG_INFINITY,
    }
}
