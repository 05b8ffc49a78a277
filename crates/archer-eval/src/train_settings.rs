//! Settings of the `train` evaluator (real training, in `archer-train`), as plain data, so
//! that experiment files are parsed and checked the same way in builds with and without
//! PyTorch.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// A dataset on disk, in one of the supported formats. Files may be gzip'd.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataConfig {
    /// MNIST or Fashion-MNIST: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (each optionally `.gz`) in `dir`.
    Idx { dir: PathBuf },
    /// CIFAR-10 binary: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`.
    Cifar10 { dir: PathBuf },
    /// CIFAR-100 binary: `train.bin` and `test.bin` (fine labels).
    Cifar100 { dir: PathBuf },
    /// Image folders `train/<class>/*.png|jpg` and `test/<class>/…`, one image size.
    Folder { train: PathBuf, test: PathBuf },
}

impl DataConfig {
    /// Relative paths are taken relative to `base` (the experiment file's folder) and made
    /// absolute.
    pub fn resolve_paths(&mut self, base: &Path) {
        match self {
            DataConfig::Idx { dir }
            | DataConfig::Cifar10 { dir }
            | DataConfig::Cifar100 { dir } => *dir = crate::config::join(base, dir),
            DataConfig::Folder { train, test } => {
                *train = crate::config::join(base, train);
                *test = crate::config::join(base, test);
            }
        }
    }
}

/// How the network around a searched cell or chain is built. Every field has the space's
/// usual default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// nb201: first-stage channels (16); darts: initial channels C (16, the search network;
    /// the DARTS evaluation network uses 36); macro: stem channels (16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u64>,
    /// nb201: cells per stage (5); darts: cells (8; evaluation: 20). Not used by macro.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    /// darts: weight of the auxiliary head's loss (0, the default, builds no head; DARTS
    /// uses 0.4).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub auxiliary_weight: f64,
    /// darts: drop-path probability while training (DARTS uses 0.2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drop_path: f64,
}

/// Training-time augmentation (all off by default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Random crop of the original size after zero-padding every side by this many pixels
    /// (CIFAR recipes: 4). 0: off.
    #[serde(default)]
    pub crop_padding: u32,
    /// Random horizontal flip with probability 1/2 (keep off for digits).
    #[serde(default)]
    pub flip: bool,
    /// Cutout: a square of this side set to zero (after normalisation) at a random centre
    /// (DARTS: 16). 0: off.
    #[serde(default)]
    pub cutout: u32,
}

/// Where tensors live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// CUDA when a GPU is visible, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}
fn d_epochs() -> u32 {
    10
}
fn d_batch() -> usize {
    64
}
fn d_eval_batch() -> usize {
    256
}
fn d_lr() -> f64 {
    0.05
}
fn d_momentum() -> f64 {
    0.9
}
fn yes() -> bool {
    true
}
fn d_wd() -> f64 {
    5e-4
}
fn d_prefetch() -> usize {
    4
}
fn d_valid() -> f64 {
    0.1
}
fn one() -> f64 {
    1.0
}

/// The optimiser and schedule: SGD with momentum (Nesterov by default) and weight decay, a
/// linear warm-up then cosine decay of the learning rate per step, optional gradient-norm
/// clipping and label smoothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Epochs at full fidelity (a trial's fidelity may ask for fewer or more).
    #[serde(default = "d_epochs")]
    pub epochs: u32,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Batch size for validation and test passes.
    #[serde(default = "d_eval_batch")]
    pub eval_batch_size: usize,
    /// Peak learning rate.
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    #[serde(default)]
    pub min_lr: f64,
    /// Epochs of linear warm-up from 0 to `lr` (fractions allowed).
    #[serde(default)]
    pub warmup_epochs: f64,
    #[serde(default = "d_momentum")]
    pub momentum: f64,
    #[serde(default = "yes")]
    pub nesterov: bool,
    #[serde(default = "d_wd")]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this (0: off; DARTS: 5).
    #[serde(default)]
    pub grad_clip: f64,
    /// Label smoothing of the cross-entropy (0: off).
    #[serde(default)]
    pub label_smoothing: f64,
    /// Decay per step of an exponential moving average of the weights and batch-norm
    /// statistics (0: off; e.g. 0.99, about the last 100 steps). When on, the average is
    /// what is validated each epoch and what the finished run leaves as its model (tested,
    /// exported); training steps the raw weights. The average's values are steadier than
    /// the raw weights' early in a schedule, at a multi-fidelity scheduler's low rungs.
    #[serde(default)]
    pub ema_decay: f64,
    #[serde(default)]
    pub augment: Augment,
    /// Intra-op threads (0: libtorch's default, one per core).
    #[serde(default)]
    pub threads: usize,
    /// Batches prepared ahead by the loader thread.
    #[serde(default = "d_prefetch")]
    pub prefetch: usize,
    #[serde(default)]
    pub device: DeviceChoice,
}

