use std::path::PathBuf;

use archer_nets::NetError;
use thiserror::Error;

/// What can go wrong while loading data, building, training or exporting a network.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A data file that cannot be read as what it claims to be; names the file and where.
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid training setting: {0}")]
    Setting(String),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The trial ran past its time limit.
    #[error("time limit of {limit_s} s reached after {elapsed_s:.1} s (epoch {epoch})")]
    TimeLimit {
        limit_s: f64,
        elapsed_s: f64,
        epoch: u32,
    },
    /// The process grew past the trial's memory limit.
    #[error("memory limit of {limit_mb} MB exceeded: resident set {rss_mb} MB (epoch {epoch})")]
    MemoryLimit {
        limit_mb: u64,
        rss_mb: u64,
        epoch: u32,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged: loss {loss} at epoch {epoch}, step {step}")]
    Diverged { loss: f64, epoch: u32, step: u64 },
    /// A pruner stopped the trial after `epoch` epochs.
    #[error("pruned after epoch {epoch}")]
    Pruned { epoch: u32 },
    #[error("the data loader stopped: {0}")]
    Loader(String),
    #[error("{0}")]
    Export(String),
}

impl TrainError {
    pub(crate) fn data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TrainError::Data {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
