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
    #[error("unknown search space {name:?}; built-in spaces: {accepted}")]
    UnknownSpace { name: String, accepted: String },
}
