use archer_core::{Arch, Fidelity, MetricSpec, Metrics, TrialCtx};

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::registry::{EvalKind, EvaluatorSettings};
use crate::{EvalError, Evaluator};

pub(crate) static KIND: EvalKind<ExternalSettings> = EvalKind::new("external", |_, ctx| {
    Ok(Arc::new(ExternalEvaluator::new(ctx.told.to_vec())))
});

/// `[evaluator] kind = "external"` has no settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalSettings {}

impl EvaluatorSettings for ExternalSettings {}

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
