use std::path::{Path, PathBuf};
use std::sync::Arc;

use archer_core::{Direction, Objective};
use archer_eval::{Evaluator, EvaluatorConfig};
use archer_space::{SearchSpace, SpaceConfig};
use archer_strategy::StrategyConfig;
use serde::{Deserialize, Serialize};

use crate::ConfigError;

fn yes() -> bool {
    true
}
fn default_max_failures() -> u64 {
    50
}
fn default_max_attempts() -> u32 {
    3
}
fn one() -> usize {
    1
}
fn default_heartbeat() -> f64 {
    5.0
}
fn default_grace() -> f64 {
    60.0
}

/// An experiment file (`experiment.toml`) as written: parsed faithfully, not yet validated.
/// Unknown keys are rejected by name with the accepted keys listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    pub study: StudySection,
    pub space: SpaceConfig,
    pub strategy: StrategyConfig,
    pub evaluator: EvaluatorConfig,
    /// Default: the evaluator's validation accuracy, maximised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<ObjectiveSection>,
    #[serde(default)]
    pub budget: Budget,
    /// Retrain the best architecture from scratch when the search ends (needs the `train`
    /// evaluator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain: Option<RetrainSection>,
}

/// `[retrain]`: what `archer search` does with the winner once the search ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainSection {
    /// Epochs of training from scratch on all training images.
    pub epochs: u32,
    /// Seed of the retraining (default: the study's seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// `[study]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySection {
    /// Letters, digits, '.', '_' and '-'; names the output folder.
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// Experiment folder; default `runs/<name>-<UTC time>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<PathBuf>,
    /// Never evaluate an architecture twice (up to isomorphism).
    #[serde(default = "yes")]
    pub deduplicate: bool,
    /// Stop when this many trials fail in a row (a broken evaluator or data).
    #[serde(default = "default_max_failures")]
    pub max_consecutive_failures: u64,
    /// Re-run a trial whose evaluation failed (error or panic) this many more times.
    #[serde(default)]
    pub retry_failed: u32,
    /// A trial whose process died while it ran is re-run until it has been started this
    /// many times; then it is FAILED.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Trials evaluated at once (threads). With 1 a run is deterministic.
    #[serde(default = "one")]
    pub workers: usize,
    /// Distributed workers refresh their running trial's heartbeat this often (seconds).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_seconds: f64,
    /// A running trial whose heartbeat is older than this goes back to WAITING (seconds).
    #[serde(default = "default_grace")]
    pub grace_seconds: f64,
}

/// `[objective]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveSection {
    pub metric: String,
    /// Default: the metric's natural direction, as the evaluator declares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// `[budget]`: the study stops at whichever limit it reaches first. At least one is required.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Number of trials (evaluations), failed ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<u64>,
    /// Seconds charged by evaluations to the study's clock (simulated for tabular
    /// benchmarks). The trial that crosses the limit still counts, as in NAS-Bench-201.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim_seconds: Option<f64>,
    /// Real elapsed seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_seconds: Option<f64>,
}

/// Settings given on the command line, which win over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub output: Option<PathBuf>,
    pub trials: Option<u64>,
    pub sim_seconds: Option<f64>,
    pub seed: Option<u64>,
    pub workers: Option<usize>,
}

/// A validated experiment: every part built, every data file loaded. Only this can run.
#[derive(Clone)]
pub struct Experiment {
    /// The configuration as it runs: paths resolved, overrides applied.
    pub config: ExperimentConfig,
    pub space: Arc<dyn SearchSpace>,
    pub evaluator: Arc<dyn Evaluator>,
    pub objective: Objective,
}

