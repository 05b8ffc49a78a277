use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{ChainSpace, DartsSpace, Nb201Space, SearchSpace, SpaceError};

/// The `[space]` section of an experiment: which built-in space, with its options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum SpaceConfig {
    /// NAS-Bench-201 cells; `ops` restricts the operations (default: all 5).
    Nb201 {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ops: Option<Vec<String>>,
    },
    /// DARTS normal + reduction cells; `ops` defaults to the 7 ops other than `none`.
    Darts {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ops: Option<Vec<String>>,
    },
    /// Chain-structured network with skip connections.
    Macro {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        layers: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ops: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kernels: Option<Vec<u32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filters: Option<Vec<u32>>,
    },
}

impl SpaceConfig {
    /// Names accepted in `[space] name = ...`.
    pub const NAMES: [&'static str; 3] = ["nb201", "darts", "macro"];

    /// The default configuration of a built-in space by name.
    pub fn by_name(name: &str) -> Result<SpaceConfig, SpaceError> {
        match name {
            "nb201" => Ok(SpaceConfig::Nb201 { ops: None }),
            "darts" => Ok(SpaceConfig::Darts { ops: None }),
            "macro" => Ok(SpaceConfig::Macro {
                layers: None,
                ops: None,
                kernels: None,
                filters: None,
            }),
            other => Err(SpaceError::UnknownSpace {
                name: other.to_string(),
                accepted: Self::NAMES.join(", "),
            }),
        }
    }

    /// Builds the space, validating every option.
    pub fn build(&self) -> Result<Arc<dyn SearchSpace>, SpaceError> {
        Ok(match self {
            SpaceConfig::Nb201 { ops } => Arc::new(Nb201Space::new(ops.as_deref())?),
            SpaceConfig::Darts { ops } => Arc::new(DartsSpace::new(ops.as_deref())?),
            SpaceConfig::Macro {
                layers,
                ops,
                kernels,
                filters,
            } => Arc::new(ChainSpace::new(
                *layers,
                ops.as_deref(),
                kernels.as_deref(),
                filters.as_deref(),
            )?),
        })
    }
}

/// Every built-in space in its default configuration.
pub fn builtin_spaces() -> Vec<Arc<dyn SearchSpace>> {
    SpaceConfig::NAMES
        .iter()
        .map(|n| {
            SpaceConfig::by_name(n)
                .and_then(|c| c.build())
                .expect("defaults build")
        })
        .collect()
}

/// Indices (sorted, unique) of `given` op names in `vocabulary`; all of them when `None`.
pub(crate) fn allowed_ops(
    space: &str,
    vocabulary: &[&str],
    given: Option<&[String]>,
) -> Result<Vec<u16>, SpaceError> {
    let Some(given) = given else {
        return Ok((0..vocabulary.len() as u16).collect());
    };
    if given.is_empty() {
        return Err(SpaceError::InvalidSetting {
            space: space.to_string(),
            reason: format!("ops must list at least one of: {}", vocabulary.join(", ")),
        });
    }
    let mut out = Vec::new();
    for op in given {
        let i = vocabulary
            .iter()
            .position(|v| v == op)
            .ok_or_else(|| SpaceError::UnknownOp {
                space: space.to_string(),
                op: op.clone(),
                accepted: vocabulary.join(", "),
            })?;
        if !out.contains(&(i as u16)) {
            out.push(i as u16);
        }
    }
    out.sort();
    Ok(out)
}
