use std::path::{Path, PathBuf};
use std::sync::Arc;

use archer_core::{Constraint, Direction, Objective};
use archer_eval::{EvalBuildContext, Evaluator, EvaluatorConfig, EvaluatorKind, ZeroCostProxy};
use archer_schedule::SchedulerConfig;
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
    /// `[objective]` (one) or `[[objective]]` (several, in order; the first is the one
    /// single-objective strategies optimise). Default: the evaluator's validation accuracy,
    /// maximised.
    #[serde(default, skip_serializing_if = "Objectives::is_empty")]
    pub objective: Objectives,
    /// `[[constraint]]`: hard limits on metrics (`metric`, `min` and/or `max`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraint: Vec<Constraint>,
    #[serde(default)]
    pub budget: Budget,
    /// `[scheduler]`: how much of an evaluation each trial gets (multi-fidelity: ASHA,
    /// successive halving, Hyperband, pruners). Default: every trial at full fidelity.
    #[serde(default, skip_serializing_if = "SchedulerConfig::is_full")]
    pub scheduler: SchedulerConfig,
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

/// The objectives as written: `[objective]` or `[[objective]]`; saved as `[[objective]]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Objectives(pub Vec<ObjectiveSection>);

impl Objectives {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Objectives {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> serde::de::Visitor<'de> for OneOrMany {
            type Value = Objectives;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an [objective] table or [[objective]] tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Objectives, A::Error> {
                let one = ObjectiveSection::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(Objectives(vec![one]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Objectives, A::Error> {
                Vec::<ObjectiveSection>::deserialize(serde::de::value::SeqAccessDeserializer::new(
                    seq,
                ))
                .map(Objectives)
            }
        }
        d.deserialize_any(OneOrMany)
    }
}

/// `[budget]`: the study stops at whichever limit it reaches first. At least one is required.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Number of trials (evaluations), failed ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<u64>,
    /// Seconds charged by evaluations to the study's clock (simulated for tabular
    /// benchmarks). The trial that crosses the limit still counts, as in NAS-Bench-201;
    /// on simulated workers (`workers > 1` with a tabular evaluator) the clock is the
    /// parallel run's elapsed time and stops at the limit, pausing what still runs.
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
    /// `[retrain] epochs` (the section is added, with the study's seed, where the file has
    /// none).
    pub retrain_epochs: Option<u32>,
}

/// A validated experiment: every part built, every data file loaded. Only this can run.
#[derive(Clone)]
pub struct Experiment {
    /// The configuration as it runs: paths resolved, overrides applied.
    pub config: ExperimentConfig,
    pub space: Arc<dyn SearchSpace>,
    pub evaluator: Arc<dyn Evaluator>,
    /// Zero-cost proxy scores for warm starts, when the configuration names a source.
    pub zero_cost: Option<Arc<dyn ZeroCostProxy>>,
    /// The objectives in order, directions resolved (at least one).
    pub objectives: Vec<Objective>,
    /// Hard limits every result is checked against.
    pub constraints: Vec<Constraint>,
}

impl Experiment {
    /// The first objective: what single-objective strategies optimise and `best` ranks by.
    pub fn primary(&self) -> &Objective {
        &self.objectives[0]
    }

