use thiserror::Error;

/// Errors from building, parsing or encoding in a search space.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SpaceError {
    #[error("cannot parse {space} architecture {input:?}: {reason}")]
    Parse {
        space: String,
        input: String,
        reason: String,
    },
    #[error("architecture of space {found} v{found_version} does not belong to space {expected} v{expected_version}")]
    WrongSpace {
        expected: String,
        expected_version: u32,
        found: String,
        found_version: u32,
    },
    #[error("architecture is not in space {space}: {reason}")]
    NotContained { space: String, reason: String },
    #[error("unknown operation {op:?} for space {space}; accepted: {accepted}")]
    UnknownOp {
        space: String,
        op: String,
        accepted: String,
    },
    #[error("invalid setting for space {space}: {reason}")]
    InvalidSetting { space: String, reason: String },
    /// Rejection sampling found no valid vector: the space's constraints reject almost every
    /// vector, and the space must provide its own `sample`.
    #[error("space {space} rejected {attempts} random samples in a row; its constraints need a sampler of their own")]
    SamplingFailed { space: String, attempts: usize },
    /// A mistake in a declared space: the file (or builder), the item and what is wrong.
    #[error("{file}: {item}: {reason}")]
    Declaration {
        file: String,
        item: String,
        reason: String,
    },
    /// A network morph that does not apply to the architecture (the reason).
    #[error("morph refused: {0}")]
    MorphRefused(String),
    #[error("unknown search space {name:?}; built-in spaces: {accepted}")]
    UnknownSpace { name: String, accepted: String },
}
