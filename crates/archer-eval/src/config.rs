use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    EvalError, Evaluator, Nb201Dataset, Nb201Evaluator, Nb201Table, Nb201ZeroCost, TrainSettings,
    ZeroCostProxy, NB201_ZERO_COST_PROXIES,
};

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
        /// Optional `nb201_zero_cost_proxies.csv.gz`: the source of zero-cost proxy scores
        /// for strategies' `warm_start`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zero_cost_table: Option<PathBuf>,
        /// The proxy column to use (for the evaluator's dataset): naswot (the default),
        /// synflow, logsynflow, nregions or zen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zero_cost_proxy: Option<String>,
    },
    /// Real training on real data (`archer-train`, in builds with the `train` feature).
    Train(Box<TrainSettings>),
    /// Trials are evaluated outside Archer and told back (`Study::ask`/`Study::tell`); the
    /// runner builds it from the experiment's objectives and constraints.
    External {},
}

impl EvaluatorConfig {
    /// Names accepted in `[evaluator] kind = ...`.
    pub const KINDS: [&'static str; 3] = ["nb201", "train", "external"];

    /// Relative paths are taken relative to `base` (the experiment file's folder); all paths
    /// become absolute.
    pub fn resolve_paths(&mut self, base: &Path) {
        match self {
            EvaluatorConfig::Nb201 {
                table,
                latency_table,
                zero_cost_table,
                ..
            } => {
                *table = join(base, table);
                if let Some(l) = latency_table {
                    *l = join(base, l);
                }
                if let Some(z) = zero_cost_table {
                    *z = join(base, z);
                }
            }
            EvaluatorConfig::Train(t) => t.data.resolve_paths(base),
            EvaluatorConfig::External {} => {}
        }
    }

    /// The space this evaluator can evaluate, if it is tied to one.
    pub fn required_space(&self) -> Option<&'static str> {
        match self {
            EvaluatorConfig::Nb201 { .. } => Some("nb201"),
            EvaluatorConfig::Train(_) | EvaluatorConfig::External {} => None,
        }
    }

    /// The zero-cost proxy scores this section names (`zero_cost_table`), if any.
    pub fn zero_cost(&self) -> Result<Option<Arc<dyn ZeroCostProxy>>, EvalError> {
        match self {
            EvaluatorConfig::Nb201 {
                dataset,
                zero_cost_table: Some(z),
                zero_cost_proxy,
                ..
            } => {
                let proxy = zero_cost_proxy.as_deref().unwrap_or("naswot");
                Ok(Some(Arc::new(Nb201ZeroCost::load(z, *dataset, proxy)?)))
            }
            _ => Ok(None),
        }
    }

    /// Loads data and builds the evaluator. The `train` evaluator is built by
    /// `archer-train` (the runner does it); here it is only validated, then refused.
    pub fn build(&self) -> Result<Arc<dyn Evaluator>, EvalError> {
        match self {
            EvaluatorConfig::Nb201 {
                table,
                latency_table,
                latency_devices,
                dataset,
                epochs,
                wall_seconds_per_query,
                zero_cost_table,
                zero_cost_proxy,
            } => {
                let proxy = zero_cost_proxy.as_deref().unwrap_or("naswot");
                if !NB201_ZERO_COST_PROXIES.contains(&proxy) {
                    return Err(EvalError::InvalidSetting(format!(
                        "evaluator.zero_cost_proxy = {proxy:?}; accepted: {}",
                        NB201_ZERO_COST_PROXIES.join(", ")
                    )));
                }
                if zero_cost_proxy.is_some() && zero_cost_table.is_none() {
                    return Err(EvalError::InvalidSetting(
                        "evaluator.zero_cost_proxy is set but evaluator.zero_cost_table is not"
                            .into(),
                    ));
                }
                let mut t = Nb201Table::load(table)?;
                if let Some(l) = latency_table {
                    t = t.with_latency(l)?;
                }
                let devices = match (latency_devices, latency_table) {
                    (Some(d), _) => d.clone(),
                    (None, Some(_)) => vec!["1080ti_1".to_string()],
                    (None, None) => Vec::new(),
                };
                let e = Nb201Evaluator::new(Arc::new(t), *dataset, *epochs, devices)?
                    .with_wall_delay(*wall_seconds_per_query)?;
                Ok(Arc::new(e))
            }
            EvaluatorConfig::External {} => Err(EvalError::InvalidSetting(
                "evaluator.kind = \"external\" is built by the runner from the experiment's objectives".into(),
            )),
            EvaluatorConfig::Train(t) => {
                t.validate()?;
                Err(EvalError::InvalidSetting(
                    "evaluator.kind = \"train\" needs real training, and this archer was built without it: rebuild with the default `train` feature (scripts/setup-torch.sh installs PyTorch)".into(),
                ))
            }
        }
    }
}

/// `p` taken relative to `base`, made absolute (and canonical when it exists) so that a
/// saved configuration runs from any folder.
pub(crate) fn join(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    std::fs::canonicalize(&joined)
        .or_else(|_| std::path::absolute(&joined))
        .unwrap_or(joined)
}
