//! Settings of the model-based strategies (BO, BANANAS, NPENAS). They are plain data here so
//! that configs parse and validate without the numerical code, which lives in
//! `archer-predict` and builds these strategies.

use serde::{Deserialize, Serialize};

/// The GP's architecture kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpKernel {
    /// `exp(-d/ℓ)` over the number of differing choices (the default: it ranked and searched
    /// best on NAS-Bench-201, see the README).
    #[default]
    ExpHamming,
    /// `exp(-d/ℓ)` over the L1 distance between path encodings.
    ExpPath,
    /// Normalised Weisfeiler–Lehman subtree kernel on the cell graphs.
    Wl,
}

/// Encodings a predictor can read (a subset of `archer_space::Encoding`, as config data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureEncoding {
    OneHot,
    AdjacencyOps,
    Path,
}

fn members() -> usize {
    5
}
fn hidden_layers() -> usize {
    3
}
fn width() -> usize {
    20
}
fn epochs() -> usize {
    200
}
fn max_steps() -> usize {
    600
}
fn mlp_lr() -> f64 {
    0.01
}
fn trees() -> usize {
    50
}
fn path() -> FeatureEncoding {
    FeatureEncoding::Path
}
fn one_hot() -> FeatureEncoding {
    FeatureEncoding::OneHot
}

/// A performance predictor and its settings: `predictor = { name = "mlp", members = 5 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum PredictorConfig {
    /// Gaussian process; hyperparameters by marginal likelihood.
    Gp {
        #[serde(default)]
        kernel: GpKernel,
    },
    /// Ensemble of ReLU networks trained with Adam on mean absolute error.
    Mlp {
        #[serde(default = "members")]
        members: usize,
        #[serde(default = "hidden_layers")]
        hidden_layers: usize,
        #[serde(default = "width")]
        width: usize,
        #[serde(default = "epochs")]
        epochs: usize,
        #[serde(default = "max_steps")]
        max_steps: usize,
        #[serde(default = "mlp_lr")]
        learning_rate: f64,
        #[serde(default = "path")]
        encoding: FeatureEncoding,
        /// Bagging: each member trains on its own bootstrap sample.
        #[serde(default)]
        bootstrap: bool,
        /// Randomized prior functions (Osband et al. 2018): each member adds a fixed random
        /// network, scaled to this many target standard deviations, and learns the rest.
        /// Members then agree where data pins the prediction down and disagree elsewhere.
        /// 0 turns it off.
        #[serde(default)]
        prior_scale: f64,
    },
    /// Random forest of CART trees on bootstrap samples and feature subsets.
    Forest {
        #[serde(default = "trees")]
        trees: usize,
        #[serde(default = "one_hot")]
        encoding: FeatureEncoding,
    },
}

impl PredictorConfig {
    pub const NAMES: [&'static str; 3] = ["gp", "mlp", "forest"];
    /// Names [`Self::by_name`] accepts: the above plus GP kernel variants.
    pub const VARIANTS: [&'static str; 5] = ["gp", "gp_path", "gp_wl", "mlp", "forest"];

    /// The default settings of a predictor by name (see [`Self::VARIANTS`]).
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "gp" => Some(PredictorConfig::Gp {
                kernel: GpKernel::default(),
            }),
            "gp_wl" => Some(PredictorConfig::Gp {
                kernel: GpKernel::Wl,
            }),
            "gp_path" => Some(PredictorConfig::Gp {
                kernel: GpKernel::ExpPath,
            }),
            "mlp" => Some(Self::default_mlp()),
            "forest" => Some(PredictorConfig::Forest {
                trees: trees(),
                encoding: one_hot(),
            }),
            _ => None,
        }
    }

    /// The default MLP ensemble, without random priors.
    pub fn default_mlp() -> Self {
        Self::mlp_with_prior(0.0)
    }

    /// The default MLP ensemble with randomized prior functions of `prior_scale` target
    /// standard deviations.
    pub fn mlp_with_prior(prior_scale: f64) -> Self {
        PredictorConfig::Mlp {
            members: members(),
            hidden_layers: hidden_layers(),
            width: width(),
            epochs: epochs(),
            max_steps: max_steps(),
            learning_rate: mlp_lr(),
            encoding: path(),
            bootstrap: false,
            prior_scale,
        }
    }

