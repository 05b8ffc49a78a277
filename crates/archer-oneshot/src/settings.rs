//! The `[strategy]` settings of a one-shot method, as written in an experiment file. Every
//! default is the published NAS-Bench-201 recipe (AutoDL-Projects): supernet C = 16, N = 5;
//! weights by SGD with cosine 0.025 → 0.001, momentum 0.9 (Nesterov), weight decay 5e-4,
//! gradient clipping 5, batch 64; α by Adam 3e-4, betas (0.5, 0.999), weight decay 1e-3.
//! Smaller settings for CPU runs are written in the experiment, never hidden.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::OneShotError;

/// A one-shot method's settings (`[strategy]` without `name`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneShotSettings {
    /// Epochs of supernet training (default: the method's published count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// First epochs that train the weights only (α untouched).
    #[serde(default)]
    pub warmup_epochs: u32,
    /// The supernet's channels in its first stage (C).
    #[serde(default = "default_channels")]
    pub channels: i64,
    /// The supernet's normal cells per stage (N; default: the space's published recipe,
    /// NB201 5, DARTS 2 — quark0's 8 cells with the two reduction cells).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    #[serde(default)]
    pub weights: WeightSettings,
    #[serde(default)]
    pub arch: ArchSettings,
    /// GDAS and SNAS: the Gumbel-softmax temperature falls linearly from `tau_max` to
    /// `tau_min` (GDAS: 10 → 0.1, AutoDL-Projects; SNAS: 10 → 1, DrNAS's implementation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_min: Option<f64>,
    /// RSPS and ENAS: architectures (random; ENAS: drawn from the controller) scored on the
    /// shared weights at the end (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<usize>,
    /// SPOS: the evolutionary search over paths on the frozen supernet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evolution: Option<EvolutionSettings>,
    /// ENAS: the controller and its training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<ControllerSettings>,
    /// DrNAS: how α is regularised (default L2 with scale 1e-3, the DrNAS NB201 default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirichlet: Option<DirichletSettings>,
    #[serde(default)]
    pub scoring: ScoringSettings,
    /// Supernet trust against a NAS-Bench-201 table (NB201 space only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustSettings>,
    /// Finalists: the `finalists` architectures the method ranks best (α-methods: the most
    /// probable under their final distribution; RSPS, SPOS, ENAS: the best inherited scores)
    /// are trained from scratch by the `train` evaluator for `finalist_epochs` each, and the
    /// best trained validation accuracy wins. 0 (the default): the method's choice is the
    /// study's trial, scored on the shared weights.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub finalists: usize,
    /// Epochs of each finalist's training (default 2; needs `finalists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalist_epochs: Option<u32>,
    /// PC-DARTS's partial channels K (Xu et al. 2020; their K = 4): only `1/K` of each edge's
    /// channels pass through its candidates, the rest bypass the edge, then the two parts
    /// are concatenated and channel-shuffled; less memory and compute per edge. K must
    /// divide `channels`. Unset: every channel (K = 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_channels: Option<i64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The epochs a finalist trains when `finalist_epochs` is not set.
pub const DEFAULT_FINALIST_EPOCHS: u32 = 2;

fn default_channels() -> i64 {
    16
}

/// `[strategy.weights]`: the supernet weights' optimiser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeightSettings {
    pub lr: f64,
    pub min_lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// Gradient-norm clipping (0: none).
    pub grad_clip: f64,
    pub batch_size: usize,
}

impl Default for WeightSettings {
    fn default() -> Self {
        WeightSettings {
            lr: 0.025,
            min_lr: 0.001,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            grad_clip: 5.0,
            batch_size: 64,
        }
    }
}

/// `[strategy.arch]`: α's optimiser (Adam).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchSettings {
    pub lr: f64,
    pub betas: [f64; 2],
    pub weight_decay: f64,
}

impl Default for ArchSettings {
    fn default() -> Self {
        ArchSettings {
            lr: 3e-4,
            betas: [0.5, 0.999],
            weight_decay: 1e-3,
        }
    }
}

/// `[strategy.evolution]` (SPOS): a random population, then each generation's `top_k` are the
/// parents of `mutations` mutants and `crossovers` children (SPOS: 50, 20 generations, 10,
/// 25, 25).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolutionSettings {
    pub population: usize,
    pub generations: usize,
    pub top_k: usize,
    pub mutations: usize,
    pub crossovers: usize,
}

