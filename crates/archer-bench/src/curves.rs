//! `archer bench nb201-curves`: multi-fidelity schedulers against full-fidelity search on
//! the real learning curves of 200 NAS-Bench-201 cells, on simulated workers.
//!
//! A label names a strategy at full fidelity (`random`, `rea`, `bo`), a scheduler with
//! random search as its searcher (`sh`, `hyperband`, `asha`, `asha-stop`, `sh-stop`,
//! `hyperband-stop`, `median`, `percentile`), a scheduler with a strategy as its searcher
//! (`asha-bo`, `asha-rea`, `hyperband-tpe`), or BOHB (`bohb`: Hyperband with the `tpe`
//! searcher; `bohb-stop` retrains every rung from scratch as the original does).

use std::path::{Path, PathBuf};
use std::time::Instant;

use archer_core::{Arch, History, Trial, TrialState};
use archer_eval::EvaluatorConfig;
use archer_eval::{Nb201CurvesEvaluator, Nb201CurvesSettings};
use archer_runner::{
    Budget, ExperimentConfig, NullRecorder, SchedulerConfig, Study, StudySection, STEPS_RUN_ATTR,
};
use archer_space::SpaceConfig;
use archer_strategy::StrategyConfig;
use serde::Serialize;

use crate::nb201::CurvePoint;
use crate::stats::{anytime, run_jobs, write_file};
use crate::{mean, std_dev, BenchError};

/// Scheduler prefixes a label may start with, longest first.
const SCHEDULERS: [&str; 8] = [
    "hyperband-stop",
    "hyperband",
    "asha-stop",
    "asha",
    "sh-stop",
    "sh",
    "median",
    "percentile",
];

/// What one label runs.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvesMethod {
    pub label: String,
    pub strategy: StrategyConfig,
    pub scheduler: SchedulerConfig,
}

/// Scheduler settings every labelled scheduler gets.
#[derive(Clone, Debug, Serialize)]
pub struct RungSettings {
    pub eta: f64,
    pub min_resource: u32,
}

/// The method a label names, or why it names none.
pub fn parse_method(label: &str, rungs: &RungSettings) -> Result<CurvesMethod, String> {
    let (scheduler, strategy) = match label {
        "bohb" => ("hyperband", "tpe"),
        "bohb-stop" => ("hyperband-stop", "tpe"),
        _ => match SCHEDULERS
            .iter()
            .find(|s| label == **s || label.starts_with(&format!("{s}-")))
        {
            Some(s) if label == *s => (*s, "random"),
            Some(s) => (*s, &label[s.len() + 1..]),
            None => ("full", label),
        },
    };
    let strategy =
        archer_predict::strategy_by_label(strategy).map_err(|e| format!("{label}: {e}"))?;
    let (kind, stopping) = match scheduler.strip_suffix("-stop") {
        Some(k) => (k, true),
        None => (scheduler, false),
    };
    let mut config = SchedulerConfig::of_kind(kind);
    if config.has_rungs() {
        config.eta = Some(rungs.eta);
        config.min_resource = Some(rungs.min_resource);
        if stopping {
            config.rung_type = Some("stopping".into());
        }
    }
    config.validate().map_err(|e| format!("{label}: {e}"))?;
    Ok(CurvesMethod {
        label: label.to_string(),
        strategy,
        scheduler: config,
    })
}

/// What to run.
pub struct CurvesBench {
    pub curves: PathBuf,
    pub table: PathBuf,
    pub methods: Vec<CurvesMethod>,
    pub rungs: RungSettings,
    pub workers: usize,
    pub seeds: u64,
    pub first_seed: u64,
    pub budget_seconds: f64,
    pub threads: usize,
    pub curve_points: usize,
    pub resume_seconds: f64,
    /// Multi-objective: the latency table and the device whose latency is minimised beside
    /// validation accuracy (see [`crate::curves_mo`]); None: accuracy alone.
    pub latency: Option<(PathBuf, String)>,
}

