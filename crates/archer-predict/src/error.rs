use thiserror::Error;

/// Why a predictor could not fit or predict.
#[derive(Debug, Error)]
pub enum PredictError {
    #[error("{predictor}: needs at least {needed} training points, got {got}")]
    TooFewPoints {
        predictor: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("{predictor}: {archs} architectures but {targets} targets")]
    LengthMismatch {
        predictor: &'static str,
        archs: usize,
        targets: usize,
    },
    #[error("{predictor}: target {index} is {value}; targets must be finite")]
    NonFiniteTarget {
        predictor: &'static str,
        index: usize,
        value: f64,
    },
    #[error("{predictor}: predict called before fit")]
    NotFitted { predictor: &'static str },
    #[error("{predictor}: {reason}")]
    Numerical {
        predictor: &'static str,
        reason: String,
    },
}
