//! `archer bench nb201-curves --latency-device D`: multi-objective search on the learning
//! curves of the 200 NAS-Bench-201 cells, validation accuracy (by epoch) against the
//! cell's latency on device D from the NB201 latency table, on simulated workers. It sets
//! MO-ASHA (ASHA whose rungs rank by non-dominated sorting with hypervolume contribution
//! as the tie-break) against full-fidelity multi-objective search (MO-REA, NSGA-II, ...)
//! at equal simulated time.
//!
//! Protocol. The true front is the non-dominated set of the 200 cells on (validation
//! accuracy after 200 epochs, latency). A run's front is the study's Pareto front: its
//! COMPLETE trials, i.e. cells trained to 200 epochs (a cell paused at a lower rung has no
//! final accuracy and is not part of it). Objectives are scaled by the true front's ideal
//! and nadir, the reference point is 1.1 on every scaled, minimised axis, and
//! `hv_regret = 1 − HV(run's front) / HV(true front)` (the scaling of `bench nb201
//! --objectives`). The regret is also taken at a quarter and half of the budget, from the
//! trials finished by then on the simulated clock, and on test accuracy: the same front
//! scored by the cells' test accuracy against the true test front.

use std::path::Path;
use std::time::Instant;

use archer_core::pareto::pareto_front;
use archer_core::{Arch, Direction, History, Trial, TrialState};
use archer_eval::{Evaluator, Nb201CurvesEvaluator};
use archer_runner::{NullRecorder, ObjectiveSection, Objectives, Study, SIM_FINISHED_ATTR};
use serde::Serialize;

use crate::curves::{epoch_counts, CurvesBench, CurvesMethod, RungSettings};
use crate::mo::Frame;
use crate::stats::{run_jobs, write_file};
use crate::{mean, std_dev, BenchError};

/// Shares of the budget at which the regret is also reported.
pub const FRACTIONS: [f64; 3] = [0.25, 0.5, 1.0];

/// The objectives of the multi-objective bench: validation accuracy up, latency on
/// `device` down.
pub fn objectives(device: &str) -> Objectives {
    Objectives(vec![
        ObjectiveSection {
            metric: archer_core::metric::VALID_ACC.into(),
            direction: Some(Direction::Maximize),
        },
        ObjectiveSection {
            metric: latency_metric(device),
            direction: Some(Direction::Minimize),
        },
    ])
}

fn latency_metric(device: &str) -> String {
    format!("latency_ms_{device}")
}

/// One run's figures.
#[derive(Clone, Debug, Serialize)]
pub struct MoCurvesRun {
    pub strategy: String,
    pub seed: u64,
    /// HV regret on validation accuracy at each of [`FRACTIONS`] of the budget.
    pub hv_regret: Vec<f64>,
    /// HV regret of the final front scored on test accuracy.
    pub test_hv_regret: f64,
    pub front_size: usize,
    pub complete: usize,
    pub trials: u64,
    pub epochs_trained: u64,
    pub epochs_reached: u64,
}