/// One run's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct CurvesRun {
    pub strategy: String,
    pub seed: u64,
    pub test_acc: f64,
    pub valid_acc: f64,
    pub arch: String,
    pub epochs_trained: u64,
    /// Over trials, the highest step each reached (what a run that never trains an epoch
    /// twice trains).
    pub epochs_reached: u64,
    pub cells_seen: usize,
    pub trials: u64,
    pub sim_seconds: f64,
    #[serde(skip)]
    pub trajectory: Vec<(u64, f64, f64, f64)>,
}

/// Per-label summary; `--json` prints these.
#[derive(Clone, Debug, Serialize)]
pub struct CurvesSummary {
    pub strategy: String,
    pub scheduler: String,
    pub searcher: String,
    pub seeds: u64,
    pub mean_test_acc: f64,
    pub std_test_acc: f64,
    pub mean_valid_acc: f64,
    pub mean_epochs_trained: f64,
    pub mean_cells_seen: f64,
    pub mean_trials: f64,
    /// Runs that returned no cell trained to 200 epochs (left out of the means).
    pub runs_without_result: usize,
    /// The first simulated second at which this label's mean incumbent test accuracy
    /// reaches random search's final mean (None: never, or no random run to compare with).
    pub seconds_to_random_final: Option<f64>,
}

/// Wall time of scheduling decisions at 1,000 observations (release builds are what count).
#[derive(Clone, Debug, Serialize)]
pub struct DecisionTime {
    pub method: String,
    pub observations: usize,
    pub asks: usize,
    pub median_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CurvesReport {
    pub workers: usize,
    pub budget_seconds: f64,
    pub rungs: RungSettings,
    pub first_seed: u64,
    pub summaries: Vec<CurvesSummary>,
    /// The best of the 200 cells by final validation accuracy: its test accuracy.
    pub oracle_test_acc: f64,
    pub mean_full_training_seconds: f64,
    pub decision_times: Vec<DecisionTime>,
    pub wall_seconds: f64,
    pub curve_seconds: Vec<CurvePoint>,
    #[serde(skip)]
    pub runs: Vec<CurvesRun>,
}

impl CurvesBench {
    /// The evaluator every run uses.
    pub(crate) fn settings(&self) -> Nb201CurvesSettings {
        Nb201CurvesSettings {
            curves: self.curves.clone(),
            table: self.table.clone(),
            latency_table: self.latency.as_ref().map(|l| l.0.clone()),
            latency_devices: self.latency.as_ref().map(|l| vec![l.1.clone()]),
            resume_seconds: self.resume_seconds,
        }
    }

    pub(crate) fn config(
        &self,
        method: &CurvesMethod,
        seed: u64,
    ) -> Result<ExperimentConfig, BenchError> {
        let evaluator = EvaluatorConfig::of("nb201-curves", &self.settings())
            .map_err(archer_runner::ConfigError::from)?;
        let mut c = config(
            &format!("curves-{}-{seed}", method.label),
            seed,
            self.workers,
            method,
            evaluator,
            Budget {
                sim_seconds: Some(self.budget_seconds),
                ..Budget::default()
            },
        );
        if let Some((_, device)) = &self.latency {
            c.objective = crate::curves_mo::objectives(device);
        }
        Ok(c)
    }

    fn run_one(&self, method: &CurvesMethod, seed: u64) -> Result<CurvesRun, BenchError> {
        let e = self.config(method, seed)?.validate()?;
        let space = e.space.clone();
        let mut study = Study::new(e)?;
        let summary = study.run(&mut NullRecorder, &mut |_| {})?;
        let history = study.history();
        let get = |t: &Trial, k: &str| t.metrics.get(k).unwrap_or(f64::NAN);
        let best = summary.best.as_ref();
        let (epochs_trained, epochs_reached) = epoch_counts(history);
        Ok(CurvesRun {
            strategy: method.label.clone(),
            seed,
            test_acc: best.map_or(f64::NAN, |b| get(b, "test_acc")),
            valid_acc: best.map_or(f64::NAN, |b| get(b, "valid_acc")),
            arch: best.map(|b| space.format(&b.arch)).unwrap_or_default(),
            epochs_trained,
            epochs_reached,
            cells_seen: cells_seen(history),
            trials: summary.trials,
            sim_seconds: summary.sim_seconds,
            trajectory: crate::stats::trajectory(&summary, "valid_acc", "test_acc"),
        })
    }

