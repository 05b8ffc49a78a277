//! `[evaluator] kind = "nb201-curves"`: a tabular multi-fidelity benchmark. The real
//! per-epoch validation curves of 200 NAS-Bench-201 cells (cifar10-valid, 200-epoch
//! schedule) answer a query at any epoch; the main NB201 table gives each cell's per-epoch
//! training time (halved for the 25k split), final test accuracy, size and latency.
//!
//! The space is the 200 cells ([`crate::Evaluator::space_members`]); cells that compute the
//! same function (isomorphic, or equal once dead edges are dropped) count once there, as
//! Archer never evaluates an architecture twice: the first of them in the file stands for
//! all (the curves keep every row). A query at fidelity `e`
//! epochs reports the validation accuracy after every epoch up to `e`, charging one epoch's
//! time before each; a trial promoted after `k` epochs continues from `k + 1` and is first
//! charged the time to load its checkpoint (`resume_seconds`), so nothing is free.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archer_core::{metric, Arch, Direction, Fidelity, MetricSpec, Metrics, TrialCtx};
use archer_space::{Nb201Space, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::config::join;
use crate::registry::{EvalKind, EvaluatorSettings};
use crate::table_file::Columns;
use crate::{DataError, DataFile, EvalError, Evaluator, Nb201Dataset, Nb201Table};

pub(crate) static KIND: EvalKind<Nb201CurvesSettings> =
    EvalKind::new("nb201-curves", |c: &Nb201CurvesSettings, _| {
        Ok(Arc::new(Nb201CurvesEvaluator::load(c)?))
    })
    .for_space("nb201");

/// The schedule's length: the curves are of the 200-epoch (`hp=200`) schedule.
pub const CURVE_EPOCHS: u32 = 200;

fn default_resume_seconds() -> f64 {
    1.0
}

/// The settings of the NB201 learning-curve evaluator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nb201CurvesSettings {
    /// `nb201_cifar10valid_hp200_curves_200archs.csv.gz`: `arch_str`, `epoch` (0-based),
    /// `valid_acc`.
    pub curves: PathBuf,
    /// `nb201_results.csv.gz`: per-epoch time, test accuracy, params, FLOPs of each cell.
    pub table: PathBuf,
    /// Optional `nb201_latency_help.csv.gz`, for latency metrics (known before training).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_table: Option<PathBuf>,
    /// Latency devices to report; default `1080ti_1` when a latency table is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_devices: Option<Vec<String>>,
    /// Simulated seconds charged for loading a checkpoint when a paused trial continues.
    #[serde(default = "default_resume_seconds")]
    pub resume_seconds: f64,
}

impl EvaluatorSettings for Nb201CurvesSettings {
    fn validate(&self) -> Result<(), EvalError> {
        if !(self.resume_seconds.is_finite() && self.resume_seconds >= 0.0) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.resume_seconds = {}; it must be 0 or more",
                self.resume_seconds
            )));
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.curves = join(base, &self.curves);
        self.table = join(base, &self.table);
        if let Some(l) = &mut self.latency_table {
            *l = join(base, l);
        }
    }
}

/// One cell: its curve and its final numbers.
struct Cell {
    arch: Arch,
    /// Validation accuracy after epoch 1, 2, ... 200 (percent).
    valid: Vec<f64>,
    test_acc: f64,
    /// Simulated seconds of one epoch on the 25k split.
    epoch_seconds: f64,
    params_m: f64,
    flops_m: f64,
    latency_ms: Vec<f64>,
}

/// Learning-curve lookups of the 200 NB201 cells on a simulated clock.
pub struct Nb201CurvesEvaluator {
    cells: Vec<Cell>,
    /// Cell by its string, and (the first of each class) by canonical hash.
    by_string: HashMap<String, usize>,
    by_hash: HashMap<String, usize>,
    space: Nb201Space,
    devices: Vec<String>,
    resume_seconds: f64,
    curves: (PathBuf, String),
    table: (PathBuf, String),
    latency: Option<(PathBuf, String)>,
}