    /// These settings with the feature encoding `e` (an MLP's or a forest's; a GP has none).
    pub fn with_encoding(mut self, e: FeatureEncoding) -> Self {
        match &mut self {
            PredictorConfig::Mlp { encoding, .. } | PredictorConfig::Forest { encoding, .. } => {
                *encoding = e
            }
            PredictorConfig::Gp { .. } => {}
        }
        self
    }

    /// The name [`Self::by_name`] gives these settings' kind: `gp`, `gp_path`, `gp_wl`,
    /// `mlp` or `forest`.
    pub fn name(&self) -> &'static str {
        match self {
            PredictorConfig::Gp { kernel } => match kernel {
                GpKernel::ExpHamming => "gp",
                GpKernel::ExpPath => "gp_path",
                GpKernel::Wl => "gp_wl",
            },
            PredictorConfig::Mlp { .. } => "mlp",
            PredictorConfig::Forest { .. } => "forest",
        }
    }

    /// A label for reports, e.g. `gp(wl)` or `mlp(prior 1)`.
    pub fn label(&self) -> String {
        match self {
            PredictorConfig::Gp { kernel } => format!(
                "gp({})",
                match kernel {
                    GpKernel::ExpHamming => "exp_hamming",
                    GpKernel::ExpPath => "exp_path",
                    GpKernel::Wl => "wl",
                }
            ),
            PredictorConfig::Mlp { prior_scale, .. } if *prior_scale > 0.0 => {
                format!("mlp(prior {prior_scale})")
            }
            PredictorConfig::Mlp { .. } => "mlp".into(),
            PredictorConfig::Forest { .. } => "forest".into(),
        }
    }

    /// Checks every setting; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            PredictorConfig::Gp { .. } => Ok(()),
            PredictorConfig::Mlp {
                members,
                width,
                epochs,
                max_steps,
                learning_rate,
                prior_scale,
                ..
            } => {
                if members == 0 || width == 0 || epochs == 0 || max_steps == 0 {
                    return Err(
                        "predictor.members, width, epochs and max_steps must be at least 1".into(),
                    );
                }
                if !(learning_rate.is_finite() && learning_rate > 0.0) {
                    return Err(format!(
                        "predictor.learning_rate = {learning_rate}; must be positive"
                    ));
                }
                if !(prior_scale.is_finite() && prior_scale >= 0.0) {
                    return Err(format!(
                        "predictor.prior_scale = {prior_scale}; must be 0 or more"
                    ));
                }
                Ok(())
            }
            PredictorConfig::Forest { trees, .. } => {
                if trees == 0 {
                    return Err("predictor.trees must be at least 1".into());
                }
                Ok(())
            }
        }
    }
}

/// How a model-based strategy scores candidates from a prediction (mean μ, std σ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcquisitionKind {
    /// Expected improvement over the best observed score.
    Ei,
    /// Upper confidence bound μ + β σ.
    Ucb,
    /// Independent Thompson sampling: one draw from N(μ, σ²) per candidate.
    Its,
    /// The predicted mean alone (pure exploitation; NPENAS' choice).
    Mean,
}

impl AcquisitionKind {
    /// The name used in configs: `ei`, `ucb`, `its` or `mean`.
    pub fn name(self) -> &'static str {
        match self {
            AcquisitionKind::Ei => "ei",
            AcquisitionKind::Ucb => "ucb",
            AcquisitionKind::Its => "its",
            AcquisitionKind::Mean => "mean",
        }
    }
}