    pub fn run(&self) -> Result<CurvesReport, BenchError> {
        let started = Instant::now();
        let evaluator = Nb201CurvesEvaluator::load(&self.settings())
            .map_err(archer_runner::ConfigError::from)?;
        let oracle_test_acc = evaluator
            .cells()
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .map_or(f64::NAN, |c| c.1);
        let jobs: Vec<(usize, u64)> = (0..self.methods.len())
            .flat_map(|m| (0..self.seeds).map(move |k| (m, k)))
            .collect();
        let runs = run_jobs(&jobs, self.threads, |&(m, k)| {
            self.run_one(&self.methods[m], self.first_seed + k)
        })?;
        let n = self.curve_points.max(1);
        let xs: Vec<f64> = (1..=n)
            .map(|k| self.budget_seconds * k as f64 / n as f64)
            .collect();
        let mut curve_seconds = Vec::new();
        for m in &self.methods {
            let mine: Vec<&[(u64, f64, f64, f64)]> = runs
                .iter()
                .filter(|r| r.strategy == m.label)
                .map(|r| r.trajectory.as_slice())
                .collect();
            curve_seconds.extend(anytime(&mine, xs.iter().copied(), |p| p.1).into_iter().map(
                |p| CurvePoint {
                    strategy: m.label.clone(),
                    x: p.x,
                    mean_test_acc: p.mean_second,
                    std_test_acc: p.std_second,
                    mean_valid_acc: p.mean_first,
                    runs: p.runs,
                },
            ));
        }
        let random_final = runs
            .iter()
            .filter(|r| r.strategy == "random")
            .map(|r| r.test_acc)
            .filter(|v| v.is_finite())
            .collect::<Vec<f64>>();
        let random_final = (!random_final.is_empty()).then(|| mean(&random_final));
        let summaries = self
            .methods
            .iter()
            .map(|m| summarise(m, &runs, &curve_seconds, random_final))
            .collect();
        Ok(CurvesReport {
            workers: self.workers,
            budget_seconds: self.budget_seconds,
            rungs: self.rungs.clone(),
            first_seed: self.first_seed,
            summaries,
            oracle_test_acc,
            mean_full_training_seconds: evaluator.mean_full_seconds(),
            decision_times: decision_times(&self.rungs)?,
            wall_seconds: started.elapsed().as_secs_f64(),
            curve_seconds,
            runs,
        })
    }
}

/// Σ over trials of the epochs their evaluations ran, and Σ of the highest epoch each
/// reached.
pub fn epoch_counts(history: &History) -> (u64, u64) {
    let trained = history
        .trials()
        .iter()
        .filter_map(|t| t.attrs.get(STEPS_RUN_ATTR).and_then(|v| v.as_u64()))
        .sum();
    let reached = history
        .trials()
        .iter()
        .map(|t| {
            t.intermediate
                .iter()
                .map(|(s, _)| *s as u64)
                .max()
                .unwrap_or(0)
        })
        .sum();
    (trained, reached)
}

fn cells_seen(history: &History) -> usize {
    let hashes: std::collections::HashSet<&str> = history
        .trials()
        .iter()
        .filter(|t| !t.intermediate.is_empty())
        .map(|t| t.arch_hash.as_str())
        .collect();
    hashes.len()
}

fn summarise(
    method: &CurvesMethod,
    runs: &[CurvesRun],
    curve: &[CurvePoint],
    random_final: Option<f64>,
) -> CurvesSummary {
    let mine: Vec<&CurvesRun> = runs.iter().filter(|r| r.strategy == method.label).collect();
    let with_result: Vec<&&CurvesRun> = mine.iter().filter(|r| r.test_acc.is_finite()).collect();
    let col = |f: fn(&CurvesRun) -> f64| -> Vec<f64> { with_result.iter().map(|r| f(r)).collect() };
    let all = |f: fn(&CurvesRun) -> f64| -> Vec<f64> { mine.iter().map(|r| f(r)).collect() };
    let test = col(|r| r.test_acc);
    let seconds_to_random_final = random_final.and_then(|target| {
        curve
            .iter()
            .filter(|p| p.strategy == method.label && p.runs == mine.len())
            .find(|p| p.mean_test_acc >= target - 1e-9)
            .map(|p| p.x)
    });
    CurvesSummary {
        strategy: method.label.clone(),
        scheduler: method.scheduler.label(),
        searcher: archer_predict::strategy_label(&method.strategy),
        seeds: mine.len() as u64,
        mean_test_acc: mean(&test),
        std_test_acc: std_dev(&test),
        mean_valid_acc: mean(&col(|r| r.valid_acc)),
        mean_epochs_trained: mean(&all(|r| r.epochs_trained as f64)),
        mean_cells_seen: mean(&all(|r| r.cells_seen as f64)),
        mean_trials: mean(&all(|r| r.trials as f64)),
        runs_without_result: mine.len() - with_result.len(),
        seconds_to_random_final,
    }
}

/// Times `asha`'s and `bohb`'s decision for a new trial (the scheduler's admission plus the
/// searcher's ask) on a history of 1,000 observed trials of the full NB201 space, each
/// paused or finished at a random rung with a random value.
pub fn decision_times(rungs: &RungSettings) -> Result<Vec<DecisionTime>, BenchError> {
    const OBSERVATIONS: usize = 1000;
    const ASKS: usize = 50;
    let mut out = Vec::new();
    for label in ["asha", "bohb"] {
        let method = parse_method(label, rungs).map_err(BenchError::Invalid)?;
        let mut method = method;
        method.scheduler.max_resource = Some(200);
        let evaluator = EvaluatorConfig::of("external", &archer_eval::ExternalSettings {})
            .map_err(archer_runner::ConfigError::from)?;
        let budget = Budget {
            trials: Some(100_000),
            ..Budget::default()
        };
        let e = config("decide", 7, 1, &method, evaluator, budget).validate()?;
        let history = synthetic_history(&e, OBSERVATIONS)?;
        let mut strategy = archer_runner::build_strategy(&e)?;
        let mut scheduler = archer_runner::build_scheduler(&e)?;
        let mut times = Vec::new();
        for _ in 0..ASKS {
            let t0 = Instant::now();
            let admission = scheduler.next(&history);
            if admission == archer_runner::Admission::New {
                strategy
                    .ask(&history)
                    .map_err(|e| BenchError::Invalid(e.to_string()))?;
            }
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        out.push(DecisionTime {
            method: label.to_string(),
            observations: OBSERVATIONS,
            asks: ASKS,
            median_ms: times[times.len() / 2],
            max_ms: times[times.len() - 1],
        });
    }
    Ok(out)
}

/// `n` trials of `e`'s space, each reporting a noisy rising curve up to a random rung and
/// then PAUSED there (or COMPLETE at the top).
fn synthetic_history(e: &archer_runner::Experiment, n: usize) -> Result<History, BenchError> {
    let mut rng = archer_rng::Rng::derive(11, 0);
    let levels = e
        .config
        .scheduler
        .levels(Some(200))
        .map_err(|e| BenchError::Invalid(e.to_string()))?;
    let mut trials = Vec::new();
    for id in 0..n as u64 {
        let arch: Arch = e
            .space
            .sample(&mut rng)
            .map_err(archer_runner::ConfigError::from)?;
        let hash = e.space.canonical_hash(&arch);
        let mut t = Trial::new(id, arch, hash, Default::default());
        let top = levels[rng.below(levels.len())];
        let quality = 80.0 + 10.0 * rng.unit();
        t.intermediate = (1..=top)
            .map(|s| (s, quality * (1.0 - (-(s as f64) / 20.0).exp())))
            .collect();
        t.attrs.insert(
            archer_runner::BRACKET_ATTR.into(),
            serde_json::json!(id as usize / 27),
        );
        if top == 200 {
            t.state = TrialState::Complete;
            t.score = Some(t.intermediate[199].1);
            t.scores = vec![t.intermediate[199].1];
        } else {
            t.state = TrialState::Paused;
        }
        trials.push(t);
    }
    History::from_trials(trials).map_err(|m| BenchError::Invalid(format!("trial {m} missing")))
}

/// The experiment of one run.
fn config(
    name: &str,
    seed: u64,
    workers: usize,
    method: &CurvesMethod,
    evaluator: EvaluatorConfig,
    budget: Budget,
) -> ExperimentConfig {
    ExperimentConfig {
        study: StudySection {
            name: name.to_string(),
            seed,
            workers,
            ..StudySection::default()
        },
        space: SpaceConfig::named("nb201"),
        strategy: method.strategy.clone(),
        scheduler: method.scheduler.clone(),
        evaluator,
        objective: Default::default(),
        constraint: Vec::new(),
        budget,
        retrain: None,
    }
}

impl CurvesReport {
    /// Writes summary.json, runs.csv and the anytime curve (SVG and CSV) to `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), BenchError> {
        let json =
            serde_json::to_string_pretty(self).map_err(|e| BenchError::Invalid(e.to_string()))?;
        write_file(dir, "summary.json", json)?;
        let mut csv = String::from(
            "strategy,seed,test_acc,valid_acc,epochs_trained,epochs_reached,cells_seen,trials,sim_seconds,arch\n",
        );
        for r in &self.runs {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                r.strategy,
                r.seed,
                r.test_acc,
                r.valid_acc,
                r.epochs_trained,
                r.epochs_reached,
                r.cells_seen,
                r.trials,
                r.sim_seconds,
                r.arch
            ));
        }
        write_file(dir, "runs.csv", csv)?;
        let mut curve = String::from("strategy,seconds,mean_test_acc,std_test_acc,runs\n");
        for p in &self.curve_seconds {
            curve.push_str(&format!(
                "{},{},{},{},{}\n",
                p.strategy, p.x, p.mean_test_acc, p.std_test_acc, p.runs
            ));
        }
        write_file(dir, "anytime_seconds.csv", curve)?;
        crate::plot::anytime_svg(
            &dir.join("anytime_seconds.svg"),
            &format!(
                "NB201 curves (cifar10-valid), {} simulated workers, {} seeds",
                self.workers,
                self.summaries.first().map_or(0, |s| s.seeds)
            ),
            "simulated seconds",
            "best-so-far test accuracy (%)",
            &self.curve_seconds,
        )
    }

    /// The table printed without `--json`.
    pub fn render(&self) -> String {
        let mut out = format!(
            "NB201 learning curves, 200 cells, {} simulated workers, {} s each, seeds {}..{} (η = {}, min resource {} epochs)\n",
            self.workers,
            self.budget_seconds,
            self.first_seed,
            self.first_seed + self.summaries.first().map_or(0, |s| s.seeds) - 1,
            self.rungs.eta,
            self.rungs.min_resource
        );
        out.push_str(&format!(
            "{:<16} {:>16} {:>10} {:>8} {:>8} {:>14}\n",
            "strategy", "test acc %", "epochs", "cells", "trials", "s to random"
        ));
        for s in &self.summaries {
            out.push_str(&format!(
                "{:<16} {:>8.2} ± {:<5.2} {:>10.0} {:>8.1} {:>8.1} {:>14}\n",
                s.strategy,
                s.mean_test_acc,
                s.std_test_acc,
                s.mean_epochs_trained,
                s.mean_cells_seen,
                s.mean_trials,
                s.seconds_to_random_final
                    .map_or("-".to_string(), |x| format!("{x:.0}"))
            ));
        }
        out.push_str(&format!(
            "best cell by final validation: test {:.2} %; one full training: {:.0} s on average\n",
            self.oracle_test_acc, self.mean_full_training_seconds
        ));
        for d in &self.decision_times {
            out.push_str(&format!(
                "decision time {} at {} observations: median {:.3} ms, max {:.3} ms ({} asks)\n",
                d.method, d.observations, d.median_ms, d.max_ms, d.asks
            ));
        }
        out
    }
}
