use archer_rng::Rng;
use archer_space::{Arch, Encoding, SearchSpace};

use crate::PredictError;

/// A predicted value with its uncertainty (one standard deviation, in the target's units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub mean: f64,
    pub std: f64,
}

/// A performance predictor: learns architecture → value from examples.
///
/// Contract:
/// - `fit` replaces any earlier fit; it uses randomness only from `rng`, so the same data
///   and generator state give the same model;
/// - targets may be on any scale (predictors normalise internally) and must be finite;
/// - `predict` returns one [`Prediction`] per architecture, in order, with `std >= 0`; a
///   predictor without a notion of uncertainty reports the spread of its ensemble or 0.
pub trait Predictor: Send {
    /// Short name used in configs and reports.
    fn name(&self) -> &'static str;

    fn fit(&mut self, archs: &[Arch], targets: &[f64], rng: &mut Rng) -> Result<(), PredictError>;

    fn predict(&self, archs: &[Arch]) -> Result<Vec<Prediction>, PredictError>;
}

/// Checks the common preconditions of `fit`.
pub(crate) fn check_training_data(
    predictor: &'static str,
    archs: &[Arch],
    targets: &[f64],
    needed: usize,
) -> Result<(), PredictError> {
    if archs.len() != targets.len() {
        return Err(PredictError::LengthMismatch {
            predictor,
            archs: archs.len(),
            targets: targets.len(),
        });
    }
    if archs.len() < needed {
        return Err(PredictError::TooFewPoints {
            predictor,
            needed,
            got: archs.len(),
        });
    }
    if let Some((index, &value)) = targets.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(PredictError::NonFiniteTarget {
            predictor,
            index,
            value,
        });
    }
    Ok(())
}

/// Mean and standard deviation used to normalise targets; a constant target gets std 1.
pub(crate) fn standardise(targets: &[f64]) -> (f64, f64) {
    let n = targets.len() as f64;
    let mean = targets.iter().sum::<f64>() / n;
    let var = targets.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std > 1e-12 { std } else { 1.0 })
}

/// The `encoding` of every architecture, in order.
pub(crate) fn encode_all(
    space: &dyn SearchSpace,
    archs: &[Arch],
    encoding: Encoding,
) -> Vec<Vec<f32>> {
    archs.iter().map(|a| space.encode(a, encoding)).collect()
}