impl ExperimentConfig {
    /// Reads and parses an experiment file; relative data paths are taken relative to the
    /// file's folder.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, base, path)
    }

    /// Parses a configuration saved by a study (its data paths are already absolute).
    pub fn from_saved(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from(origin),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// Parses TOML text; `origin` only names the source in errors.
    pub fn from_toml(text: &str, base: &Path, origin: &Path) -> Result<Self, ConfigError> {
        let mut config: ExperimentConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse {
                path: origin.to_path_buf(),
                message: e.to_string().trim_end().to_string(),
            })?;
        config.evaluator.resolve_paths(base);
        Ok(config)
    }

    pub fn apply(&mut self, o: &Overrides) {
        if let Some(p) = &o.output {
            self.study.output = Some(p.clone());
        }
        if let Some(t) = o.trials {
            self.budget.trials = Some(t);
        }
        if let Some(s) = o.sim_seconds {
            self.budget.sim_seconds = Some(s);
        }
        if let Some(s) = o.seed {
            self.study.seed = s;
        }
        if let Some(w) = o.workers {
            self.study.workers = w;
        }
    }

    /// Checks every setting and builds every part; loads the evaluator's data.
    pub fn validate(self) -> Result<Experiment, ConfigError> {
        let name = &self.study.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(ConfigError::invalid(
                "study.name",
                format!("{name:?}: use letters, digits, '.', '_' and '-' only (it names the output folder)"),
            ));
        }
        if self.study.max_consecutive_failures == 0 {
            return Err(ConfigError::invalid(
                "study.max_consecutive_failures",
                "must be at least 1",
            ));
        }
        self.budget.validate()?;
        if let Some(r) = &self.retrain {
            if r.epochs == 0 {
                return Err(ConfigError::invalid("retrain.epochs", "must be at least 1"));
            }
            if !matches!(self.evaluator, EvaluatorConfig::Train(_)) {
                return Err(ConfigError::invalid(
                    "retrain",
                    "retraining needs evaluator.kind = \"train\" (the data and recipe to train with)",
                ));
            }
        }
        let space = self.space.build()?;
        self.strategy.validate()?;
        if let Some(required) = self.evaluator.required_space() {
            if required != space.name() {
                return Err(ConfigError::invalid(
                    "space.name",
                    format!(
                        "{:?} cannot be evaluated by evaluator.kind = {required:?}, which evaluates only space.name = {required:?}",
                        space.name()
                    ),
                ));
            }
        }
        let evaluator = build_evaluator(&self.evaluator, &space)?;
        evaluator.check_space(space.as_ref())?;
        if self.strategy.warm_start().is_some() && evaluator.zero_cost_proxy().is_none() {
            return Err(ConfigError::invalid(
                "strategy.warm_start",
                format!(
                    "needs zero-cost proxy scores, and evaluator {:?} has none configured (set evaluator.zero_cost_table)",
                    evaluator.name()
                ),
            ));
        }
        let objective = self.resolve_objective(evaluator.as_ref())?;
        Ok(Experiment {
            config: self,
            space,
            evaluator,
            objective,
        })
    }

    fn resolve_objective(&self, evaluator: &dyn Evaluator) -> Result<Objective, ConfigError> {
        let specs = evaluator.metrics();
        let wanted = self
            .objective
            .as_ref()
            .map_or(archer_core::metric::VALID_ACC, |o| o.metric.as_str());
        let searchable: Vec<&str> = specs
            .iter()
            .filter(|s| !s.held_out)
            .map(|s| s.name.as_str())
            .collect();
        let spec = specs.iter().find(|s| s.name == wanted).ok_or_else(|| {
            ConfigError::invalid(
                "objective.metric",
                format!(
                    "{wanted:?} is not reported by evaluator {:?}; accepted: {}",
                    evaluator.name(),
                    searchable.join(", ")
                ),
            )
        })?;
        if spec.held_out {
            return Err(ConfigError::invalid(
                "objective.metric",
                format!(
                    "{wanted:?} is held out (reported, never searched on); accepted: {}",
                    searchable.join(", ")
                ),
            ));
        }
        Ok(Objective {
            metric: wanted.to_string(),
            direction: self
                .objective
                .as_ref()
                .and_then(|o| o.direction)
                .unwrap_or(spec.direction),
        })
    }

    /// The configuration as TOML, as saved in the experiment folder.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("configs serialise")
    }
}

impl Budget {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.trials.is_none() && self.sim_seconds.is_none() && self.wall_seconds.is_none() {
            return Err(ConfigError::invalid(
                "budget",
                "set at least one of budget.trials, budget.sim_seconds, budget.wall_seconds",
            ));
        }
        if self.trials == Some(0) {
            return Err(ConfigError::invalid("budget.trials", "must be at least 1"));
        }
        for (key, v) in [
            ("budget.sim_seconds", self.sim_seconds),
            ("budget.wall_seconds", self.wall_seconds),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(ConfigError::invalid(
                        key,
                        format!("{v} must be a positive number of seconds"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Builds the evaluator `config` names; the `train` evaluator (real training) is built by
/// `archer-train` for `space`, the space searched, in builds with the `train` feature.
#[cfg_attr(not(feature = "train"), allow(unused_variables))]
fn build_evaluator(
    config: &EvaluatorConfig,
    space: &Arc<dyn SearchSpace>,
) -> Result<Arc<dyn Evaluator>, ConfigError> {
    match config {
        #[cfg(feature = "train")]
        EvaluatorConfig::Train(settings) => {
            let evaluator = archer_train::TrainEvaluator::new((**settings).clone(), space.clone())
                .map_err(archer_eval::EvalError::from)?;
            Ok(Arc::new(evaluator))
        }
        other => Ok(other.build()?),
    }
}