    /// The scheduler can be built (its top rung known), and a multi-objective rung
    /// scheduler knows every objective but the first before training.
    fn check_scheduler(&self) -> Result<(), ConfigError> {
        crate::build_scheduler(self)?;
        let s = &self.config.scheduler;
        if !(s.has_rungs() && self.objectives.len() > 1) {
            return Ok(());
        }
        let probe = self.space.sample(&mut archer_rng::Rng::derive(0, 0))?;
        let known = self.evaluator.known_before(&probe);
        for o in &self.objectives[1..] {
            if o.score(&known).is_none() {
                return Err(ConfigError::invalid(
                    "scheduler",
                    format!(
                        "a multi-objective {:?} scheduler ranks each rung by the first objective's value there and the other objectives as known before training, and evaluator {:?} does not know {:?} before training",
                        s.kind,
                        self.evaluator.name(),
                        o.metric
                    ),
                ));
            }
        }
        Ok(())
    }
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
        config.space.read_file(base)?;
        #[cfg(feature = "train")]
        crate::oneshot::resolve_paths(&mut config, base);
        let kind = evaluator_kind(&config.evaluator.kind)?;
        kind.resolve_paths(&mut config.evaluator.settings, base)?;
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
        if let Some(epochs) = o.retrain_epochs {
            match &mut self.retrain {
                Some(r) => r.epochs = epochs,
                None => self.retrain = Some(RetrainSection { epochs, seed: None }),
            }
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
        self.study.validate()?;
        if self.study.max_consecutive_failures == 0 {
            return Err(ConfigError::invalid(
                "study.max_consecutive_failures",
                "must be at least 1",
            ));
        }
        let one_shot = crate::oneshot::is_oneshot(&self.strategy.name);
        if !one_shot {
            self.budget.validate()?;
        }
        self.scheduler
            .validate()
            .map_err(|e| ConfigError::invalid(&e.key, e.reason))?;
        if let Some(r) = &self.retrain {
            if r.epochs == 0 {
                return Err(ConfigError::invalid("retrain.epochs", "must be at least 1"));
            }
            if self.evaluator.kind != "train" && self.evaluator.kind != "command" {
                return Err(ConfigError::invalid(
                    "retrain",
                    "retraining needs evaluator.kind = \"train\" (the data and recipe to train with) or \"command\" (the program, run once more)",
                ));
            }
        }
        let space = self.space.build()?;
        if one_shot {
            crate::oneshot::check(&self, space.name())?;
        } else {
            archer_predict::check_strategy(&self.strategy)?;
        }
        let kind = evaluator_kind(&self.evaluator.kind)?;
        kind.check(&self.evaluator.settings)?;
        if let Some(required) = kind.required_space() {
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
        let told = self.told_metrics();
        let evaluator = kind.build(
            &self.evaluator.settings,
            &EvalBuildContext {
                space: &space,
                told: &told,
                study: &self.study.name,
                output: self.study.output.as_deref(),
            },
        )?;
        evaluator.check_space(space.as_ref())?;
        let space: Arc<dyn SearchSpace> = match evaluator.space_members() {
            Some(members) => Arc::new(archer_space::FiniteSpace::new(
                space,
                members,
                &format!("the rows of evaluator {:?}", evaluator.name()),
            )?),
            None => space,
        };
        // A strategy may refuse a space (pnas needs one that grows): say so before anything runs.
        if !one_shot {
            archer_predict::build_strategy(
                &self.strategy,
                space.clone(),
                self.study.seed,
                false,
                Vec::new(),
                None,
            )?;
        }
        let zero_cost = kind.zero_cost(&self.evaluator.settings)?;
        if !one_shot
            && archer_predict::strategy_warm_start(&self.strategy).is_some()
            && zero_cost.is_none()
        {
            return Err(ConfigError::invalid(
                "strategy.warm_start",
                format!(
                    "needs zero-cost proxy scores, and evaluator {:?} has none configured (set evaluator.zero_cost_table)",
                    evaluator.name()
                ),
            ));
        }
        let objectives = self.resolve_objectives(evaluator.as_ref())?;
        let constraints = self.check_constraints(evaluator.as_ref())?;
        let experiment = Experiment {
            config: self,
            space,
            evaluator,
            zero_cost,
            objectives,
            constraints,
        };
        experiment.check_scheduler()?;
        Ok(experiment)
    }

    /// The metrics the objectives and constraints name, for an evaluator told its results
    /// from outside (`kind = "external"`): objectives maximised unless a direction is given;
    /// default objective `valid_acc`.
    fn told_metrics(&self) -> Vec<archer_core::MetricSpec> {
        let mut specs: Vec<archer_core::MetricSpec> = Vec::new();
        let mut add = |name: &str, direction: Direction, what: &str| {
            if !specs.iter().any(|s| s.name == name) {
                specs.push(archer_core::MetricSpec::new(name, direction, false, what));
            }
        };
        if self.objective.is_empty() {
            add(
                archer_core::metric::VALID_ACC,
                Direction::Maximize,
                "objective, told",
            );
        }
        for o in &self.objective.0 {
            add(
                &o.metric,
                o.direction.unwrap_or(Direction::Maximize),
                "objective, told",
            );
        }
        for c in &self.constraint {
            add(&c.metric, Direction::Minimize, "constrained metric, told");
        }
        specs
    }

    /// The metric `wanted` as `evaluator` declares it, for the config key `key`; held-out
    /// metrics are refused.
    fn searchable_metric(
        evaluator: &dyn Evaluator,
        key: &str,
        wanted: &str,
    ) -> Result<archer_core::MetricSpec, ConfigError> {
        let specs = evaluator.metrics();
        let searchable: Vec<&str> = specs
            .iter()
            .filter(|s| !s.held_out)
            .map(|s| s.name.as_str())
            .collect();
        let spec = specs.iter().find(|s| s.name == wanted).ok_or_else(|| {
            ConfigError::invalid(
                key,
                format!(
                    "{wanted:?} is not reported by evaluator {:?}; accepted: {}",
                    evaluator.name(),
                    searchable.join(", ")
                ),
            )
        })?;
        if spec.held_out {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "{wanted:?} is held out (reported, never searched on); accepted: {}",
                    searchable.join(", ")
                ),
            ));
        }
        Ok(spec.clone())
    }

    fn resolve_objectives(&self, evaluator: &dyn Evaluator) -> Result<Vec<Objective>, ConfigError> {
        if self.objective.is_empty() {
            let spec = Self::searchable_metric(
                evaluator,
                "objective.metric",
                archer_core::metric::VALID_ACC,
            )?;
            return Ok(vec![Objective {
                metric: spec.name,
                direction: spec.direction,
            }]);
        }
        let mut out: Vec<Objective> = Vec::new();
        for (i, o) in self.objective.0.iter().enumerate() {
            let key = if self.objective.0.len() == 1 {
                "objective.metric".to_string()
            } else {
                format!("objective[{i}].metric")
            };
            let spec = Self::searchable_metric(evaluator, &key, &o.metric)?;
            if out.iter().any(|p| p.metric == o.metric) {
                return Err(ConfigError::invalid(
                    &key,
                    format!(
                        "{:?} is already an objective; name each metric once",
                        o.metric
                    ),
                ));
            }
            out.push(Objective {
                metric: o.metric.clone(),
                direction: o.direction.unwrap_or(spec.direction),
            });
        }
        if out.len() > 1 && !archer_predict::multi_objective(&self.strategy) {
            return Err(ConfigError::invalid(
                "strategy.name",
                format!(
                    "{:?} optimises one objective and {} are declared; use nsga2, mo-rea, parego-bo, parego-bananas or random",
                    self.strategy.name(),
                    out.len()
                ),
            ));
        }
        Ok(out)
    }

    fn check_constraints(&self, evaluator: &dyn Evaluator) -> Result<Vec<Constraint>, ConfigError> {
        for (i, c) in self.constraint.iter().enumerate() {
            let key = format!("constraint[{i}]");
            Self::searchable_metric(evaluator, &format!("{key}.metric"), &c.metric)?;
            if c.min.is_none() && c.max.is_none() {
                return Err(ConfigError::invalid(&key, "set min, max or both"));
            }
            for (k, v) in [("min", c.min), ("max", c.max)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(ConfigError::invalid(
                        &format!("{key}.{k}"),
                        format!("{} must be a finite number", v.unwrap_or_default()),
                    ));
                }
            }
            if let (Some(lo), Some(hi)) = (c.min, c.max) {
                if lo > hi {
                    return Err(ConfigError::invalid(
                        &key,
                        format!("min = {lo} is above max = {hi}: nothing is feasible"),
                    ));
                }
            }
        }
        Ok(self.constraint.clone())
    }

    /// The configuration as TOML, as saved in the experiment folder.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("configs serialise")
    }
}

