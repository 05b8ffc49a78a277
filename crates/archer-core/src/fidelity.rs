use serde::{Deserialize, Serialize};

/// How much of an evaluation to run. Every field left `None` means the evaluator's full
/// (default) fidelity; multi-fidelity schedulers set them. An evaluator that cannot honour a
/// field must fail the trial with a clear error rather than ignore it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fidelity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width_multiplier: Option<f64>,
}

impl Fidelity {
    /// The evaluator's default, full fidelity.
    pub fn full() -> Self {
        Fidelity::default()
    }

    pub fn is_full(&self) -> bool {
        *self == Fidelity::default()
    }
}
