use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::registry::Settings;
use crate::EvalError;

/// The `[evaluator]` section of an experiment: a registered evaluator kind and its settings
/// as written. The kind ([`crate::EvaluatorKind`]) checks, resolves and builds them.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluatorConfig {
    pub kind: String,
    pub settings: Settings,
}

impl<'de> Deserialize<'de> for EvaluatorConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut settings = Settings::deserialize(d)?;
        let kind = match settings.remove("kind") {
            Some(serde_json::Value::String(k)) => k,
            Some(_) => return Err(D::Error::custom("evaluator.kind must be a string")),
            None => return Err(D::Error::missing_field("kind")),
        };
        Ok(EvaluatorConfig { kind, settings })
    }
}

impl Serialize for EvaluatorConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = self.settings.clone();
        map.insert("kind".into(), serde_json::Value::String(self.kind.clone()));
        map.serialize(s)
    }
}

impl EvaluatorConfig {
    /// The section for `kind` with `settings` (a kind's settings type).
    pub fn of(kind: &str, settings: &impl Serialize) -> Result<Self, EvalError> {
        match serde_json::to_value(settings) {
            Ok(serde_json::Value::Object(settings)) => Ok(EvaluatorConfig {
                kind: kind.to_string(),
                settings,
            }),
            _ => Err(EvalError::InvalidSetting(format!(
                "[evaluator] kind = {kind:?}: settings must be a table"
            ))),
        }
    }

    /// The settings as `C` when the kind is `kind`; `None` for another kind.
    pub fn typed<C: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Option<Result<C, EvalError>> {
        (self.kind == kind).then(|| {
            serde_json::from_value(serde_json::Value::Object(self.settings.clone()))
                .map_err(|e| EvalError::InvalidSetting(format!("kind {kind:?}: {e}")))
        })
    }
}

/// `p` taken relative to `base`, made absolute (and canonical when it exists) so that a
/// saved configuration runs from any folder.
pub(crate) fn join(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    std::fs::canonicalize(&joined)
        .or_else(|_| std::path::absolute(&joined))
        .unwrap_or(joined)
}
