use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether larger or smaller values of a metric are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[serde(alias = "max")]
    Maximize,
    #[serde(alias = "min")]
    Minimize,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Maximize => "maximize",
            Direction::Minimize => "minimize",
        })
    }
}

/// Names of the metrics Archer's evaluators produce; evaluators may add others.
pub mod metric {
    /// Validation accuracy, percent.
    pub const VALID_ACC: &str = "valid_acc";
    /// Test accuracy, percent. Held out: reported, never shown to a strategy.
    pub const TEST_ACC: &str = "test_acc";
    /// Trainable parameters, millions.
    pub const PARAMS_M: &str = "params_m";
    /// Forward-pass FLOPs, millions.
    pub const FLOPS_M: &str = "flops_m";
    /// Inference latency, milliseconds.
    pub const LATENCY_MS: &str = "latency_ms";
    /// Seconds charged to the simulated clock by this evaluation.
    pub const SIM_SECONDS: &str = "sim_seconds";
    /// Real seconds spent training.
    pub const TRAIN_SECONDS: &str = "train_seconds";
}

/// What an evaluator can report about a metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricSpec {
    pub name: String,
    pub direction: Direction,
    /// Held-out metrics (test accuracy) are reported but may not be an objective.
    pub held_out: bool,
    pub description: String,
}

impl MetricSpec {
    pub fn new(name: &str, direction: Direction, held_out: bool, description: &str) -> Self {
        MetricSpec {
            name: name.to_string(),
            direction,
            held_out,
            description: description.to_string(),
        }
    }
}

/// Named numbers one evaluation produced. Several objectives at once are normal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metrics(BTreeMap<String, f64>);

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    pub fn insert(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_string(), value);
    }

    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.insert(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(|k| k.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The metric a search optimises and in which direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub metric: String,
    pub direction: Direction,
}

impl Objective {
    pub fn maximize(metric: &str) -> Self {
        Objective {
            metric: metric.to_string(),
            direction: Direction::Maximize,
        }
    }

    /// The objective's value oriented so that higher is always better; `None` when the
    /// metric is missing or not finite.
    pub fn score(&self, metrics: &Metrics) -> Option<f64> {
        let v = metrics.get(&self.metric).filter(|v| v.is_finite())?;
        Some(match self.direction {
            Direction::Maximize => v,
            Direction::Minimize => -v,
        })
    }
}

/// Every objective's oriented score ([`Objective::score`]), in order; `Err(metric)` names the
/// first objective whose metric is missing or not finite.
pub fn scores<'a>(objectives: &'a [Objective], metrics: &Metrics) -> Result<Vec<f64>, &'a str> {
    objectives
        .iter()
        .map(|o| o.score(metrics).ok_or(o.metric.as_str()))
        .collect()
}

/// A hard limit on a metric: `min <= value <= max` (either bound may be absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Constraint {
    /// How far `value` lies outside the bounds, relative to the broken bound's magnitude
    /// (absolute when the bound is 0), so that violations in different units add up; 0 when
    /// it lies inside. NaN is infinitely far.
    pub fn violation_of(&self, value: f64) -> f64 {
        if value.is_nan() {
            return f64::INFINITY;
        }
        let rel = |excess: f64, bound: f64| {
            let scale = bound.abs();
            if scale > 0.0 {
                excess / scale
            } else {
                excess
            }
        };
        if let Some(max) = self.max.filter(|&m| value > m) {
            return rel(value - max, max);
        }
        if let Some(min) = self.min.filter(|&m| value < m) {
            return rel(min - value, min);
        }
        0.0
    }

    /// The violation on `metrics`, or `None` when they lack the metric.
    pub fn violation(&self, metrics: &Metrics) -> Option<f64> {
        metrics.get(&self.metric).map(|v| self.violation_of(v))
    }

    /// `params_m <= 1`, `latency_ms >= 2 and <= 5`: for messages and reports.
    pub fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{lo} <= {} <= {hi}", self.metric),
            (Some(lo), None) => format!("{} >= {lo}", self.metric),
            (None, Some(hi)) => format!("{} <= {hi}", self.metric),
            (None, None) => format!("{} (unbounded)", self.metric),
        }
    }
}

/// The total violation of `constraints` on `metrics`; `Err(metric)` names the first
/// constraint whose metric is missing.
pub fn total_violation<'a>(
    constraints: &'a [Constraint],
    metrics: &Metrics,
) -> Result<f64, &'a str> {
    constraints.iter().try_fold(0.0, |sum, c| {
        c.violation(metrics)
            .map(|v| sum + v)
            .ok_or(c.metric.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_oriented_and_rejects_missing_or_nan() {
        let m = Metrics::new()
            .with("acc", 91.0)
            .with("params", 1.5)
            .with("bad", f64::NAN);
        assert_eq!(Objective::maximize("acc").score(&m), Some(91.0));
        let min = Objective {
            metric: "params".into(),
            direction: Direction::Minimize,
        };
        assert_eq!(min.score(&m), Some(-1.5));
        assert_eq!(Objective::maximize("bad").score(&m), None);
        assert_eq!(Objective::maximize("missing").score(&m), None);
    }

    #[test]
    fn constraint_violation_is_relative_to_the_broken_bound() {
        let c = Constraint {
            metric: "params_m".into(),
            min: Some(0.5),
            max: Some(2.0),
        };
        assert_eq!(c.violation_of(1.0), 0.0);
        assert_eq!(c.violation_of(3.0), 0.5);
        assert_eq!(c.violation_of(0.25), 0.5);
        assert_eq!(c.violation_of(f64::NAN), f64::INFINITY);
        let zero = Constraint {
            metric: "x".into(),
            min: None,
            max: Some(0.0),
        };
        assert_eq!(zero.violation_of(0.25), 0.25);
        let m = Metrics::new().with("params_m", 4.0);
        assert_eq!(total_violation(&[c.clone(), c.clone()], &m), Ok(2.0));
        assert_eq!(total_violation(&[zero], &m), Err("x"));
        assert_eq!(c.describe(), "0.5 <= params_m <= 2");
    }

    #[test]
    fn scores_name_the_missing_objective() {
        let m = Metrics::new().with("acc", 90.0).with("lat", 3.0);
        let objs = [
            Objective::maximize("acc"),
            Objective {
                metric: "lat".into(),
                direction: Direction::Minimize,
            },
        ];
        assert_eq!(scores(&objs, &m), Ok(vec![90.0, -3.0]));
        assert_eq!(scores(&[Objective::maximize("nope")], &m), Err("nope"));
    }

    #[test]
    fn metrics_serialise_as_a_plain_map() {
        let m = Metrics::new().with("b", 2.0).with("a", 1.0);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":1.0,"b":2.0}"#);
    }
}
