//! The open evaluator registry: each evaluator kind keeps its settings and its builder beside
//! its code and is listed once (`KINDS` here; `archer-train` adds `train`). The runner asks
//! the registry to check, resolve and build the `[evaluator]` section.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use archer_core::MetricSpec;
use archer_space::SearchSpace;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{EvalError, Evaluator, ZeroCostProxy};

/// The settings of an evaluator as written in `[evaluator]` (without `kind`).
pub type Settings = serde_json::Map<String, serde_json::Value>;

/// What an evaluator is built for.
pub struct EvalBuildContext<'a> {
    /// The space searched.
    pub space: &'a Arc<dyn SearchSpace>,
    /// The metrics the experiment's objectives and constraints name, for an evaluator whose
    /// results come from outside (`external`).
    pub told: &'a [MetricSpec],
    /// The study's name.
    pub study: &'a str,
    /// The experiment folder, when known (an evaluator that keeps files per trial puts them
    /// inside it).
    pub output: Option<&'a std::path::Path>,
}

/// One kind of evaluator in the registry.
pub trait EvaluatorKind: Sync {
    /// The name accepted in `[evaluator] kind = ...`.
    fn name(&self) -> &'static str;

    /// Checks the settings before anything runs; errors name the key.
    fn check(&self, settings: &Settings) -> Result<(), EvalError>;

    /// Takes relative paths in `settings` relative to `base` (the experiment file's folder).
    fn resolve_paths(&self, settings: &mut Settings, base: &Path) -> Result<(), EvalError>;

    /// The space this evaluator can evaluate, if it is tied to one.
    fn required_space(&self) -> Option<&'static str> {
        None
    }

    /// Loads its data and builds the evaluator (settings already checked).
    fn build(
        &self,
        settings: &Settings,
        ctx: &EvalBuildContext,
    ) -> Result<Arc<dyn Evaluator>, EvalError>;

    /// The zero-cost proxy scores the settings name, if any.
    fn zero_cost(&self, _settings: &Settings) -> Result<Option<Arc<dyn ZeroCostProxy>>, EvalError> {
        Ok(None)
    }
}

/// The settings type of an evaluator kind: parsed with serde (unknown keys refused).
pub trait EvaluatorSettings: Serialize + DeserializeOwned {
    /// Checks ranges and combinations; the message names the key.
    fn validate(&self) -> Result<(), EvalError> {
        Ok(())
    }

    /// Takes relative paths relative to `base`.
    fn resolve_paths(&mut self, _base: &Path) {}

    /// The zero-cost proxy scores these settings name, if any.
    fn zero_cost(&self) -> Result<Option<Arc<dyn ZeroCostProxy>>, EvalError> {
        Ok(None)
    }
}

/// The builder of an evaluator from its settings.
pub type BuildEvaluator<C> = fn(&C, &EvalBuildContext) -> Result<Arc<dyn Evaluator>, EvalError>;

/// An [`EvaluatorKind`] from a settings type and a builder: what an evaluator's file
/// declares as its `KIND`.
pub struct EvalKind<C> {
    name: &'static str,
    required_space: Option<&'static str>,
    build: BuildEvaluator<C>,
    settings: PhantomData<fn() -> C>,
}

impl<C> EvalKind<C> {
    pub const fn new(name: &'static str, build: BuildEvaluator<C>) -> Self {
        EvalKind {
            name,
            required_space: None,
            build,
            settings: PhantomData,
        }
    }

    /// Ties the kind to one space.
    pub const fn for_space(mut self, space: &'static str) -> Self {
        self.required_space = Some(space);
        self
    }
}

impl<C: EvaluatorSettings> EvalKind<C> {
    fn parse(&self, settings: &Settings) -> Result<C, EvalError> {
        let c: C = serde_json::from_value(serde_json::Value::Object(settings.clone()))
            .map_err(|e| EvalError::InvalidSetting(format!("kind {:?}: {e}", self.name)))?;
        c.validate()?;
        Ok(c)
    }
}

impl<C: EvaluatorSettings> EvaluatorKind for EvalKind<C> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&self, settings: &Settings) -> Result<(), EvalError> {
        self.parse(settings).map(|_| ())
    }

    fn resolve_paths(&self, settings: &mut Settings, base: &Path) -> Result<(), EvalError> {
        let mut c = self.parse(settings)?;
        c.resolve_paths(base);
        *settings = match serde_json::to_value(&c) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(EvalError::InvalidSetting(format!(
                    "[evaluator] kind = {:?}: its settings do not serialise as a table",
                    self.name
                )))
            }
        };
        Ok(())
    }

    fn required_space(&self) -> Option<&'static str> {
        self.required_space
    }

    fn build(
        &self,
        settings: &Settings,
        ctx: &EvalBuildContext,
    ) -> Result<Arc<dyn Evaluator>, EvalError> {
        (self.build)(&self.parse(settings)?, ctx)
    }

    fn zero_cost(&self, settings: &Settings) -> Result<Option<Arc<dyn ZeroCostProxy>>, EvalError> {
        self.parse(settings)?.zero_cost()
    }
}

/// The kind named `name` among `kinds`, or the error listing the accepted names.
pub fn find_kind<'a>(
    kinds: &[&'a dyn EvaluatorKind],
    name: &str,
) -> Result<&'a dyn EvaluatorKind, EvalError> {
    kinds
        .iter()
        .copied()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            EvalError::InvalidSetting(format!(
                "evaluator.kind = {name:?}; accepted: {}",
                names.join(", ")
            ))
        })
}
