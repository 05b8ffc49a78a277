//! Performance predictors and the model-based strategies built on them.
//!
//! Predictors ([`Predictor`]) learn architecture → value: a Gaussian process with
//! architecture kernels, an MLP ensemble, and a random forest. Strategies built on them
//! (BO, BANANAS, NPENAS) implement `archer_strategy::Strategy`; [`build_strategy`] builds
//! any strategy from its configuration, so runners depend on this crate and
//! `archer-strategy` stays free of numerical code.

mod acquisition;
mod build;
mod ehvi;
mod error;
mod forest;
mod gp;
mod mlp;
mod model_search;
mod npenas;
mod parego;
mod predictor;
mod rank;
mod strategies;
mod transform;
mod wl;

pub use acquisition::{acquire, expected_improvement};
pub use build::{
    build_predictor, build_strategy, check_strategy, is_model_based, multi_objective, registered,
    strategy_by_label, strategy_kind, strategy_label, strategy_labels, strategy_warm_start,
};
pub use error::PredictError;
pub use forest::RandomForest;
pub use gp::{GaussianProcess, GpHyperparameters};
pub use mlp::{MlpEnsemble, MlpSettings};
pub use model_search::ModelBasedSearch;
pub use npenas::Npenas;
pub use parego::{Parego, ParegoKind};
pub use predictor::{Prediction, Predictor};
pub use rank::{kendall_tau, spearman_rho};
pub use transform::{gaussian_copula, normal_quantile};
pub use wl::{wl_features, WlFeatures};