impl Default for TrainConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), EvalError> {
        let bad =
            |k: &str, why: String| Err(EvalError::InvalidSetting(format!("training.{k}: {why}")));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch_size", "batch sizes must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", format!("{} must be positive", self.lr));
        }
        if !(0.0..=self.lr).contains(&self.min_lr) {
            return bad("min_lr", format!("{} must be in [0, lr]", self.min_lr));
        }
        if !(self.warmup_epochs >= 0.0 && self.warmup_epochs.is_finite()) {
            return bad(
                "warmup_epochs",
                format!("{} must be >= 0", self.warmup_epochs),
            );
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", format!("{} must be in [0, 1)", self.momentum));
        }
        if self.nesterov && self.momentum == 0.0 {
            return bad("nesterov", "needs momentum > 0".into());
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(
                "weight_decay",
                format!("{} must be >= 0", self.weight_decay),
            );
        }
        if !(self.grad_clip >= 0.0 && self.grad_clip.is_finite()) {
            return bad("grad_clip", format!("{} must be >= 0", self.grad_clip));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(
                "label_smoothing",
                format!("{} must be in [0, 1)", self.label_smoothing),
            );
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return bad("ema_decay", format!("{} must be in [0, 1)", self.ema_decay));
        }
        Ok(())
    }
}

impl NetworkConfig {
    pub fn validate(&self) -> Result<(), EvalError> {
        let bad = |s: String| Err(EvalError::InvalidSetting(s));
        if self.channels == Some(0) {
            return bad("network.channels must be at least 1".into());
        }
        if self.depth == Some(0) {
            return bad("network.depth must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.drop_path) {
            return bad(format!(
                "network.drop_path = {}; must be in [0, 1)",
                self.drop_path
            ));
        }
        if !(self.auxiliary_weight >= 0.0 && self.auxiliary_weight.is_finite()) {
            return bad(format!(
                "network.auxiliary_weight = {}; must be >= 0",
                self.auxiliary_weight
            ));
        }
        Ok(())
    }
}

/// The body of `[evaluator] kind = "train"`: train every candidate on real data and
/// measure it on a validation split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    pub data: DataConfig,
    /// Share of the training images held out (stratified, by the study seed) for
    /// validation: the search signal.
    #[serde(default = "d_valid")]
    pub valid_fraction: f64,
    /// Share of the remaining training images a trial trains on at full fidelity (a
    /// trial's fidelity may ask for less).
    #[serde(default = "one")]
    pub data_fraction: f64,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub training: TrainConfig,
    /// A trial running longer than this (seconds) is stopped and FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_seconds: Option<f64>,
    /// A trial during which the process's resident memory passes this (MB) is stopped and
    /// FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mb: Option<u64>,
    /// Measure forward latency at batch 1 and 64 (median of repeated runs).
    #[serde(default = "yes")]
    pub measure_latency: bool,
}

impl TrainSettings {
    pub fn validate(&self) -> Result<(), EvalError> {
        let bad = |s: String| Err(EvalError::InvalidSetting(s));
        if !(self.valid_fraction > 0.0 && self.valid_fraction < 1.0) {
            return bad(format!(
                "evaluator.valid_fraction = {}; must be in (0, 1)",
                self.valid_fraction
            ));
        }
        if !(self.data_fraction > 0.0 && self.data_fraction <= 1.0) {
            return bad(format!(
                "evaluator.data_fraction = {}; must be in (0, 1]",
                self.data_fraction
            ));
        }
        if let Some(t) = self.time_limit_seconds {
            if !(t > 0.0 && t.is_finite()) {
                return bad(format!(
                    "evaluator.time_limit_seconds = {t}; must be positive"
                ));
            }
        }
        if self.memory_limit_mb == Some(0) {
            return bad("evaluator.memory_limit_mb must be positive".into());
        }
        self.network.validate()?;
        self.training.validate()
    }
}

/// `[evaluator] kind = "train"` in a build without the `train` feature: its settings are
/// checked as in every build, and building it explains how to get real training.
pub static TRAIN_UNAVAILABLE: crate::registry::EvalKind<TrainSettings> =
    crate::registry::EvalKind::new("train", |_, _| {
        Err(EvalError::InvalidSetting(
            "evaluator.kind = \"train\" needs real training, and this archer was built without it: rebuild with the default `train` feature (scripts/setup-torch.sh installs PyTorch)".into(),
        ))
    });

impl crate::registry::EvaluatorSettings for TrainSettings {
    fn validate(&self) -> Result<(), EvalError> {
        TrainSettings::validate(self)
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.data.resolve_paths(base);
    }
}
