use std::path::PathBuf;

use thiserror::Error;

/// Why a benchmark could not run or report.
#[derive(Debug, Error)]
pub enum BenchError {
    #[error(transparent)]
    Run(#[from] archer_runner::RunError),
    #[error(transparent)]
    Config(#[from] archer_runner::ConfigError),
    #[error("cannot write {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    /// A setting or an input the benchmark cannot use; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error("reference run failed: {0}")]
    Reference(String),
}

impl BenchError {
    pub(crate) fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        BenchError::Io {
            path: path.into(),
            reason: err.to_string(),
        }
    }
}
