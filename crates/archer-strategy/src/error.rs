use thiserror::Error;

/// Why a strategy could not propose, or could not be built or restored.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StrategyError {
    /// No new architecture could be found: the study should end normally.
    #[error("search space exhausted: {0}")]
    Exhausted(String),
    #[error("invalid {strategy} setting: {reason}")]
    InvalidSetting { strategy: String, reason: String },
    #[error("cannot restore {strategy} state: {reason}")]
    Restore { strategy: String, reason: String },
    #[error(transparent)]
    Space(#[from] archer_space::SpaceError),
}

impl StrategyError {
    pub(crate) fn restore(strategy: &str, err: impl std::fmt::Display) -> Self {
        StrategyError::Restore {
            strategy: strategy.to_string(),
            reason: err.to_string(),
        }
    }
}
