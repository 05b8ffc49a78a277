//! `archer bench predictors nb201`: how well each predictor ranks held-out architectures
//! after training on a few, in the manner of White et al. 2021 ("How powerful are
//! performance predictors in neural architecture search?").

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use archer_core::Arch;
use archer_eval::{Nb201Dataset, Nb201Table};
use archer_predict::{build_predictor, gaussian_copula, kendall_tau, spearman_rho};
use archer_rng::Rng;
use archer_space::{Nb201Space, SearchSpace};
use archer_strategy::PredictorConfig;
use serde::Serialize;

use crate::{mean, std_dev, BenchError};

/// What to measure.
pub struct PredictorBench {
    pub table: Arc<Nb201Table>,
    pub dataset: Nb201Dataset,
    pub predictors: Vec<PredictorConfig>,
    pub train_sizes: Vec<usize>,
    /// Held-out architectures per trial, disjoint from the training set.
    pub test_size: usize,
    /// Independent draws of (train, test) per size; seeds `seed .. seed + trials`.
    pub trials: u64,
    pub seed: u64,
    /// Fit on the Gaussian-copula transform of the targets (as the searches do).
    pub copula: bool,
}

/// One predictor at one training-set size, over all trials.
#[derive(Clone, Debug, Serialize)]
pub struct PredictorScore {
    pub predictor: String,
    pub train_size: usize,
    pub test_size: usize,
    pub trials: u64,
    pub kendall_tau: f64,
    pub kendall_tau_std: f64,
    pub spearman_rho: f64,
    pub spearman_rho_std: f64,
    /// Mean wall milliseconds of one fit plus the prediction of the test set.
    pub fit_predict_ms: f64,
}

impl PredictorBench {
    /// Distinct (by canonical hash) random architectures: `train` then `test`, disjoint; an
    /// error when the table has too few distinct cells for both.
    fn split(
        &self,
        space: &Nb201Space,
        rng: &mut Rng,
        train: usize,
    ) -> Result<(Vec<Arch>, Vec<Arch>), BenchError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let want = train + self.test_size;
        let mut draws = 0;
        while out.len() < want && draws < want * 50 {
            draws += 1;
            let a = space
                .sample(rng)
                .map_err(|e| BenchError::Invalid(e.to_string()))?;
            if self.table.record(&a, self.dataset).is_some()
                && seen.insert(space.canonical_hash(&a))
            {
                out.push(a);
            }
        }
        if out.len() < want {
            return Err(BenchError::Invalid(format!(
                "found only {} distinct cells for {train} training and {} held-out ones; use smaller --train-sizes or --test-size",
                out.len(),
                self.test_size
            )));
        }
        let test = out.split_off(train);
        Ok((out, test))
    }

    pub fn run(&self) -> Result<Vec<PredictorScore>, BenchError> {
        let space = Nb201Space::default();
        let shared: Arc<dyn SearchSpace> = Arc::new(space.clone());
        let value = |a: &Arch| {
            self.table
                .record(a, self.dataset)
                .map_or(f64::NAN, |r| r.valid_acc)
        };
        let mut out = Vec::new();
        for &n in &self.train_sizes {
            for config in &self.predictors {
                let (mut taus, mut rhos, mut ms) = (Vec::new(), Vec::new(), Vec::new());
                for t in 0..self.trials {
                    // The same split for every predictor at this size and trial.
                    let mut rng = Rng::derive(self.seed + t, n as u64);
                    let (train, test) = self.split(&space, &mut rng, n)?;
                    let mut y: Vec<f64> = train.iter().map(value).collect();
                    if self.copula {
                        y = gaussian_copula(&y);
                    }
                    let truth: Vec<f64> = test.iter().map(value).collect();
                    let mut predictor = build_predictor(config, shared.clone());
                    let started = Instant::now();
                    let mut fit_rng = Rng::derive(self.seed + t, 0x0046_4954);
                    predictor
                        .fit(&train, &y, &mut fit_rng)
                        .map_err(|e| BenchError::Invalid(format!("{}: {e}", config.label())))?;
                    let predicted: Vec<f64> = predictor
                        .predict(&test)
                        .map_err(|e| BenchError::Invalid(format!("{}: {e}", config.label())))?
                        .iter()
                        .map(|p| p.mean)
                        .collect();
                    ms.push(started.elapsed().as_secs_f64() * 1000.0);
                    taus.push(kendall_tau(&predicted, &truth));
                    rhos.push(spearman_rho(&predicted, &truth));
                }
                out.push(PredictorScore {
                    predictor: config.label(),
                    train_size: n,
                    test_size: self.test_size,
                    trials: self.trials,
                    kendall_tau: mean(&taus),
                    kendall_tau_std: std_dev(&taus),
                    spearman_rho: mean(&rhos),
                    spearman_rho_std: std_dev(&rhos),
                    fit_predict_ms: mean(&ms),
                });
            }
        }
        Ok(out)
    }
}

/// The table printed by `archer bench predictors nb201`.
pub fn render(dataset: Nb201Dataset, scores: &[PredictorScore]) -> String {
    let mut out = format!(
        "Predictor ranking quality on NAS-Bench-201 {} validation accuracy (held-out {} architectures, {} trials; mean ± std)\n\n",
        dataset.name(),
        scores.first().map_or(0, |s| s.test_size),
        scores.first().map_or(0, |s| s.trials),
    );
    out.push_str(&format!(
        "{:<14} {:>6} {:>17} {:>17} {:>14}\n",
        "predictor", "train", "Kendall tau", "Spearman rho", "fit+predict"
    ));
    for s in scores {
        out.push_str(&format!(
            "{:<14} {:>6} {:>17} {:>17} {:>11.1} ms\n",
            s.predictor,
            s.train_size,
            format!("{:.3} ± {:.3}", s.kendall_tau, s.kendall_tau_std),
            format!("{:.3} ± {:.3}", s.spearman_rho, s.spearman_rho_std),
            s.fit_predict_ms
        ));
    }
    out
}
