use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{EvalError, Evaluator, Nb201Dataset, Nb201Evaluator, Nb201Table};

fn default_dataset() -> Nb201Dataset {
    Nb201Dataset::Cifar10
}
fn default_epochs() -> u32 {
    12
}
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// The `[evaluator]` section of an experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EvaluatorConfig {
    /// NAS-Bench-201 table lookup on a simulated clock.
    Nb201 {
        /// `nb201_results.csv.gz` (gzip'd or plain CSV).
        table: PathBuf,
        /// Optional `nb201_latency_help.csv.gz`, for latency metrics.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_table: Option<PathBuf>,
        /// Latency devices to report (`1080ti_1`, `raspi4`, ...); default: `1080ti_1` when a
        /// latency table is given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_devices: Option<Vec<String>>,
        #[serde(default = "default_dataset")]
        dataset: Nb201Dataset,
        /// Training epochs charged per query (the NB201 protocol's 12).
        #[serde(default = "default_epochs")]
        epochs: u32,
        /// Real seconds each query waits, to rehearse parallel or distributed runs with
        /// table lookups that behave like slow trials. 0 (the default) for benchmarks.
        #[serde(default, skip_serializing_if = "is_zero")]
        wall_seconds_per_query: f64,
    },
}

impl EvaluatorConfig {
    /// Names accepted in `[evaluator] kind = ...`.
    pub const KINDS: [&'static str; 1] = ["nb201"];

    /// Relative paths are taken relative to `base` (the experiment file's folder); all paths
    /// become absolute.
    pub fn resolve_paths(&mut self, base: &Path) {
        match self {
            EvaluatorConfig::Nb201 {
                table,
                latency_table,
                ..
            } => {
                *table = join(base, table);
                if let Some(l) = latency_table {
                    *l = join(base, l);
                }
            }
        }
    }

    /// The space this evaluator can evaluate, if it is tied to one.
    pub fn required_space(&self) -> Option<&'static str> {
        match self {
            EvaluatorConfig::Nb201 { .. } => Some("nb201"),
        }
    }

    /// Loads data and builds the evaluator.
    pub fn build(&self) -> Result<Arc<dyn Evaluator>, EvalError> {
        match self {
            EvaluatorConfig::Nb201 {
                table,
                latency_table,
                latency_devices,
                dataset,
                epochs,
                wall_seconds_per_query,
            } => {
                let mut t = Nb201Table::load(table)?;
                if let Some(l) = latency_table {
                    t = t.with_latency(l)?;
                }
                let devices = match (latency_devices, latency_table) {
                    (Some(d), _) => d.clone(),
                    (None, Some(_)) => vec!["1080ti_1".to_string()],
                    (None, None) => Vec::new(),
                };
                let e = Nb201Evaluator::new(Arc::new(t), *dataset, *epochs, devices)?;
                Ok(Arc::new(e.with_wall_delay(*wall_seconds_per_query)?))
            }
        }
    }
}

/// `p` taken relative to `base`, made absolute (and canonical when it exists) so that a
/// saved configuration runs from any folder.
fn join(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    std::fs::canonicalize(&joined)
        .or_else(|_| std::path::absolute(&joined))
        .unwrap_or(joined)
}