impl StudySection {
    /// The settings the loop and the workers rely on: counts of at least 1, heartbeat and
    /// grace periods that are positive, finite seconds with the grace longer than the
    /// heartbeat (else live trials are re-queued).
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "study.max_attempts",
                "must be at least 1 (the first start counts)",
            ));
        }
        if self.workers == 0 {
            return Err(ConfigError::invalid("study.workers", "must be at least 1"));
        }
        let h = self.heartbeat_seconds;
        if !(h.is_finite() && h > 0.0 && h <= 86_400.0) {
            return Err(ConfigError::invalid(
                "study.heartbeat_seconds",
                format!("{h}; accepted: a positive number of seconds up to 86400"),
            ));
        }
        let g = self.grace_seconds;
        if !(g.is_finite() && g > h) {
            return Err(ConfigError::invalid(
                "study.grace_seconds",
                format!(
                    "{g}; must be a finite number of seconds above study.heartbeat_seconds ({h})"
                ),
            ));
        }
        Ok(())
    }
}

impl Default for StudySection {
    /// The defaults an experiment file gets for every key it leaves out, with `name`
    /// `"study"`.
    fn default() -> Self {
        StudySection {
            name: "study".into(),
            seed: 0,
            output: None,
            deduplicate: true,
            max_consecutive_failures: default_max_failures(),
            retry_failed: 0,
            max_attempts: default_max_attempts(),
            workers: one(),
            heartbeat_seconds: default_heartbeat(),
            grace_seconds: default_grace(),
        }
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

/// Every evaluator kind this build has: `archer-eval`'s, and `train` (real training, or in
/// builds without the `train` feature a kind that checks its settings and says how to get it).
pub fn evaluator_kinds() -> Vec<&'static dyn EvaluatorKind> {
    let mut kinds = archer_eval::KINDS.to_vec();
    #[cfg(feature = "train")]
    kinds.push(&archer_train::TRAIN);
    #[cfg(not(feature = "train"))]
    kinds.push(&archer_eval::TRAIN_UNAVAILABLE);
    kinds
}

/// The evaluator kind `name`, or the error listing every accepted name.
pub fn evaluator_kind(name: &str) -> Result<&'static dyn EvaluatorKind, ConfigError> {
    Ok(archer_eval::find_kind(&evaluator_kinds(), name)?)
}
