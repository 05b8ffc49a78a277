use std::path::PathBuf;

use thiserror::Error;

/// Errors of one-shot search.
#[derive(Debug, Error)]
pub enum OneShotError {
    /// A setting that cannot work, with the reason.
    #[error("one-shot setting: {0}")]
    Setting(String),
    /// An experiment-file setting that cannot work, by its key (`strategy.tau_min`).
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    /// A loss that is no longer a finite number.
    #[error("the {which} loss diverged ({loss}) at step {step}")]
    Diverged {
        which: &'static str,
        loss: f64,
        step: u64,
    },
    /// The supernet grew past `evaluator.memory_limit_mb`.
    #[error("the {method} supernet passed the memory limit of {limit_mb} MB: resident set {rss_mb} MB in epoch {epoch}; lower strategy.channels or strategy.depth, or strategy.weights.batch_size")]
    MemoryLimit {
        method: String,
        limit_mb: u64,
        rss_mb: u64,
        epoch: u32,
    },
    /// The supernet's training ran past `evaluator.time_limit_seconds`.
    #[error("the {method} supernet ran past its time limit of {limit_s} s ({elapsed_s:.0} s, epoch {epoch})")]
    TimeLimit {
        method: String,
        limit_s: f64,
        elapsed_s: f64,
        epoch: u32,
    },
    /// Reading or writing the one-shot folder failed.
    #[error("{}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },
    /// Data loading or the training engine.
    #[error(transparent)]
    Train(#[from] archer_train::TrainError),
    /// The PyTorch reference of a benchmark failed or disagreed with Archer.
    #[error("the PyTorch reference: {0}")]
    Reference(String),
}

impl OneShotError {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        OneShotError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}
