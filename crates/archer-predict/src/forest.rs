//! A random forest: bagged CART regression trees (smartcore) on random feature subsets.

use std::sync::Arc;

use archer_rng::Rng;
use archer_space::{Arch, Encoding, SearchSpace};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

use crate::mlp::ensemble_prediction;
use crate::predictor::{check_training_data, encode_all, standardise};
use crate::{PredictError, Prediction, Predictor};

type Tree = DecisionTreeRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// Random forest regression (Breiman 2001): each tree is smartcore's CART regressor fitted
/// on a bootstrap sample and on a random subset of the features (a third, at least one).
/// The prediction is the trees' mean; the uncertainty their standard deviation.
pub struct RandomForest {
    space: Arc<dyn SearchSpace>,
    encoding: Encoding,
    trees: usize,
    fitted: Vec<(Vec<usize>, Tree)>,
    y_mean: f64,
    y_std: f64,
}

impl RandomForest {
    pub fn new(space: Arc<dyn SearchSpace>, encoding: Encoding, trees: usize) -> Self {
        RandomForest {
            space,
            encoding,
            trees: trees.max(1),
            fitted: Vec::new(),
            y_mean: 0.0,
            y_std: 1.0,
        }
    }
}

fn matrix(rows: &[Vec<f64>]) -> Result<DenseMatrix<f64>, PredictError> {
    DenseMatrix::from_2d_vec(&rows.to_vec()).map_err(|e| PredictError::Numerical {
        predictor: "forest",
        reason: e.to_string(),
    })
}

fn select(x: &[f32], features: &[usize]) -> Vec<f64> {
    features.iter().map(|&f| f64::from(x[f])).collect()
}

impl Predictor for RandomForest {
    fn name(&self) -> &'static str {
        "forest"
    }

    fn fit(&mut self, archs: &[Arch], targets: &[f64], rng: &mut Rng) -> Result<(), PredictError> {
        check_training_data("forest", archs, targets, 2)?;
        let (y_mean, y_std) = standardise(targets);
        self.y_mean = y_mean;
        self.y_std = y_std;
        let xs = encode_all(self.space.as_ref(), archs, self.encoding);
        let width = xs[0].len();
        let n = xs.len();
        let take = (width / 3).max(1);
        let mut fitted = Vec::with_capacity(self.trees);
        for _ in 0..self.trees {
            let mut features: Vec<usize> = (0..width).collect();
            rng.shuffle(&mut features);
            features.truncate(take);
            features.sort_unstable();
            let rows: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
            let x = matrix(
                &rows
                    .iter()
                    .map(|&r| select(&xs[r], &features))
                    .collect::<Vec<_>>(),
            )?;
            let y: Vec<f64> = rows
                .iter()
                .map(|&r| (targets[r] - y_mean) / y_std)
                .collect();
            let params = DecisionTreeRegressorParameters {
                seed: Some(rng.next_u64()),
                ..Default::default()
            };
            let tree = Tree::fit(&x, &y, params).map_err(|e| PredictError::Numerical {
                predictor: "forest",
                reason: e.to_string(),
            })?;
            fitted.push((features, tree));
        }
        self.fitted = fitted;
        Ok(())
    }

    fn predict(&self, archs: &[Arch]) -> Result<Vec<Prediction>, PredictError> {
        if self.fitted.is_empty() {
            return Err(PredictError::NotFitted {
                predictor: "forest",
            });
        }
        if archs.is_empty() {
            return Ok(Vec::new());
        }
        let xs = encode_all(self.space.as_ref(), archs, self.encoding);
        let mut per_tree: Vec<Vec<f64>> = Vec::with_capacity(self.fitted.len());
        for (features, tree) in &self.fitted {
            let x = matrix(&xs.iter().map(|r| select(r, features)).collect::<Vec<_>>())?;
            per_tree.push(tree.predict(&x).map_err(|e| PredictError::Numerical {
                predictor: "forest",
                reason: e.to_string(),
            })?);
        }
        Ok((0..archs.len())
            .map(|j| {
                let preds: Vec<f64> = per_tree.iter().map(|p| p[j]).collect();
                ensemble_prediction(&preds, self.y_mean, self.y_std)
            })
            .collect())
    }
}