impl Default for EvolutionSettings {
    fn default() -> Self {
        EvolutionSettings {
            population: 50,
            generations: 20,
            top_k: 10,
            mutations: 25,
            crossovers: 25,
        }
    }
}

/// `[strategy.controller]` (ENAS): an LSTM controller over the space's decisions, trained by
/// REINFORCE after each epoch's shared-weight training on `train_steps × aggregate` sampled
/// paths, each rewarded by its accuracy on one validation batch. Defaults: AutoDL-Projects'
/// NB201 ENAS (`ENAS.config`, `ENAS.py`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerSettings {
    pub hidden: usize,
    pub layers: usize,
    /// Initial weights uniform in ±`init_range`.
    pub init_range: f64,
    /// Logits divided by this, then bounded by `tanh_constant · tanh`.
    pub temperature: f64,
    pub tanh_constant: f64,
    /// The controller's Adam.
    pub lr: f64,
    pub betas: [f64; 2],
    pub eps: f64,
    pub entropy_weight: f64,
    pub baseline_decay: f64,
    /// Gradient-norm clipping of the controller (0: none).
    pub grad_clip: f64,
    /// Controller updates per epoch.
    pub train_steps: usize,
    /// Sampled paths per update.
    pub aggregate: usize,
}

impl Default for ControllerSettings {
    fn default() -> Self {
        ControllerSettings {
            hidden: 32,
            layers: 2,
            init_range: 0.1,
            temperature: 5.0,
            tanh_constant: 2.5,
            lr: 1e-3,
            betas: [0.0, 0.999],
            eps: 1e-3,
            entropy_weight: 1e-4,
            baseline_decay: 0.99,
            grad_clip: 0.0,
            train_steps: 50,
            aggregate: 20,
        }
    }
}

/// `[strategy.dirichlet]` (DrNAS): the regulariser on α, as DrNAS's `--reg_type` and
/// `--reg_scale`. `l2` is α's Adam weight decay set to `scale`; `kl` adds
/// `scale · KL(Dir(β) ‖ Dir(1))` per edge to the α loss, with no weight decay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirichletSettings {
    pub regularizer: Regularizer,
    pub scale: f64,
}

impl Default for DirichletSettings {
    fn default() -> Self {
        DirichletSettings {
            regularizer: Regularizer::L2,
            scale: 1e-3,
        }
    }
}

/// DrNAS's regulariser kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regularizer {
    L2,
    Kl,
}

/// `[strategy.scoring]`: how a sub-network is scored on the shared weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringSettings {
    /// Batch norms recalibrated on this many training images under the sub-network before
    /// it is scored (SPOS); 0 scores with the supernet's running statistics.
    pub recalibration_images: usize,
    /// Validation images each sub-network is scored on (at most the validation part).
    pub images: usize,
}

impl Default for ScoringSettings {
    fn default() -> Self {
        ScoringSettings {
            recalibration_images: 512,
            images: 1024,
        }
    }
}

/// `[strategy.trust]`: how well the supernet ranks architectures. With a `table`: a sample
/// of NB201 cells stratified by their table accuracy, scored on the shared weights and
/// compared with the table's CIFAR-10 test accuracy. Without one (other data, or a space with
/// no table): `retrain_epochs` trains a uniformly drawn sample from scratch briefly, and
/// their validation accuracies are the truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSettings {
    /// The NAS-Bench-201 results table (`nb201_results.csv.gz`); a relative path is taken
    /// from the experiment file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<PathBuf>,
    /// Architectures in the sample (default 200; with a table at least 20, retrained at
    /// least 5).
    #[serde(default = "default_sample")]
    pub sample: usize,
    /// Without a table: each sampled architecture is trained from scratch for this many
    /// epochs by the `train` evaluator (its `[evaluator.network]` and training settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain_epochs: Option<u32>,
    /// Validation images each sampled cell is scored on (default: `scoring.images`, the
    /// first of the same images); fewer make the measurement cheaper and noisier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
}

fn default_sample() -> usize {
    200
}

fn invalid(key: &str, reason: impl Into<String>) -> OneShotError {
    OneShotError::Invalid {
        key: format!("strategy.{key}"),
        reason: reason.into(),
    }
}

