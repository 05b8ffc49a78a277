use std::sync::Arc;

use archer_core::{metric, Arch, Direction, Fidelity, MetricSpec, Metrics, TrialCtx};
use archer_space::{Nb201Space, SearchSpace};

use crate::{EvalError, Evaluator, Nb201Dataset, Nb201Table};

/// Looks architectures up in the NAS-Bench-201 table and charges a simulated clock.
///
/// The search signal is the table's validation accuracy (`*_valid_acc_naslib`, a single
/// 200-epoch run as shipped by NASLib); the test accuracy is reported as a held-out metric.
/// One query costs `epochs` (default 12) × the recorded seconds per epoch × the dataset's
/// search-split fraction (½ for CIFAR-10, whose search split has 25k of the 50k images).
///
/// This approximates the NB201 protocol, whose search signal is the 12-epoch validation
/// accuracy and whose cost is the 12-epoch training time plus one validation pass: the
/// table holds neither the 12-epoch accuracy nor the validation-pass time, so Archer's
/// signal is the less noisy final accuracy and no validation pass is charged.
pub struct Nb201Evaluator {
    table: Arc<Nb201Table>,
    dataset: Nb201Dataset,
    charge_epochs: u32,
    latency_devices: Vec<String>,
    wall_delay: std::time::Duration,
}

/// Epochs of the NB201 training schedule the table's accuracies come from.
pub const FINAL_EPOCHS: u32 = 200;

impl Nb201Evaluator {
    pub fn new(
        table: Arc<Nb201Table>,
        dataset: Nb201Dataset,
        charge_epochs: u32,
        latency_devices: Vec<String>,
    ) -> Result<Self, EvalError> {
        if charge_epochs == 0 || charge_epochs > FINAL_EPOCHS {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.epochs = {charge_epochs}; accepted: 1 to {FINAL_EPOCHS}"
            )));
        }
        for d in &latency_devices {
            if !table.latency_devices().contains(d) {
                let known = table.latency_devices();
                return Err(EvalError::InvalidSetting(if known.is_empty() {
                    format!("evaluator.latency_devices names {d:?} but no evaluator.latency_table is loaded")
                } else {
                    format!(
                        "unknown latency device {d:?}; accepted: {}",
                        known.join(", ")
                    )
                }));
            }
        }
        Ok(Nb201Evaluator {
            table,
            dataset,
            charge_epochs,
            latency_devices,
            wall_delay: std::time::Duration::ZERO,
        })
    }

    /// Makes every query take `seconds` of real time (to rehearse distributed runs).
    pub fn with_wall_delay(mut self, seconds: f64) -> Result<Self, EvalError> {
        if !(seconds.is_finite() && (0.0..=3600.0).contains(&seconds)) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.wall_seconds_per_query = {seconds}; accepted: 0 to 3600"
            )));
        }
        self.wall_delay = std::time::Duration::from_secs_f64(seconds);
        Ok(self)
    }

    pub fn table(&self) -> &Nb201Table {
        &self.table
    }

    pub fn dataset(&self) -> Nb201Dataset {
        self.dataset
    }
}

/// The NB201 tables' size, simulated-time and latency metrics, as both NB201 evaluators
/// report them.
pub(crate) fn nb201_cost_specs(devices: &[String], sim_seconds: &str) -> Vec<MetricSpec> {
    let mut out = vec![
        MetricSpec::new(
            metric::PARAMS_M,
            Direction::Minimize,
            false,
            "parameters, millions",
        ),
        MetricSpec::new(
            metric::FLOPS_M,
            Direction::Minimize,
            false,
            "FLOPs, millions",
        ),
        MetricSpec::new(metric::SIM_SECONDS, Direction::Minimize, false, sim_seconds),
    ];
    for d in devices {
        out.push(MetricSpec::new(
            &format!("latency_ms_{d}"),
            Direction::Minimize,
            false,
            "measured inference latency, ms (HELP)",
        ));
    }
    out
}

impl Evaluator for Nb201Evaluator {
    fn name(&self) -> &str {
        "nb201"
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        let mut out = vec![
            MetricSpec::new(
                metric::VALID_ACC,
                Direction::Maximize,
                false,
                "validation accuracy, % (NASLib single run, 200 epochs)",
            ),
            MetricSpec::new(
                metric::TEST_ACC,
                Direction::Maximize,
                true,
                "test accuracy, % (seed mean, 200 epochs)",
            ),
        ];
        out.extend(nb201_cost_specs(
            &self.latency_devices,
            "simulated training seconds charged for the query",
        ));
        out
    }

