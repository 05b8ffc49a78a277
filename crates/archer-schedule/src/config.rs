//! `[scheduler]` in an experiment file: which scheduler, and its settings. Every setting is
//! checked against the kind it applies to, so a misplaced key is an error rather than
//! silently ignored.

use serde::{Deserialize, Serialize};

use crate::asha::{Asha, RungType};
use crate::halving::SuccessiveHalving;
use crate::pruners::PercentilePruner;
use crate::rungs::{rung_levels, RungObjectives};
use crate::{FullFidelity, Scheduler};

/// The scheduler kinds `[scheduler] kind = ...` accepts.
pub const KINDS: [(&str, &str); 6] = [
    ("full", "every trial at its full fidelity (the default)"),
    (
        "asha",
        "asynchronous successive halving; brackets > 1 is asynchronous Hyperband",
    ),
    ("sh", "synchronous successive halving, one bracket"),
    (
        "hyperband",
        "Hyperband: successive halving over all its brackets",
    ),
    (
        "median",
        "median stopping: cut a trial below the median at the same step",
    ),
    (
        "percentile",
        "cut a trial outside the best keep_percent at the same step",
    ),
];

/// `[scheduler]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// One of [`KINDS`].
    #[serde(default = "full")]
    pub kind: String,
    /// `"promotion"` (pause at a rung, continue from the checkpoint; the default) or
    /// `"stopping"` (cut at a rung; for `sh`/`hyperband`, survivors train again from
    /// scratch). asha, sh and hyperband.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub rung_type: Option<String>,
    /// Reduction factor η (default 3): a rung keeps its top 1/η.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<f64>,
    /// The first rung's level, in steps (epochs); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_resource: Option<u32>,
    /// The top rung, in steps: the evaluator's full fidelity (its default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resource: Option<u32>,
    /// No decision before this step (default 0). asha, median and percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<u32>,
    /// asha: brackets of asynchronous Hyperband (default 1); sh: always 1; hyperband: how
    /// many of its brackets to cycle (default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brackets: Option<usize>,
    /// percentile: the share of trials kept at each step, in percent (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_percent: Option<f64>,
    /// median, percentile: trials that must have reported a step before it is judged
    /// (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_trials: Option<usize>,
    /// median, percentile: judge every n-th step (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
    /// The searcher learns from the highest rung with at least this many values (default:
    /// the space's dimensions + 1, as BOHB). asha, sh and hyperband.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searcher_min_points: Option<usize>,
    /// At most this many PAUSED trials keep their checkpoints on disk (default: no bound).
    /// When one more trial pauses, the least promising paused trial's checkpoint is removed
    /// (see [`crate::rungs::paused_by_promise`]); promoted later, that trial trains again
    /// from scratch, which its attributes record. asha, sh and hyperband.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_paused_checkpoints: Option<usize>,
}

fn full() -> String {
    "full".to_string()
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            kind: full(),
            rung_type: None,
            eta: None,
            min_resource: None,
            max_resource: None,
            grace_period: None,
            brackets: None,
            keep_percent: None,
            min_trials: None,
            interval: None,
            searcher_min_points: None,
            max_paused_checkpoints: None,
        }
    }
}

/// A setting that cannot be used: the key (`scheduler.eta`) and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct SettingError {
    pub key: String,
    pub reason: String,
}

fn invalid(key: &str, reason: impl Into<String>) -> SettingError {
    SettingError {
        key: format!("scheduler.{key}"),
        reason: reason.into(),
    }
}

impl SchedulerConfig {
    /// A scheduler of this kind with every default.
    pub fn of_kind(kind: &str) -> Self {
        SchedulerConfig {
            kind: kind.to_string(),
            ..Default::default()
        }
    }

    pub fn is_full(&self) -> bool {
        self.kind == "full"
    }

    /// Whether this scheduler compares trials at rungs (and so feeds a rung searcher).
    pub fn has_rungs(&self) -> bool {
        matches!(self.kind.as_str(), "asha" | "sh" | "hyperband")
    }

    /// The label of this configuration in reports: `asha`, `asha-stop`, `hyperband`, ...
    pub fn label(&self) -> String {
        match self.rung_type() {
            Ok(t) if self.has_rungs() => t.label(&self.kind),
            _ => self.kind.clone(),
        }
    }

    fn rung_type(&self) -> Result<RungType, SettingError> {
        match self.rung_type.as_deref() {
            None | Some("promotion") => Ok(RungType::Promotion),
            Some("stopping") => Ok(RungType::Stopping),
            Some(other) => Err(invalid(
                "type",
                format!("{other:?}; accepted: \"promotion\", \"stopping\""),
            )),
        }
    }

