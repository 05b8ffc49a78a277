use archer_core::{Arch, Fidelity, MetricSpec, Metrics, TrialCtx};

use crate::{EvalError, Evaluator};

/// `[evaluator] kind = "external"`: trials are evaluated outside Archer (the user's own
/// loop, a Python binding) and their metrics come back through `Study::tell`. It declares
/// the metrics the experiment names (its objectives and constraints) and evaluates nothing.
pub struct ExternalEvaluator {
    metrics: Vec<MetricSpec>,
}

impl ExternalEvaluator {
    pub fn new(metrics: Vec<MetricSpec>) -> Self {
        ExternalEvaluator { metrics }
    }
}

impl Evaluator for ExternalEvaluator {
    fn name(&self) -> &str {
        "external"
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        self.metrics.clone()
    }

    fn evaluate(&self, _: &Arch, _: &Fidelity, _: &mut TrialCtx) -> Result<Metrics, EvalError> {
        Err(EvalError::InvalidSetting(
            "evaluator.kind = \"external\": trials are evaluated outside Archer; drive the study with ask() and tell()".into(),
        ))
    }

    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({"evaluator": "external"})
    }
}
