use std::path::PathBuf;

use thiserror::Error;

/// A data file that cannot be used. Every variant names the file.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DataError {
    #[error("cannot read {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path} is corrupt or truncated: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} has no column `{column}` (it has: {found})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}, line {line}, column `{column}`: {reason}")]
    BadValue {
        path: PathBuf,
        line: u64,
        column: String,
        reason: String,
    },
    #[error("{path} has no data rows")]
    Empty { path: PathBuf },
}

/// Why one evaluation failed. The study records it on the trial as FAILED and goes on.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EvalError {
    #[error("{evaluator} cannot evaluate architectures of space {space}")]
    WrongSpace { evaluator: String, space: String },
    #[error("architecture {arch} is not in the table {table}")]
    NotInTable { arch: String, table: String },
    #[error("fidelity not supported by {evaluator}: {reason}")]
    UnsupportedFidelity { evaluator: String, reason: String },
    #[error("invalid evaluator setting: {0}")]
    InvalidSetting(String),
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training ran and failed: a time or memory limit, a diverged loss, a libtorch error.
    #[error("training failed: {0}")]
    Training(String),
    /// A pruner stopped the trial after `step` reports; the study records it as PRUNED.
    #[error("pruned after step {step}")]
    Pruned { step: u32 },
}