impl OneShotSettings {
    /// Parses `[strategy]`'s settings (without `name`); an unknown key is named in the error's
    /// key (`strategy.layers`).
    pub fn parse(
        settings: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, OneShotError> {
        Self::parse_for(settings, "")
    }

    /// As [`OneShotSettings::parse`], with the published recipe of the space named `space`
    /// where it differs from NB201's and the experiment leaves the setting out (DARTS:
    /// quark0's weight decay 3e-4 and plain momentum).
    pub fn parse_for(
        settings: &serde_json::Map<String, serde_json::Value>,
        space: &str,
    ) -> Result<Self, OneShotError> {
        let mut settings = settings.clone();
        if let Some(kind) = crate::supernet::supernet_kind(space) {
            for (section, key, value) in kind.recipe {
                let entry = settings
                    .entry(section.to_string())
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
                if let serde_json::Value::Object(m) = entry {
                    m.entry(key.to_string()).or_insert_with(|| value.into());
                }
            }
        }
        serde_json::from_value(serde_json::Value::Object(settings)).map_err(|e| {
            let reason = e.to_string();
            let key = reason
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next())
                .map_or_else(|| "strategy".to_string(), |k| format!("strategy.{k}"));
            OneShotError::Invalid { key, reason }
        })
    }

    /// Checks every setting for `method` (a registered name): a key that another method
    /// uses is refused, as is any value that cannot work.
    pub fn validate(&self, method: &str) -> Result<(), OneShotError> {
        if self.epochs == Some(0) {
            return Err(invalid("epochs", "must be at least 1"));
        }
        if self.channels < 1 {
            return Err(invalid(
                "channels",
                format!("channels = {} must be at least 1", self.channels),
            ));
        }
        if self.depth == Some(0) {
            return Err(invalid("depth", "must be at least 1"));
        }
        let w = &self.weights;
        if !(w.lr > 0.0 && w.min_lr >= 0.0 && w.min_lr <= w.lr) {
            return Err(invalid("weights.lr", "needs 0 <= min_lr <= lr and lr > 0"));
        }
        if !(0.0..1.0).contains(&w.momentum) || w.weight_decay < 0.0 || w.grad_clip < 0.0 {
            return Err(invalid(
                "weights",
                "momentum in [0, 1), weight_decay and grad_clip at least 0",
            ));
        }
        if w.batch_size == 0 {
            return Err(invalid("weights.batch_size", "must be at least 1"));
        }
        let a = &self.arch;
        if !(a.lr > 0.0 && a.weight_decay >= 0.0 && a.betas.iter().all(|b| (0.0..1.0).contains(b)))
        {
            return Err(invalid(
                "arch",
                "lr > 0, weight_decay >= 0 and betas in [0, 1)",
            ));
        }
        let uses_tau = matches!(method, "gdas" | "snas");
        if !uses_tau && (self.tau_max.is_some() || self.tau_min.is_some()) {
            return Err(invalid(
                "tau_max",
                format!("is a gdas and snas setting; {method} has no temperature"),
            ));
        }
        let (tau_max, tau_min) = self.tau(method);
        if uses_tau && !(tau_min > 0.0 && tau_min <= tau_max) {
            return Err(invalid(
                "tau_min",
                format!("{tau_min}; must be in (0, tau_max = {tau_max}]"),
            ));
        }
        if !matches!(method, "rsps" | "enas") && self.candidates.is_some() {
            return Err(invalid(
                "candidates",
                format!("is an rsps and enas setting, not {method}'s"),
            ));
        }
        if method != "enas" && self.controller.is_some() {
            return Err(invalid(
                "controller",
                format!("is an enas setting, not {method}'s"),
            ));
        }
        let c = self.controller();
        if c.train_steps == 0 || c.aggregate == 0 {
            return Err(invalid(
                "controller",
                "train_steps and aggregate must each be at least 1",
            ));
        }
        if !(c.lr > 0.0
            && c.eps > 0.0
            && c.betas.iter().all(|b| (0.0..1.0).contains(b))
            && (0.0..1.0).contains(&c.baseline_decay)
            && c.entropy_weight >= 0.0
            && c.grad_clip >= 0.0)
        {
            return Err(invalid(
                "controller",
                "lr > 0, eps > 0, betas and baseline_decay in [0, 1), entropy_weight and \
                 grad_clip at least 0",
            ));
        }
        if method != "drnas" && self.dirichlet.is_some() {
            return Err(invalid(
                "dirichlet",
                format!("is a drnas setting, not {method}'s"),
            ));
        }
        if method == "drnas" {
            if self.arch.weight_decay != ArchSettings::default().weight_decay {
                return Err(invalid(
                    "arch.weight_decay",
                    "drnas regularises alpha by strategy.dirichlet (regularizer l2 or kl, and \
                     its scale); arch.weight_decay is not used",
                ));
            }
            let scale = self.dirichlet().scale;
            if !(scale.is_finite() && scale >= 0.0) {
                return Err(invalid(
                    "dirichlet.scale",
                    format!("{scale}; must be at least 0"),
                ));
            }
        }
        if method != "spos" && self.evolution.is_some() {
            return Err(invalid(
                "evolution",
                format!("is an spos setting, not {method}'s"),
            ));
        }
        let e = self.evolution();
        if e.population == 0 || e.top_k == 0 {
            return Err(invalid(
                "evolution",
                "population and top_k must be at least 1",
            ));
        }
        if self.candidates == Some(0) {
            return Err(invalid("candidates", "must be at least 1"));
        }
        if self.scoring.images == 0 {
            return Err(invalid("scoring.images", "must be at least 1"));
        }
        if let Some(k) = self.partial_channels {
            if k < 1 || self.channels % k != 0 {
                return Err(invalid(
                    "partial_channels",
                    format!(
                        "{k}; must be at least 1 and divide channels = {}",
                        self.channels
                    ),
                ));
            }
        }
        if self.finalist_epochs == Some(0) {
            return Err(invalid("finalist_epochs", "must be at least 1"));
        }
        if self.finalist_epochs.is_some() && self.finalists == 0 {
            return Err(invalid(
                "finalist_epochs",
                "trains finalists; set strategy.finalists (how many) too",
            ));
        }
        if let Some(t) = &self.trust {
            match (&t.table, t.retrain_epochs) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "trust.retrain_epochs",
                        "the truth is the table or a brief retraining, not both; drop trust.table or trust.retrain_epochs",
                    ))
                }
                (None, None) => {
                    return Err(invalid(
                        "trust",
                        "needs table (a NAS-Bench-201 results table) or retrain_epochs (train the sample from scratch)",
                    ))
                }
                (None, Some(0)) => {
                    return Err(invalid("trust.retrain_epochs", "must be at least 1"))
                }
                _ => {}
            }
            let least = if t.table.is_some() { 20 } else { 5 };
            if t.sample < least {
                return Err(invalid(
                    "trust.sample",
                    format!("{}; must be at least {least}", t.sample),
                ));
            }
            if t.images == Some(0) {
                return Err(invalid("trust.images", "must be at least 1"));
            }
        }
        Ok(())
    }

    /// PC-DARTS's K (1: every channel through the candidates).
    /// The supernet's normal cells per stage on the space named `space`: `depth`, else the
    /// space's published recipe.
    pub fn depth_for(&self, space: &str) -> usize {
        self.depth
            .unwrap_or_else(|| crate::supernet::supernet_kind(space).map_or(5, |k| k.default_depth))
    }

    pub fn partial_channels(&self) -> i64 {
        self.partial_channels.unwrap_or(1)
    }

    /// The epochs each finalist trains.
    pub fn finalist_epochs(&self) -> u32 {
        self.finalist_epochs.unwrap_or(DEFAULT_FINALIST_EPOCHS)
    }

    /// The temperatures `(tau_max, tau_min)` of `method` (GDAS: 10 and 0.1; SNAS: 10 and 1).
    pub fn tau(&self, method: &str) -> (f64, f64) {
        let min = if method == "snas" { 1.0 } else { 0.1 };
        (self.tau_max.unwrap_or(10.0), self.tau_min.unwrap_or(min))
    }

    /// ENAS's controller (defaults: AutoDL-Projects' NB201 ENAS).
    pub fn controller(&self) -> ControllerSettings {
        self.controller.clone().unwrap_or_default()
    }

    /// DrNAS's regulariser (default: L2, 1e-3).
    pub fn dirichlet(&self) -> DirichletSettings {
        self.dirichlet.clone().unwrap_or_default()
    }

    /// SPOS's evolution (defaults: SPOS's).
    pub fn evolution(&self) -> EvolutionSettings {
        self.evolution.clone().unwrap_or_default()
    }

    /// RSPS's and ENAS's candidates (default 100).
    pub fn candidates(&self) -> usize {
        self.candidates.unwrap_or(100)
    }
}
