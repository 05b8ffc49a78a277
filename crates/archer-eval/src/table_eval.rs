//! `[evaluator] kind = "table"`: a user's results table (CSV, plain or gzip'd) as a
//! benchmark on a simulated clock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archer_core::{metric, Arch, Direction, Fidelity, MetricSpec, Metrics, TrialCtx};
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::config::join;
use crate::registry::{EvalKind, EvaluatorSettings};
use crate::results_table::{ResultsTable, TableSpec};
use crate::{EvalError, Evaluator};

pub(crate) static KIND: EvalKind<TableSettings> = EvalKind::new("table", |c, ctx| {
    Ok(Arc::new(TableEvaluator::load(c, ctx.space.clone())?))
});

fn one() -> f64 {
    1.0
}
fn is_one(x: &f64) -> bool {
    *x == 1.0
}

/// Which architectures a table's space holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableSpace {
    /// Only the table's rows: the space searched is the declared space restricted to them.
    Rows,
}

/// Metric names taken as maximised unless `maximize` / `minimize` say otherwise.
const MAXIMISED_WORDS: [&str; 11] = [
    "acc",
    "perf",
    "auc",
    "f1",
    "score",
    "precision",
    "recall",
    "map",
    "iou",
    "bleu",
    "reward",
];

/// The settings of the table evaluator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSettings {
    /// The CSV file: one column per dimension (labelled as the space labels it, holding the
    /// option's value) and one per metric.
    pub table: PathBuf,
    /// Metric columns (default: every column that is not a dimension and holds only
    /// numbers; other columns are ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<String>>,
    /// Columns reported and never searched on (a test accuracy); an objective or
    /// constraint naming one is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_out: Vec<String>,
    /// The column whose value, times `cost_scale`, each query charges to the simulated
    /// clock (default: every query costs `cost_scale` seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_column: Option<String>,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub cost_scale: f64,
    /// `"rows"`: only the table's rows form the space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<TableSpace>,
    /// Only rows whose column holds this text (`select = { dataset = "cora" }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub select: BTreeMap<String, String>,
    /// The column of each dimension not named as the dimension
    /// (`columns = { "cell.e0_1" = "op_e01" }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// Metrics to maximise / minimise; others are maximised when their name contains
    /// `acc`, `perf`, `auc`, `f1`, `score`, ... and minimised otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maximize: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minimize: Vec<String>,
    /// Metrics known from the architecture before it is evaluated (parameters, FLOPs):
    /// constraints on them screen proposals at no cost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_before: Vec<String>,
}

impl TableSettings {
    /// The settings for `table` with every other key at its default.
    pub fn for_table(table: PathBuf) -> Self {
        TableSettings {
            table,
            metrics: None,
            held_out: Vec::new(),
            cost_column: None,
            cost_scale: 1.0,
            space: None,
            select: BTreeMap::new(),
            columns: BTreeMap::new(),
            maximize: Vec::new(),
            minimize: Vec::new(),
            known_before: Vec::new(),
        }
    }
}

impl TableSettings {
    /// What to read from the table.
    pub fn spec(&self) -> TableSpec {
        TableSpec {
            metrics: self.metrics.clone(),
            select: self.select.clone(),
            columns: self.columns.clone(),
        }
    }
}

impl EvaluatorSettings for TableSettings {
    fn validate(&self) -> Result<(), EvalError> {
        if !(self.cost_scale.is_finite() && self.cost_scale >= 0.0) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.cost_scale = {}: must be a finite number, 0 or more",
                self.cost_scale
            )));
        }
        if let Some(both) = self.maximize.iter().find(|m| self.minimize.contains(m)) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator: {both:?} is in both maximize and minimize"
            )));
        }
        if let Some(m) = self.known_before.iter().find(|m| self.held_out.contains(m)) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.known_before names {m:?}, which is held out"
            )));
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.table = join(base, &self.table);
    }
}

/// Looks architectures up in a [`ResultsTable`] and charges its cost to a simulated clock.
pub struct TableEvaluator {
    table: Arc<ResultsTable>,
    space: Arc<dyn SearchSpace>,
    settings: TableSettings,
    specs: Vec<MetricSpec>,
    cost_index: Option<usize>,
    known_before: Vec<usize>,
}