fn ucb_beta() -> f64 {
    2.0
}
fn initial_samples() -> usize {
    10
}
fn parents() -> usize {
    10
}
fn random_candidates() -> usize {
    500
}
/// BANANAS scores 2,000 random candidates: its MLP ensemble predicts them cheaply, and with
/// the random priors of [`bananas_predictor`] the wider net finds the space's other basins
/// (see the README's BANANAS figures).
fn bananas_random_candidates() -> usize {
    2000
}
/// BANANAS' predictor: the default MLP ensemble with randomized prior functions of one
/// target standard deviation (`prior_scale = 1.0`).
fn bananas_predictor() -> PredictorConfig {
    PredictorConfig::mlp_with_prior(1.0)
}
fn one() -> usize {
    1
}
fn warm_start_pool() -> usize {
    1000
}
fn ei() -> AcquisitionKind {
    AcquisitionKind::Ei
}
fn mean() -> AcquisitionKind {
    AcquisitionKind::Mean
}
fn npenas_children() -> usize {
    30
}
fn population() -> usize {
    10
}
fn sample() -> usize {
    3
}
fn gp() -> PredictorConfig {
    PredictorConfig::Gp {
        kernel: GpKernel::default(),
    }
}

/// Zero-cost warm start: the first `warm_start` architectures are the best of
/// `warm_start_pool` random ones by the evaluator's zero-cost proxy, instead of random.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarmStart {
    pub count: usize,
    pub pool: usize,
}

impl WarmStart {
    /// The warm start of `count` architectures from `pool`, if `count > 0`.
    pub fn asked(count: usize, pool: usize) -> Option<WarmStart> {
        (count > 0).then_some(WarmStart { count, pool })
    }
}

/// `[strategy] name = "bo"`: Bayesian optimisation with a GP (NASBOT-style).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoConfig {
    #[serde(default)]
    pub kernel: GpKernel,
    #[serde(default = "ei")]
    pub acquisition: AcquisitionKind,
    #[serde(default = "ucb_beta")]
    pub ucb_beta: f64,
    #[serde(default = "initial_samples")]
    pub initial_samples: usize,
    /// Candidates: every one-edit neighbour of the `parents` best architectures ...
    #[serde(default = "parents")]
    pub parents: usize,
    /// ... plus this many random architectures.
    #[serde(default = "random_candidates")]
    pub random_candidates: usize,
    /// Architectures proposed per model fit.
    #[serde(default = "one")]
    pub batch: usize,
    #[serde(default)]
    pub warm_start: usize,
    #[serde(default = "warm_start_pool")]
    pub warm_start_pool: usize,
}

impl Default for BoConfig {
    fn default() -> Self {
        toml_defaults()
    }
}

/// `[strategy] name = "bananas"`: BANANAS (White et al. 2021), an MLP ensemble on the path
/// encoding, each member with a randomized prior function. Candidates are the one-edit
/// mutations of the 10 best architectures plus 2,000 random ones, scored by expected
/// improvement from the ensemble's mean and spread (`acquisition = "its"` gives the paper's
/// independent Thompson sampling, which reached 94.12 on NAS-Bench-201 CIFAR-10, seeds
/// 100–199, where EI reached 94.17 without priors and 94.22 with them).
///
/// A `predictor` table replaces the whole default, so `predictor = { name = "mlp" }` has no
/// prior (`prior_scale = 0`); write `prior_scale = 1.0` to keep it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BananasConfig {
    #[serde(default = "bananas_predictor")]
    pub predictor: PredictorConfig,
    #[serde(default = "ei")]
    pub acquisition: AcquisitionKind,
    #[serde(default = "ucb_beta")]
    pub ucb_beta: f64,
    #[serde(default = "initial_samples")]
    pub initial_samples: usize,
    #[serde(default = "parents")]
    pub parents: usize,
    #[serde(default = "bananas_random_candidates")]
    pub random_candidates: usize,
    #[serde(default = "one")]
    pub batch: usize,
    #[serde(default)]
    pub warm_start: usize,
    #[serde(default = "warm_start_pool")]
    pub warm_start_pool: usize,
}

impl Default for BananasConfig {
    fn default() -> Self {
        toml_defaults()
    }
}