impl Nb201CurvesEvaluator {
    pub fn load(settings: &Nb201CurvesSettings) -> Result<Self, EvalError> {
        settings.validate()?;
        let mut table = Nb201Table::load(&settings.table)?;
        if let Some(l) = &settings.latency_table {
            table = table.with_latency(l)?;
        }
        let devices = match (&settings.latency_devices, &settings.latency_table) {
            (Some(d), _) => d.clone(),
            (None, Some(_)) => vec!["1080ti_1".to_string()],
            (None, None) => Vec::new(),
        };
        for d in &devices {
            if !table.latency_devices().contains(d) {
                return Err(EvalError::InvalidSetting(format!(
                    "evaluator.latency_devices: {d:?} is not a device of the latency table; it has {}",
                    table.latency_devices().join(", ")
                )));
            }
        }
        let file = DataFile::read(&settings.curves)?;
        let curves = read_curves(&file)?;
        let space = Nb201Space::default();
        let dataset = Nb201Dataset::Cifar10;
        let mut cells = Vec::new();
        let mut by_hash = HashMap::new();
        let mut by_string = HashMap::new();
        for (arch, valid) in curves {
            let record = table
                .record(&arch, dataset)
                .ok_or_else(|| EvalError::NotInTable {
                    arch: space.format(&arch),
                    table: table.path().display().to_string(),
                })?;
            let latency_ms = devices
                .iter()
                .map(|d| table.latency_ms(&arch, d).unwrap_or(f64::NAN))
                .collect();
            by_hash
                .entry(space.canonical_hash(&arch))
                .or_insert(cells.len());
            by_string.insert(space.format(&arch), cells.len());
            cells.push(Cell {
                valid,
                test_acc: record.test_acc,
                epoch_seconds: record.epoch_seconds * dataset.search_split_fraction(),
                params_m: record.params_m,
                flops_m: record.flops_m,
                latency_ms,
                arch,
            });
        }
        Ok(Nb201CurvesEvaluator {
            cells,
            by_string,
            by_hash,
            space,
            devices,
            resume_seconds: settings.resume_seconds,
            curves: (file.path.clone(), file.sha256.clone()),
            table: (table.path().to_path_buf(), table.sha256().to_string()),
            latency: table
                .latency_source()
                .map(|(p, s)| (p.to_path_buf(), s.to_string())),
        })
    }

    /// The cell as written, else the first cell computing the same function.
    fn cell(&self, arch: &Arch) -> Option<&Cell> {
        self.by_string
            .get(&self.space.format(arch))
            .or_else(|| self.by_hash.get(&self.space.canonical_hash(arch)))
            .map(|&i| &self.cells[i])
    }

    /// Every cell with its test accuracy and its validation accuracy after 200 epochs.
    pub fn cells(&self) -> impl Iterator<Item = (&Arch, f64, f64)> {
        self.cells
            .iter()
            .map(|c| (&c.arch, c.test_acc, c.valid[c.valid.len() - 1]))
    }

    /// The mean over the cells of a full (200-epoch) training's simulated seconds.
    pub fn mean_full_seconds(&self) -> f64 {
        let total: f64 = self.cells.iter().map(|c| c.epoch_seconds).sum();
        total / self.cells.len() as f64 * CURVE_EPOCHS as f64
    }
}