/// Per-label summary.
#[derive(Clone, Debug, Serialize)]
pub struct MoCurvesSummary {
    pub strategy: String,
    pub scheduler: String,
    pub searcher: String,
    pub seeds: usize,
    /// Mean and standard deviation of the regret at each of [`FRACTIONS`].
    pub mean_hv_regret: Vec<f64>,
    pub std_hv_regret: Vec<f64>,
    pub mean_test_hv_regret: f64,
    pub std_test_hv_regret: f64,
    pub mean_front_size: f64,
    pub mean_complete: f64,
    pub mean_epochs_trained: f64,
    /// Runs in which a trial trained an epoch twice (Σ epochs trained > Σ highest reached).
    pub runs_training_twice: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct MoCurvesReport {
    pub device: String,
    pub workers: usize,
    pub budget_seconds: f64,
    pub rungs: RungSettings,
    pub first_seed: u64,
    pub fractions: Vec<f64>,
    pub search_frame: Frame,
    pub test_frame: Frame,
    pub summaries: Vec<MoCurvesSummary>,
    pub wall_seconds: f64,
    #[serde(skip)]
    pub runs: Vec<MoCurvesRun>,
}

/// (validation after 200 epochs, test, latency) of a cell, oriented on demand.
struct CellPoint {
    valid: f64,
    test: f64,
    latency: f64,
}

impl CellPoint {
    fn oriented(&self, test: bool) -> [f64; 2] {
        [if test { self.test } else { self.valid }, -self.latency]
    }
}

impl CurvesBench {
    /// Runs every method × seed with two objectives (`self.latency` must be set).
    pub fn run_multi(&self) -> Result<MoCurvesReport, BenchError> {
        let started = Instant::now();
        let Some((_, device)) = &self.latency else {
            return Err(BenchError::Invalid(
                "the multi-objective bench needs a latency device".into(),
            ));
        };
        let evaluator = Nb201CurvesEvaluator::load(&self.settings())
            .map_err(archer_runner::ConfigError::from)?;
        let metric = latency_metric(device);
        let point = |arch: &Arch, valid: f64, test: f64| -> Result<CellPoint, BenchError> {
            let latency = evaluator.known_before(arch).get(&metric).ok_or_else(|| {
                BenchError::Invalid(format!("the latency table has no {metric} for a cell"))
            })?;
            Ok(CellPoint {
                valid,
                test,
                latency,
            })
        };
        let cells = evaluator
            .cells()
            .map(|(arch, test, valid)| point(arch, valid, test))
            .collect::<Result<Vec<_>, _>>()?;
        let frame = |test: bool| {
            let points: Vec<[f64; 2]> = cells.iter().map(|c| c.oriented(test)).collect();
            let refs: Vec<&[f64]> = points.iter().map(|p| &p[..]).collect();
            let front: Vec<&[f64]> = pareto_front(&refs).into_iter().map(|i| refs[i]).collect();
            let name = if test { "test_acc" } else { "valid_acc" };
            Frame::new(vec![name.into(), metric.clone()], &front)
        };
        let (search_frame, test_frame) = (frame(false), frame(true));
        let jobs: Vec<(usize, u64)> = (0..self.methods.len())
            .flat_map(|m| (0..self.seeds).map(move |k| (m, k)))
            .collect();
        let runs = run_jobs(&jobs, self.threads, |&(m, k)| {
            let method = &self.methods[m];
            let seed = self.first_seed + k;
            let e = self.config(method, seed)?.validate()?;
            let mut study = Study::new(e)?;
            let summary = study.run(&mut NullRecorder, &mut |_| {})?;
            let history = study.history();
            let at = |finished_by: f64, test: bool| -> Result<(f64, usize), BenchError> {
                let points = front_by(history, finished_by, &metric, test)?;
                let refs: Vec<&[f64]> = points.iter().map(|p| &p[..]).collect();
                let frame = if test { &test_frame } else { &search_frame };
                Ok((frame.regret(&refs), points.len()))
            };
            let hv_regret = FRACTIONS
                .iter()
                .map(|f| at(f * self.budget_seconds, false).map(|r| r.0))
                .collect::<Result<Vec<_>, _>>()?;
            let (test_hv_regret, front_size) = at(f64::INFINITY, true)?;
            let (epochs_trained, epochs_reached) = epoch_counts(history);
            Ok(MoCurvesRun {
                strategy: method.label.clone(),
                seed,
                hv_regret,
                test_hv_regret,
                front_size,
                complete: history.count(TrialState::Complete),
                trials: summary.trials,
                epochs_trained,
                epochs_reached,
            })
        })?;
        let summaries = self.methods.iter().map(|m| summarise(m, &runs)).collect();
        Ok(MoCurvesReport {
            device: device.clone(),
            workers: self.workers,
            budget_seconds: self.budget_seconds,
            rungs: self.rungs.clone(),
            first_seed: self.first_seed,
            fractions: FRACTIONS.to_vec(),
            search_frame,
            test_frame,
            summaries,
            wall_seconds: started.elapsed().as_secs_f64(),
            runs,
        })
    }
}

/// The oriented points of the non-dominated COMPLETE trials that finished by `finished_by`
/// simulated seconds (their end on the simulated workers' clock, or else the running sum
/// of costs), on validation or test accuracy.
fn front_by(
    history: &History,
    finished_by: f64,
    latency: &str,
    test: bool,
) -> Result<Vec<[f64; 2]>, BenchError> {
    let mut clock = 0.0;
    let mut points = Vec::new();
    for t in history.trials() {
        clock += t.cost_seconds;
        let end = t
            .attrs
            .get(SIM_FINISHED_ATTR)
            .and_then(|v| v.as_f64())
            .unwrap_or(clock);
        if t.state != TrialState::Complete || end > finished_by {
            continue;
        }
        let get = |t: &Trial, k: &str| {
            t.metrics
                .get(k)
                .ok_or_else(|| BenchError::Invalid(format!("trial {} has no {k} metric", t.id)))
        };
        let acc = get(t, if test { "test_acc" } else { "valid_acc" })?;
        points.push([acc, -get(t, latency)?]);
    }
    let refs: Vec<&[f64]> = points.iter().map(|p| &p[..]).collect();
    Ok(pareto_front(&refs).into_iter().map(|i| points[i]).collect())
}

fn summarise(method: &CurvesMethod, runs: &[MoCurvesRun]) -> MoCurvesSummary {
    let mine: Vec<&MoCurvesRun> = runs.iter().filter(|r| r.strategy == method.label).collect();
    let col = |f: &dyn Fn(&MoCurvesRun) -> f64| -> Vec<f64> { mine.iter().map(|r| f(r)).collect() };
    let at = |k: usize| col(&|r| r.hv_regret[k]);
    let test = col(&|r| r.test_hv_regret);
    MoCurvesSummary {
        strategy: method.label.clone(),
        scheduler: method.scheduler.label(),
        searcher: archer_predict::strategy_label(&method.strategy),
        seeds: mine.len(),
        mean_hv_regret: (0..FRACTIONS.len()).map(|k| mean(&at(k))).collect(),
        std_hv_regret: (0..FRACTIONS.len()).map(|k| std_dev(&at(k))).collect(),
        mean_test_hv_regret: mean(&test),
        std_test_hv_regret: std_dev(&test),
        mean_front_size: mean(&col(&|r| r.front_size as f64)),
        mean_complete: mean(&col(&|r| r.complete as f64)),
        mean_epochs_trained: mean(&col(&|r| r.epochs_trained as f64)),
        runs_training_twice: mine
            .iter()
            .filter(|r| r.epochs_trained > r.epochs_reached)
            .count(),
    }
}

impl MoCurvesReport {
    /// Writes summary.json and runs.csv to `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), BenchError> {
        let json =
            serde_json::to_string_pretty(self).map_err(|e| BenchError::Invalid(e.to_string()))?;
        write_file(dir, "summary.json", json)?;
        let mut csv = String::from(
            "strategy,seed,hv_regret_25,hv_regret_50,hv_regret,test_hv_regret,front_size,complete,trials,epochs_trained,epochs_reached\n",
        );
        for r in &self.runs {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                r.strategy,
                r.seed,
                r.hv_regret[0],
                r.hv_regret[1],
                r.hv_regret[2],
                r.test_hv_regret,
                r.front_size,
                r.complete,
                r.trials,
                r.epochs_trained,
                r.epochs_reached
            ));
        }
        write_file(dir, "runs.csv", csv)
    }

    /// The table printed without `--json`.
    pub fn render(&self) -> String {
        let seeds = self.summaries.first().map_or(0, |s| s.seeds) as u64;
        let mut out = format!(
            "NB201 learning curves, 200 cells: valid_acc (max) vs latency_ms_{} (min); {} simulated workers, {} s each, seeds {}..{} (η = {}, min resource {} epochs)\n",
            self.device,
            self.workers,
            self.budget_seconds,
            self.first_seed,
            self.first_seed + seeds.max(1) - 1,
            self.rungs.eta,
            self.rungs.min_resource
        );
        out.push_str(&format!(
            "{:<14} {:>16} {:>16} {:>16} {:>16} {:>7} {:>9} {:>8}\n",
            "strategy",
            "HV regret @25 %",
            "@50 %",
            "@100 %",
            "test HV regret",
            "front",
            "complete",
            "epochs"
        ));
        let pm = |m: f64, s: f64| format!("{m:.4} ± {s:.4}");
        for s in &self.summaries {
            out.push_str(&format!(
                "{:<14} {:>16} {:>16} {:>16} {:>16} {:>7.1} {:>9.1} {:>8.0}\n",
                s.strategy,
                pm(s.mean_hv_regret[0], s.std_hv_regret[0]),
                pm(s.mean_hv_regret[1], s.std_hv_regret[1]),
                pm(s.mean_hv_regret[2], s.std_hv_regret[2]),
                pm(s.mean_test_hv_regret, s.std_test_hv_regret),
                s.mean_front_size,
                s.mean_complete,
                s.mean_epochs_trained
            ));
        }
        out.push_str(&format!(
            "true front: {} cells (validation), {} (test); reference point 1.1 on the scaled axes\n",
            self.search_frame.true_front_size, self.test_frame.true_front_size
        ));
        let twice: usize = self.summaries.iter().map(|s| s.runs_training_twice).sum();
        if twice > 0 {
            out.push_str(&format!(
                "{twice} runs trained some epoch twice (stopping schedulers retrain from scratch)\n"
            ));
        }
        out
    }
}