impl TableEvaluator {
    /// Loads the table against `space`; every named column must exist.
    pub fn load(settings: &TableSettings, space: Arc<dyn SearchSpace>) -> Result<Self, EvalError> {
        let spec = settings.spec();
        let table = ResultsTable::load(&settings.table, space.as_ref(), &spec)?;
        let names = table.metric_names();
        let missing = |key: &str, m: &str| {
            EvalError::InvalidSetting(format!(
                "evaluator.{key} names {m:?}, which is not a metric column of {}; metric columns: {}",
                settings.table.display(),
                names.join(", ")
            ))
        };
        for (key, list) in [
            ("held_out", &settings.held_out),
            ("maximize", &settings.maximize),
            ("minimize", &settings.minimize),
            ("known_before", &settings.known_before),
        ] {
            if let Some(m) = list.iter().find(|m| !names.contains(m)) {
                return Err(missing(key, m));
            }
        }
        let cost_index = match &settings.cost_column {
            Some(c) => Some(
                table
                    .metric_index(c)
                    .ok_or_else(|| missing("cost_column", c))?,
            ),
            None => None,
        };
        let specs = names
            .iter()
            .map(|m| {
                let direction = if settings.maximize.contains(m) {
                    Direction::Maximize
                } else if settings.minimize.contains(m) {
                    Direction::Minimize
                } else if MAXIMISED_WORDS.iter().any(|w| m.to_lowercase().contains(w)) {
                    Direction::Maximize
                } else {
                    Direction::Minimize
                };
                MetricSpec::new(m, direction, settings.held_out.contains(m), "table column")
            })
            .chain(std::iter::once(MetricSpec::new(
                metric::SIM_SECONDS,
                Direction::Minimize,
                false,
                "simulated seconds charged for the query",
            )))
            .collect();
        let known_before = settings
            .known_before
            .iter()
            .filter_map(|m| table.metric_index(m))
            .collect();
        Ok(TableEvaluator {
            table: Arc::new(table),
            space,
            settings: settings.clone(),
            specs,
            cost_index,
            known_before,
        })
    }

    pub fn table(&self) -> &ResultsTable {
        &self.table
    }
}

impl Evaluator for TableEvaluator {
    fn name(&self) -> &str {
        "table"
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        self.specs.clone()
    }

    fn evaluate(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, EvalError> {
        if arch.space != self.space.name() {
            return Err(EvalError::WrongSpace {
                evaluator: "table".into(),
                space: arch.space.clone(),
            });
        }
        if fidelity.epochs.is_some()
            || fidelity.data_fraction.is_some()
            || fidelity.width_multiplier.is_some()
        {
            return Err(EvalError::UnsupportedFidelity {
                evaluator: "table".into(),
                reason: "a results table holds one result per architecture".into(),
            });
        }
        let row =
            self.table
                .row(self.space.as_ref(), arch)
                .ok_or_else(|| EvalError::NotInTable {
                    arch: self.space.format(arch),
                    table: self.table.path().display().to_string(),
                })?;
        let cost = match self.cost_index {
            Some(i) => row.values[i] * self.settings.cost_scale,
            None => self.settings.cost_scale,
        };
        if !cost.is_finite() {
            return Err(EvalError::Data(crate::DataError::BadValue {
                path: self.table.path().to_path_buf(),
                line: row.line,
                column: self.settings.cost_column.clone().unwrap_or_default(),
                reason: "the cost cell is empty".into(),
            }));
        }
        ctx.charge_seconds(cost);
        let mut m = Metrics::new();
        for (name, &v) in self.table.metric_names().iter().zip(&row.values) {
            if v.is_finite() {
                m.insert(name, v);
            }
        }
        m.insert(metric::SIM_SECONDS, cost);
        Ok(m)
    }

    fn known_before(&self, arch: &Arch) -> Metrics {
        let mut m = Metrics::new();
        if let Some(row) = self.table.row(self.space.as_ref(), arch) {
            for &i in &self.known_before {
                if row.values[i].is_finite() {
                    m.insert(&self.table.metric_names()[i], row.values[i]);
                }
            }
        }
        m
    }

    fn check_space(&self, space: &dyn SearchSpace) -> Result<(), EvalError> {
        if space.name() != self.space.name() {
            return Err(EvalError::WrongSpace {
                evaluator: "table".into(),
                space: space.name().to_string(),
            });
        }
        Ok(())
    }

    fn space_members(&self) -> Option<Vec<Arch>> {
        (self.settings.space == Some(TableSpace::Rows))
            .then(|| self.table.rows().iter().map(|r| r.arch.clone()).collect())
    }

    fn simulated_clock(&self) -> bool {
        true
    }

    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({
            "evaluator": "table",
            "table": self.table.path(),
            "table_sha256": self.table.sha256(),
            "rows": self.table.rows().len(),
            "rows_not_selected": self.table.unselected,
            "rows_outside_the_space": self.table.outside_space,
            "rows_isomorphic_to_an_earlier_row": self.table.duplicates,
            "settings": self.settings,
        })
    }
}
