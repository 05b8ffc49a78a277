use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether larger or smaller values of a metric are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Maximize,
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
    fn metrics_serialise_as_a_plain_map() {
        let m = Metrics::new().with("b", 2.0).with("a", 1.0);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":1.0,"b":2.0}"#);
    }
}
