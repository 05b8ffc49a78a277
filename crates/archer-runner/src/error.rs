use std::path::PathBuf;

use archer_eval::EvalError;
use archer_space::SpaceError;
use archer_strategy::StrategyError;
use thiserror::Error;

/// An experiment file that cannot run. Each variant says which file or key and what is
/// accepted; nothing has been started when one is returned.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read experiment file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    // The section's error is part of the message and not also a `source`, so that an error
    // chain (`{:#}`) states the cause once.
    #[error("[space]: {0}")]
    Space(SpaceError),
    #[error("[strategy]: {0}")]
    Strategy(StrategyError),
    #[error("[evaluator]: {0}")]
    Evaluator(EvalError),
}

impl From<SpaceError> for ConfigError {
    fn from(e: SpaceError) -> Self {
        ConfigError::Space(e)
    }
}

impl From<StrategyError> for ConfigError {
    fn from(e: StrategyError) -> Self {
        ConfigError::Strategy(e)
    }
}

impl From<EvalError> for ConfigError {
    fn from(e: EvalError) -> Self {
        ConfigError::Evaluator(e)
    }
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// Why a study stopped abnormally. A normal end (budget spent, space exhausted) is not an
/// error but a [`crate::StopReason`].
#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("strategy failed: {0}")]
    Strategy(StrategyError),
    #[error("cannot write {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path} already holds an experiment; choose another output folder, remove it, or `archer resume` it")]
    OutputExists { path: PathBuf },
    #[error("another archer process ({holder}) is running the experiment in {path}")]
    Busy { path: PathBuf, holder: String },
    #[error(transparent)]
    Store(#[from] archer_store::StoreError),
    #[error("benchmark failed: {0}")]
    Bench(String),
    /// A one-shot search stopped (its checkpoint stays for `archer resume`).
    #[error("one-shot search failed: {0}")]
    OneShot(String),
    /// `Study::tell` for a trial that was not handed out, or is no longer running.
    #[error("cannot tell: {0}")]
    Tell(String),
}

impl From<StrategyError> for RunError {
    fn from(e: StrategyError) -> Self {
        RunError::Strategy(e)
    }
}

impl RunError {
    pub(crate) fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        RunError::Io {
            path: path.into(),
            reason: err.to_string(),
        }
    }
}