/// The curves of `file`, one per cell, in file order; every cell must have all 200 epochs.
fn read_curves(file: &DataFile) -> Result<Vec<(Arch, Vec<f64>)>, DataError> {
    let mut reader = file.csv();
    let cols = Columns::new(file, &mut reader)?;
    let arch_col = cols.find("arch_str")?;
    let epoch_col = cols.find("epoch")?;
    let valid_col = cols.find("valid_acc")?;
    let space = Nb201Space::default();
    let mut order: Vec<(Arch, Vec<Option<f64>>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in cols.nb201_rows(&mut reader, arch_col) {
        let (arch, record) = row?;
        let epoch = cols.number(&record, epoch_col)?;
        if epoch < 0.0 || epoch.fract() != 0.0 || epoch >= CURVE_EPOCHS as f64 {
            return Err(cols.bad(
                &record,
                epoch_col,
                format!("{epoch} is not an epoch in 0..{CURVE_EPOCHS}"),
            ));
        }
        let valid = cols.number(&record, valid_col)?;
        // Keyed by the cell as written: isomorphic cells of the file are distinct rows.
        let key = space.format(&arch);
        let i = *index.entry(key).or_insert_with(|| {
            order.push((arch, vec![None; CURVE_EPOCHS as usize]));
            order.len() - 1
        });
        let slot = &mut order[i].1[epoch as usize];
        if slot.is_some() {
            return Err(cols.bad(&record, epoch_col, format!("epoch {epoch} appears twice")));
        }
        *slot = Some(valid);
    }
    if order.is_empty() {
        return Err(DataError::Empty {
            path: file.path.clone(),
        });
    }
    order
        .into_iter()
        .map(|(arch, values)| {
            let missing = values.iter().filter(|v| v.is_none()).count();
            if missing > 0 {
                return Err(DataError::Corrupt {
                    path: file.path.clone(),
                    reason: format!(
                        "cell {} lacks {missing} of the {CURVE_EPOCHS} epochs",
                        space.format(&arch)
                    ),
                });
            }
            Ok((arch, values.into_iter().flatten().collect()))
        })
        .collect()
}

impl Evaluator for Nb201CurvesEvaluator {
    fn name(&self) -> &str {
        "nb201-curves"
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        let mut out = vec![
            MetricSpec::new(
                metric::VALID_ACC,
                Direction::Maximize,
                false,
                "validation accuracy after the epochs trained, % (cifar10-valid, seed mean)",
            ),
            MetricSpec::new(
                metric::TEST_ACC,
                Direction::Maximize,
                true,
                "test accuracy after the full 200 epochs, % (seed mean)",
            ),
            MetricSpec::new(
                "epochs",
                Direction::Maximize,
                false,
                "epochs the trial has been trained",
            ),
        ];
        out.extend(crate::nb201_eval::nb201_cost_specs(
            &self.devices,
            "simulated seconds charged by this evaluation",
        ));
        out
    }

    fn evaluate(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, EvalError> {
        let unsupported = |reason: String| EvalError::UnsupportedFidelity {
            evaluator: "nb201-curves".into(),
            reason,
        };
        if fidelity.data_fraction.is_some() || fidelity.width_multiplier.is_some() {
            return Err(unsupported(
                "the curves are for the full data at the standard width".into(),
            ));
        }
        let epochs = fidelity.epochs.unwrap_or(CURVE_EPOCHS);
        if !(1..=CURVE_EPOCHS).contains(&epochs) {
            return Err(unsupported(format!(
                "epochs = {epochs}; accepted: 1 to {CURVE_EPOCHS}"
            )));
        }
        let cell = self.cell(arch).ok_or_else(|| EvalError::NotInTable {
            arch: self.space.format(arch),
            table: self.curves.0.display().to_string(),
        })?;
        let from = ctx.resume_step().unwrap_or(0).min(epochs);
        if from > 0 {
            ctx.charge_seconds(self.resume_seconds);
        }
        for e in from + 1..=epochs {
            ctx.charge_seconds(cell.epoch_seconds);
            if ctx.report(e, cell.valid[e as usize - 1]) == archer_core::Report::Prune {
                return Err(EvalError::Pruned { step: e });
            }
        }
        let mut m = Metrics::new()
            .with(metric::VALID_ACC, cell.valid[epochs as usize - 1])
            .with(metric::TEST_ACC, cell.test_acc)
            .with("epochs", epochs as f64)
            .with(metric::PARAMS_M, cell.params_m)
            .with(metric::FLOPS_M, cell.flops_m)
            .with(metric::SIM_SECONDS, ctx.charged_seconds());
        for (d, v) in self.devices.iter().zip(&cell.latency_ms) {
            if v.is_finite() {
                m.insert(&format!("latency_ms_{d}"), *v);
            }
        }
        Ok(m)
    }

    fn known_before(&self, arch: &Arch) -> Metrics {
        let mut m = Metrics::new();
        if let Some(c) = self.cell(arch) {
            m.insert(metric::PARAMS_M, c.params_m);
            m.insert(metric::FLOPS_M, c.flops_m);
            for (d, v) in self.devices.iter().zip(&c.latency_ms) {
                if v.is_finite() {
                    m.insert(&format!("latency_ms_{d}"), *v);
                }
            }
        }
        m
    }

    fn check_space(&self, space: &dyn SearchSpace) -> Result<(), EvalError> {
        if space.name() != Nb201Space::NAME {
            return Err(EvalError::WrongSpace {
                evaluator: "nb201-curves".into(),
                space: space.name().to_string(),
            });
        }
        Ok(())
    }

    fn space_members(&self) -> Option<Vec<Arch>> {
        Some(self.cells.iter().map(|c| c.arch.clone()).collect())
    }

    fn full_steps(&self) -> Option<u32> {
        Some(CURVE_EPOCHS)
    }

    fn simulated_clock(&self) -> bool {
        true
    }

    fn provenance(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "evaluator": "nb201-curves",
            "curves": self.curves.0,
            "curves_sha256": self.curves.1,
            "cells": self.cells.len(),
            "table": self.table.0,
            "table_sha256": self.table.1,
            "dataset": "cifar10-valid",
            "epoch_seconds": "cifar10_train_time_per_epoch_s × 0.5 (the 25k split)",
            "resume_seconds": self.resume_seconds,
        });
        if let Some((p, s)) = &self.latency {
            v["latency_table"] = serde_json::json!(p);
            v["latency_table_sha256"] = serde_json::json!(s);
            v["latency_devices"] = serde_json::json!(self.devices);
        }
        v
    }
}
