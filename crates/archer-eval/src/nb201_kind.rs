//! `[evaluator] kind = "nb201"`: NAS-Bench-201 table lookup on a simulated clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::join;
use crate::registry::{EvalKind, EvaluatorSettings};
use crate::{
    EvalError, Nb201Dataset, Nb201Evaluator, Nb201Table, Nb201ZeroCost, ZeroCostProxy,
    NB201_ZERO_COST_PROXIES,
};

pub(crate) static KIND: EvalKind<Nb201Settings> = EvalKind::new("nb201", |c: &Nb201Settings, _| {
    let mut t = Nb201Table::load(&c.table)?;
    if let Some(l) = &c.latency_table {
        t = t.with_latency(l)?;
    }
    let devices = match (&c.latency_devices, &c.latency_table) {
        (Some(d), _) => d.clone(),
        (None, Some(_)) => vec!["1080ti_1".to_string()],
        (None, None) => Vec::new(),
    };
    let e = Nb201Evaluator::new(Arc::new(t), c.dataset, c.epochs, devices)?
        .with_wall_delay(c.wall_seconds_per_query)?;
    Ok(Arc::new(e))
})
.for_space("nb201");

fn default_dataset() -> Nb201Dataset {
    Nb201Dataset::Cifar10
}
fn default_epochs() -> u32 {
    12
}
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// The settings of the NAS-Bench-201 evaluator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nb201Settings {
    /// `nb201_results.csv.gz` (gzip'd or plain CSV).
    pub table: PathBuf,
    /// Optional `nb201_latency_help.csv.gz`, for latency metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_table: Option<PathBuf>,
    /// Latency devices to report (`1080ti_1`, `raspi4`, ...); default: `1080ti_1` when a
    /// latency table is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_devices: Option<Vec<String>>,
    #[serde(default = "default_dataset")]
    pub dataset: Nb201Dataset,
    /// Training epochs charged per query (the NB201 protocol's 12).
    #[serde(default = "default_epochs")]
    pub epochs: u32,
    /// Real seconds each query waits, to rehearse parallel or distributed runs with
    /// table lookups that behave like slow trials. 0 (the default) for benchmarks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wall_seconds_per_query: f64,
    /// Optional `nb201_zero_cost_proxies.csv.gz`: the source of zero-cost proxy scores
    /// for strategies' `warm_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_cost_table: Option<PathBuf>,
    /// The proxy column to use (for the evaluator's dataset): naswot (the default),
    /// synflow, logsynflow, nregions or zen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_cost_proxy: Option<String>,
}

impl Nb201Settings {
    /// The settings for `table` with every other key at its default.
    pub fn for_table(table: PathBuf) -> Self {
        Nb201Settings {
            table,
            latency_table: None,
            latency_devices: None,
            dataset: default_dataset(),
            epochs: default_epochs(),
            wall_seconds_per_query: 0.0,
            zero_cost_table: None,
            zero_cost_proxy: None,
        }
    }
}

impl EvaluatorSettings for Nb201Settings {
    fn validate(&self) -> Result<(), EvalError> {
        let proxy = self.zero_cost_proxy.as_deref().unwrap_or("naswot");
        if !NB201_ZERO_COST_PROXIES.contains(&proxy) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.zero_cost_proxy = {proxy:?}; accepted: {}",
                NB201_ZERO_COST_PROXIES.join(", ")
            )));
        }
        if self.zero_cost_proxy.is_some() && self.zero_cost_table.is_none() {
            return Err(EvalError::InvalidSetting(
                "evaluator.zero_cost_proxy is set but evaluator.zero_cost_table is not".into(),
            ));
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.table = join(base, &self.table);
        for p in [&mut self.latency_table, &mut self.zero_cost_table]
            .into_iter()
            .flatten()
        {
            *p = join(base, p);
        }
    }

    fn zero_cost(&self) -> Result<Option<Arc<dyn ZeroCostProxy>>, EvalError> {
        let Some(z) = &self.zero_cost_table else {
            return Ok(None);
        };
        let proxy = self.zero_cost_proxy.as_deref().unwrap_or("naswot");
        Ok(Some(Arc::new(Nb201ZeroCost::load(z, self.dataset, proxy)?)))
    }
}