    /// Checks the settings before anything runs; the message names the key.
    pub fn validate(&self) -> Result<(), SettingError> {
        let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
        if !names.contains(&self.kind.as_str()) {
            return Err(invalid(
                "kind",
                format!("{:?}; accepted: {}", self.kind, names.join(", ")),
            ));
        }
        let applies: &[&str] = match self.kind.as_str() {
            "full" => &[],
            "asha" => &[
                "type",
                "eta",
                "min_resource",
                "max_resource",
                "grace_period",
                "brackets",
                "searcher_min_points",
                "max_paused_checkpoints",
            ],
            "sh" => &[
                "type",
                "eta",
                "min_resource",
                "max_resource",
                "searcher_min_points",
                "max_paused_checkpoints",
            ],
            "hyperband" => &[
                "type",
                "eta",
                "min_resource",
                "max_resource",
                "brackets",
                "searcher_min_points",
                "max_paused_checkpoints",
            ],
            "median" => &["grace_period", "min_trials", "interval"],
            _ => &["grace_period", "min_trials", "interval", "keep_percent"],
        };
        for (key, set) in self.set_keys() {
            if set && !applies.contains(&key) {
                return Err(invalid(
                    key,
                    format!(
                        "does not apply to kind = {:?}{}",
                        self.kind,
                        if applies.is_empty() {
                            String::new()
                        } else {
                            format!("; its settings: {}", applies.join(", "))
                        }
                    ),
                ));
            }
        }
        self.rung_type()?;
        if let Some(eta) = self.eta {
            if !(eta.is_finite() && eta > 1.0) {
                return Err(invalid("eta", format!("{eta}; it must be above 1")));
            }
        }
        if self.min_resource == Some(0) {
            return Err(invalid("min_resource", "must be at least 1"));
        }
        if let (Some(lo), Some(hi)) = (self.min_resource, self.max_resource) {
            if lo > hi {
                return Err(invalid(
                    "min_resource",
                    format!("{lo} is above scheduler.max_resource = {hi}"),
                ));
            }
        }
        if self.brackets == Some(0) {
            return Err(invalid("brackets", "must be at least 1"));
        }
        if let Some(p) = self.keep_percent {
            if !(p > 0.0 && p < 100.0) {
                return Err(invalid(
                    "keep_percent",
                    format!("{p}; it must be between 0 and 100"),
                ));
            }
        }
        if self.searcher_min_points == Some(0) {
            return Err(invalid("searcher_min_points", "must be at least 1"));
        }
        Ok(())
    }

    fn set_keys(&self) -> [(&'static str, bool); 11] {
        [
            ("type", self.rung_type.is_some()),
            ("eta", self.eta.is_some()),
            ("min_resource", self.min_resource.is_some()),
            ("max_resource", self.max_resource.is_some()),
            ("grace_period", self.grace_period.is_some()),
            ("brackets", self.brackets.is_some()),
            ("keep_percent", self.keep_percent.is_some()),
            ("min_trials", self.min_trials.is_some()),
            ("interval", self.interval.is_some()),
            ("searcher_min_points", self.searcher_min_points.is_some()),
            (
                "max_paused_checkpoints",
                self.max_paused_checkpoints.is_some(),
            ),
        ]
    }

    /// The rung levels, for a scheduler with rungs; `full_steps` is the evaluator's full
    /// fidelity in steps, the default top rung.
    pub fn levels(&self, full_steps: Option<u32>) -> Result<Vec<u32>, SettingError> {
        let max = self.max_resource.or(full_steps).ok_or_else(|| {
            invalid(
                "max_resource",
                format!(
                    "needed: the evaluator does not say how many steps its full fidelity has (kind = {:?})",
                    self.kind
                ),
            )
        })?;
        let min = self.min_resource.unwrap_or(1);
        if min > max {
            return Err(invalid(
                "min_resource",
                format!("{min} is above the top rung ({max} steps)"),
            ));
        }
        Ok(rung_levels(min, max, self.eta.unwrap_or(3.0)))
    }

    /// Builds the scheduler (settings checked by [`SchedulerConfig::validate`]).
    pub fn build(
        &self,
        full_steps: Option<u32>,
        objectives: RungObjectives,
        maximize: bool,
    ) -> Result<Box<dyn Scheduler>, SettingError> {
        self.validate()?;
        let eta = self.eta.unwrap_or(3.0);
        let grace = self.grace_period.unwrap_or(0);
        let min_trials = self.min_trials.unwrap_or(5);
        let interval = self.interval.unwrap_or(1);
        Ok(match self.kind.as_str() {
            "full" => Box::new(FullFidelity),
            "asha" => Box::new(Asha::new(
                self.levels(full_steps)?,
                eta,
                self.rung_type()?,
                self.brackets.unwrap_or(1),
                grace,
                objectives,
            )),
            "sh" | "hyperband" => {
                let levels = self.levels(full_steps)?;
                let brackets = match self.kind.as_str() {
                    "sh" => 1,
                    _ => self.brackets.unwrap_or(levels.len()),
                };
                Box::new(SuccessiveHalving::new(
                    levels,
                    eta,
                    brackets,
                    self.rung_type()?,
                    objectives,
                ))
            }
            "median" => Box::new(PercentilePruner::median(
                min_trials, grace, interval, maximize,
            )),
            _ => Box::new(PercentilePruner::new(
                self.keep_percent.unwrap_or(25.0),
                min_trials,
                grace,
                interval,
                maximize,
            )),
        })
    }
}