/// `[strategy] name = "npenas"`: predictor-guided regularized evolution (Wei et al. 2022):
/// each parent, chosen by tournament as in REA, makes `children` mutants; the predictor
/// ranks them and the best is evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NpenasConfig {
    #[serde(default = "gp")]
    pub predictor: PredictorConfig,
    #[serde(default = "mean")]
    pub acquisition: AcquisitionKind,
    #[serde(default = "ucb_beta")]
    pub ucb_beta: f64,
    #[serde(default = "population")]
    pub population: usize,
    #[serde(default = "sample")]
    pub sample: usize,
    #[serde(default = "npenas_children")]
    pub children: usize,
    #[serde(default)]
    pub warm_start: usize,
    #[serde(default = "warm_start_pool")]
    pub warm_start_pool: usize,
}

impl Default for NpenasConfig {
    fn default() -> Self {
        toml_defaults()
    }
}

/// Every field has a serde default, so an empty table gives the defaults.
fn toml_defaults<T: serde::de::DeserializeOwned>() -> T {
    serde_json::from_value(serde_json::json!({})).expect("every field has a default")
}

/// The settings the shared model-based search runs with (BO and BANANAS).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSearchSettings {
    pub name: &'static str,
    pub predictor: PredictorConfig,
    pub acquisition: AcquisitionKind,
    pub ucb_beta: f64,
    pub initial_samples: usize,
    pub parents: usize,
    pub random_candidates: usize,
    pub batch: usize,
}

impl BoConfig {
    pub fn settings(&self) -> ModelSearchSettings {
        ModelSearchSettings {
            name: "bo",
            predictor: PredictorConfig::Gp {
                kernel: self.kernel,
            },
            acquisition: self.acquisition,
            ucb_beta: self.ucb_beta,
            initial_samples: self.initial_samples,
            parents: self.parents,
            random_candidates: self.random_candidates,
            batch: self.batch,
        }
    }
}

impl BananasConfig {
    pub fn settings(&self) -> ModelSearchSettings {
        ModelSearchSettings {
            name: "bananas",
            predictor: self.predictor.clone(),
            acquisition: self.acquisition,
            ucb_beta: self.ucb_beta,
            initial_samples: self.initial_samples,
            parents: self.parents,
            random_candidates: self.random_candidates,
            batch: self.batch,
        }
    }
}

impl ModelSearchSettings {
    /// Checks every setting; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.predictor.validate()?;
        if self.initial_samples == 0 {
            return Err("strategy.initial_samples must be at least 1".into());
        }
        if self.parents == 0 && self.random_candidates == 0 {
            return Err(
                "strategy.parents and strategy.random_candidates are both 0: no candidates".into(),
            );
        }
        if self.batch == 0 {
            return Err("strategy.batch must be at least 1".into());
        }
        check_beta(self.ucb_beta)
    }
}

impl NpenasConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.predictor.validate()?;
        crate::population::check_tournament(self.population, self.sample)?;
        if self.children == 0 {
            return Err("strategy.children must be at least 1".into());
        }
        check_beta(self.ucb_beta)
    }
}

/// A zero-cost warm start of `count` from a pool of `pool` must draw from enough.
fn check_warm_start(count: usize, pool: usize) -> Result<(), String> {
    if count > 0 && pool < count {
        return Err(format!(
            "strategy.warm_start_pool = {pool} is smaller than strategy.warm_start = {count}"
        ));
    }
    Ok(())
}

impl crate::StrategySettings for BoConfig {
    fn validate(&self) -> Result<(), String> {
        self.settings().validate()?;
        check_warm_start(self.warm_start, self.warm_start_pool)
    }
}

impl crate::StrategySettings for BananasConfig {
    fn validate(&self) -> Result<(), String> {
        self.settings().validate()?;
        check_warm_start(self.warm_start, self.warm_start_pool)
    }
}

impl crate::StrategySettings for NpenasConfig {
    fn validate(&self) -> Result<(), String> {
        NpenasConfig::validate(self)?;
        check_warm_start(self.warm_start, self.warm_start_pool)
    }
}

fn check_beta(beta: f64) -> Result<(), String> {
    if beta.is_finite() && beta >= 0.0 {
        Ok(())
    } else {
        Err(format!("strategy.ucb_beta = {beta}; must be 0 or more"))
    }
}