    fn evaluate(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, EvalError> {
        if arch.space != Nb201Space::NAME {
            return Err(EvalError::WrongSpace {
                evaluator: "nb201".into(),
                space: arch.space.clone(),
            });
        }
        let unsupported = |reason: &str| EvalError::UnsupportedFidelity {
            evaluator: "nb201".into(),
            reason: reason.to_string(),
        };
        if fidelity.data_fraction.is_some() || fidelity.width_multiplier.is_some() {
            return Err(unsupported(
                "the table has no results for partial data or other widths",
            ));
        }
        let epochs = match fidelity.epochs {
            None => self.charge_epochs,
            Some(FINAL_EPOCHS) => FINAL_EPOCHS,
            Some(e) => {
                return Err(unsupported(&format!(
                    "epochs = {e}: the table holds only final ({FINAL_EPOCHS}-epoch) results"
                )))
            }
        };
        let record =
            self.table
                .record(arch, self.dataset)
                .ok_or_else(|| EvalError::NotInTable {
                    arch: Nb201Space::default().format(arch),
                    table: self.table.path().display().to_string(),
                })?;
        let cost = epochs as f64 * record.epoch_seconds * self.dataset.search_split_fraction();
        if !self.wall_delay.is_zero() {
            std::thread::sleep(self.wall_delay);
        }
        ctx.charge_seconds(cost);
        if ctx.report(epochs, record.valid_acc) == archer_core::Report::Prune {
            return Err(EvalError::Pruned { step: epochs });
        }
        let mut m = Metrics::new()
            .with(metric::VALID_ACC, record.valid_acc)
            .with(metric::TEST_ACC, record.test_acc)
            .with(metric::PARAMS_M, record.params_m)
            .with(metric::FLOPS_M, record.flops_m)
            .with(metric::SIM_SECONDS, cost);
        if let Some(i) = self.table.arch_index(arch) {
            m.insert("nb201_index", i as f64);
        }
        for d in &self.latency_devices {
            if let Some(v) = self.table.latency_ms(arch, d) {
                m.insert(&format!("latency_ms_{d}"), v);
            }
        }
        Ok(m)
    }

    fn known_before(&self, arch: &Arch) -> Metrics {
        let mut m = Metrics::new();
        if let Some(r) = self.table.record(arch, self.dataset) {
            m.insert(metric::PARAMS_M, r.params_m);
            m.insert(metric::FLOPS_M, r.flops_m);
        }
        for d in &self.latency_devices {
            if let Some(v) = self.table.latency_ms(arch, d) {
                m.insert(&format!("latency_ms_{d}"), v);
            }
        }
        m
    }

    fn check_space(&self, space: &dyn SearchSpace) -> Result<(), EvalError> {
        if space.name() != Nb201Space::NAME {
            return Err(EvalError::WrongSpace {
                evaluator: "nb201".into(),
                space: space.name().to_string(),
            });
        }
        let (missing, examples) = self.table.missing_from(space, 3);
        if missing > 0 {
            return Err(EvalError::InvalidSetting(format!(
                "the table {} lacks {missing} cells of the space searched (e.g. {}); restrict \
                 space.ops to the table's cells or point evaluator.table at the full table",
                self.table.path().display(),
                examples.join(", ")
            )));
        }
        Ok(())
    }

    /// Simulated workers, unless queries rehearse slow trials in real time.
    fn simulated_clock(&self) -> bool {
        self.wall_delay.is_zero()
    }

    fn provenance(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "evaluator": "nb201",
            "table": self.table.path(),
            "table_sha256": self.table.sha256(),
            "table_rows": self.table.len(),
            "dataset": self.dataset.name(),
            "charged_epochs": self.charge_epochs,
            "search_split_fraction": self.dataset.search_split_fraction(),
        });
        if let Some((path, sha)) = self.table.latency_source() {
            v["latency_table"] = serde_json::json!(path);
            v["latency_table_sha256"] = serde_json::json!(sha);
            v["latency_devices"] = serde_json::json!(self.latency_devices);
        }
        v
    }
}
