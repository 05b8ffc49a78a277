//! `archer bench nb201 --objectives ...`: multi-objective and constrained search on the
//! NAS-Bench-201 table, judged by the normalised hypervolume of the front found against the
//! true front of every cell, on a simulated clock; optionally beside Optuna's NSGA-II run on
//! the same problem, budget, seeds and clock.
//!
//! Protocol. The true front is the non-dominated set of every feasible cell of the table on
//! the search metrics. Objectives are scaled to [0, 1] by the true front's ideal and nadir
//! points, and the hypervolume's reference point is 1.1 on every (minimised, scaled) axis.
//! A run's front is the non-dominated set of the feasible cells it evaluated;
//! `hv_regret = 1 − HV(run's front) / HV(true front)`. The test figure scores the same
//! returned front on the held-out metrics (test accuracy in place of validation accuracy)
//! against the true front on those metrics, scaled by that front's own ideal and nadir.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use archer_core::pareto::{hypervolume, pareto_front};
use archer_core::{
    metric, scores, total_violation, Arch, Constraint, Direction, Fidelity, Metrics, Objective,
    TrialCtx, TrialState,
};
use archer_eval::{Evaluator, EvaluatorConfig, Nb201Dataset, Nb201Evaluator, Nb201Table};
use archer_runner::{Budget, Experiment, ExperimentConfig, NullRecorder, Study, StudySection};
use archer_space::{Nb201Space, SearchSpace, SpaceConfig};
use archer_strategy::StrategyConfig;
use serde::Serialize;

use crate::nb201::CurvePoint;
use crate::{mean, std_dev, BenchError, FrontSeries};

/// The label of the Optuna reference row.
pub const OPTUNA_LABEL: &str = "optuna-nsga2";

/// Optuna's NSGA-II run by `bench/optuna_nsga2.py` with this Python.
#[derive(Clone, Debug)]
pub struct OptunaReference {
    pub python: PathBuf,
    pub script: PathBuf,
}

/// What to run.
pub struct MoBench {
    pub table: Arc<Nb201Table>,
    pub dataset: Nb201Dataset,
    /// Directions resolved.
    pub objectives: Vec<Objective>,
    pub constraints: Vec<Constraint>,
    pub strategies: Vec<(String, StrategyConfig)>,
    pub seeds: u64,
    pub first_seed: u64,
    pub budget_seconds: f64,
    pub deduplicate: bool,
    pub threads: usize,
    pub curve_points: usize,
    pub optuna: Option<OptunaReference>,
    /// Where the Optuna exchange files go.
    pub work_dir: PathBuf,
}

/// One cell of the table with everything the bench needs.
struct Cell {
    arch: Arch,
    index: u32,
    metrics: Metrics,
    cost: f64,
    feasible: bool,
    search: Vec<f64>,
    test: Vec<f64>,
}

impl Cell {
    /// The oriented objective vector on the search metrics, or on the held-out ones.
    fn vector(&self, test: bool) -> &[f64] {
        if test {
            &self.test
        } else {
            &self.search
        }
    }
}

/// How a front is scaled: the true front's ideal and nadir (oriented, higher = better) and
/// its hypervolume.
#[derive(Clone, Debug, Serialize)]
pub struct Frame {
    pub metrics: Vec<String>,
    pub ideal: Vec<f64>,
    pub nadir: Vec<f64>,
    /// On every scaled, minimised axis.
    pub reference: f64,
    pub true_front_size: usize,
    pub true_hv: f64,
}

impl Frame {
    pub(crate) fn new(metrics: Vec<String>, front: &[&[f64]]) -> Frame {
        let dims = metrics.len();
        let mut ideal = vec![f64::NEG_INFINITY; dims];
        let mut nadir = vec![f64::INFINITY; dims];
        for p in front {
            for k in 0..dims {
                ideal[k] = ideal[k].max(p[k]);
                nadir[k] = nadir[k].min(p[k]);
            }
        }
        let mut frame = Frame {
            metrics,
            ideal,
            nadir,
            reference: 1.1,
            true_front_size: front.len(),
            true_hv: 0.0,
        };
        frame.true_hv = frame.hv(front);
        frame
    }

    /// Hypervolume of `points` (oriented) after scaling; the scaled, maximised reference is
    /// `1 − reference` on every axis.
    fn hv(&self, points: &[&[f64]]) -> f64 {
        let scaled: Vec<Vec<f64>> = points
            .iter()
            .map(|p| {
                (0..p.len())
                    .map(|k| {
                        let span = self.ideal[k] - self.nadir[k];
                        if span > 0.0 {
                            (p[k] - self.nadir[k]) / span
                        } else {
                            1.0
                        }
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = scaled.iter().map(|p| &p[..]).collect();
        hypervolume(&refs, &vec![1.0 - self.reference; self.metrics.len()])
    }

    pub(crate) fn regret(&self, points: &[&[f64]]) -> f64 {
        if self.true_hv > 0.0 {
            1.0 - self.hv(points) / self.true_hv
        } else {
            f64::NAN
        }
    }
}

/// One run: the cells it evaluated, in order, with the simulated time after each.
#[derive(Clone, Debug)]
struct Run {
    strategy: String,
    seed: u64,
    /// (cell position, simulated seconds after this query).
    steps: Vec<(usize, f64)>,
    /// Proposals rejected before evaluation (cost nothing).
    screened: u64,
}

/// One run's figures.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    pub strategy: String,
    pub seed: u64,
    pub queries: u64,
    pub screened: u64,
    pub sim_seconds: f64,
    pub hv_regret: f64,
    pub test_hv_regret: f64,
    pub front_size: usize,
    /// Share of the simulated seconds spent on feasible cells.
    pub feasible_seconds_share: f64,
    /// The best feasible cell by the first objective: its test accuracy (NaN if none).
    pub best_feasible_test_acc: f64,
    #[serde(skip)]
    curve: Vec<f64>,
    #[serde(skip)]
    front: Vec<usize>,
}

/// Per-strategy summary; `--json` prints a list of these.
#[derive(Clone, Debug, Serialize)]
pub struct MoSummary {
    pub strategy: String,
    pub dataset: String,
    pub seeds: u64,
    pub budget_seconds: f64,
    pub mean_hv_regret: f64,
    pub std_hv_regret: f64,
    pub mean_test_hv_regret: f64,
    pub std_test_hv_regret: f64,
    pub mean_queries: f64,
    pub mean_screened: f64,
    pub mean_front_size: f64,
    pub mean_feasible_seconds_share: f64,
    pub min_feasible_seconds_share: f64,
    pub mean_best_feasible_test_acc: f64,
    pub std_best_feasible_test_acc: f64,
}

/// The best feasible cells of the table, for constrained searches.
#[derive(Clone, Debug, Serialize)]
pub struct FeasibleOracle {
    pub feasible_cells: usize,
    /// The feasible cell with the best first objective (what a perfect search returns).
    pub best_by_search_arch: String,
    pub best_by_search_test_acc: f64,
    pub best_test_acc: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MoReport {
    pub dataset: String,
    pub budget_seconds: f64,
    pub objectives: Vec<Objective>,
    pub constraints: Vec<Constraint>,
    pub search_frame: Frame,
    pub test_frame: Frame,
    pub oracle: FeasibleOracle,
    pub summaries: Vec<MoSummary>,
    pub wall_seconds: f64,
    pub optuna_version: Option<String>,
    #[serde(skip)]
    pub runs: Vec<RunOutcome>,
    #[serde(skip)]
    curves: Vec<CurvePoint>,
    #[serde(skip)]
    true_front: Vec<(f64, f64)>,
    #[serde(skip)]
    median_fronts: Vec<(String, Vec<(f64, f64)>)>,
}

/// The held-out counterpart of a search metric (validation → test accuracy).
fn test_metric(m: &str) -> &str {
    if m == metric::VALID_ACC {
        metric::TEST_ACC
    } else {
        m
    }
}

/// Latency devices named by `latency_ms_<device>` metrics.
fn latency_devices(metrics: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = metrics
        .filter_map(|m| m.strip_prefix("latency_ms_").map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    out
}

impl MoBench {
    fn metric_names(&self) -> impl Iterator<Item = String> + '_ {
        self.objectives
            .iter()
            .map(|o| o.metric.clone())
            .chain(self.constraints.iter().map(|c| c.metric.clone()))
    }

    fn evaluator(&self) -> Result<Nb201Evaluator, BenchError> {
        Nb201Evaluator::new(
            self.table.clone(),
            self.dataset,
            12,
            latency_devices(self.metric_names()),
        )
        .map_err(|e| BenchError::Config(e.into()))
    }

    /// Every cell's metrics, by looking it up as a query would.
    fn cells(&self) -> Result<Vec<Cell>, BenchError> {
        let evaluator = self.evaluator()?;
        let test_objectives: Vec<Objective> = self
            .objectives
            .iter()
            .map(|o| Objective {
                metric: test_metric(&o.metric).to_string(),
                direction: o.direction,
            })
            .collect();
        let mut cells = Vec::with_capacity(self.table.len());
        for (arch, _) in self.table.iter() {
            let mut ctx = TrialCtx::new(0, 0);
            let m = evaluator
                .evaluate(arch, &Fidelity::full(), &mut ctx)
                .map_err(|e| BenchError::Invalid(format!("cell {arch:?}: {e}")))?;
            let search = scores(&self.objectives, &m).map_err(|name| {
                BenchError::Invalid(format!(
                    "the table has no finite {name:?} for a cell; objectives must be numeric columns of every cell"
                ))
            })?;
            let test = scores(&test_objectives, &m).map_err(|name| {
                BenchError::Invalid(format!("the table has no finite {name:?} for a cell"))
            })?;
            let violation = total_violation(&self.constraints, &m)
                .map_err(|name| BenchError::Invalid(format!("no {name:?} for a cell")))?;
            cells.push(Cell {
                arch: arch.clone(),
                index: self.table.arch_index(arch).unwrap_or(u32::MAX),
                cost: m.get(metric::SIM_SECONDS).unwrap_or(0.0),
                metrics: m,
                feasible: violation <= 0.0,
                search,
                test,
            });
        }
        Ok(cells)
    }

    fn experiment(&self, strategy: &StrategyConfig, seed: u64) -> Result<Experiment, BenchError> {
        let evaluator = self.evaluator()?;
        let config = ExperimentConfig {
            study: StudySection {
                name: format!("bench-mo-{}-{seed}", strategy.name()),
                seed,
                deduplicate: self.deduplicate,
                ..StudySection::default()
            },
            space: SpaceConfig::named("nb201"),
            strategy: strategy.clone(),
            scheduler: Default::default(),
            evaluator: EvaluatorConfig::of(
                "nb201",
                &archer_eval::Nb201Settings {
                    table: self.table.path().to_path_buf(),
                    latency_table: self.table.latency_source().map(|(p, _)| p.to_path_buf()),
                    latency_devices: Some(latency_devices(self.metric_names())),
                    dataset: self.dataset,
                    epochs: 12,
                    wall_seconds_per_query: 0.0,
                    zero_cost_table: None,
                    zero_cost_proxy: None,
                },
            )
            .map_err(archer_runner::ConfigError::from)?,
            objective: archer_runner::Objectives(
                self.objectives
                    .iter()
                    .map(|o| archer_runner::ObjectiveSection {
                        metric: o.metric.clone(),
                        direction: Some(o.direction),
                    })
                    .collect(),
            ),
            constraint: self.constraints.clone(),
            budget: Budget {
                trials: None,
                sim_seconds: Some(self.budget_seconds),
                wall_seconds: None,
            },
            retrain: None,
        };
        archer_predict::check_strategy(strategy)
            .map_err(|e| BenchError::Config(archer_runner::ConfigError::Strategy(e)))?;
        Ok(Experiment {
            config,
            space: Arc::new(Nb201Space::default()),
            evaluator: Arc::new(evaluator),
            zero_cost: None,
            objectives: self.objectives.clone(),
            constraints: self.constraints.clone(),
        })
    }

    fn run_one(
        &self,
        label: &str,
        strategy: &StrategyConfig,
        seed: u64,
        position: &HashMap<u32, usize>,
    ) -> Result<Run, BenchError> {
        let mut study = Study::new(self.experiment(strategy, seed)?)?;
        study.run(&mut NullRecorder, &mut |_| {})?;
        let space = Nb201Space::default();
        let mut steps = Vec::new();
        let mut screened = 0;
        let mut sim = 0.0;
        for t in study.history().trials() {
            if t.is_screened() {
                screened += 1;
                continue;
            }
            if t.state != TrialState::Complete {
                continue;
            }
            sim += t.cost_seconds;
            let index = self.table.arch_index(&t.arch).ok_or_else(|| {
                BenchError::Invalid(format!("{} is not in the table", space.format(&t.arch)))
            })?;
            steps.push((position[&index], sim));
        }
        Ok(Run {
            strategy: label.to_string(),
            seed,
            steps,
            screened,
        })
    }

    /// Runs every strategy × seed (and Optuna when asked) and summarises.
    pub fn run(&self) -> Result<MoReport, BenchError> {
        let started = Instant::now();
        if self.objectives.is_empty() {
            return Err(BenchError::Invalid("no objective".into()));
        }
        let cells = self.cells()?;
        let position: HashMap<u32, usize> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.index, i))
            .collect();
        let feasible: Vec<usize> = (0..cells.len()).filter(|&i| cells[i].feasible).collect();
        if feasible.is_empty() {
            return Err(BenchError::Invalid(
                "no cell of the table meets the constraints".into(),
            ));
        }
        let frame = |test: bool| {
            let vecs: Vec<&[f64]> = feasible.iter().map(|&i| cells[i].vector(test)).collect();
            let front: Vec<&[f64]> = pareto_front(&vecs).into_iter().map(|i| vecs[i]).collect();
            let names = self
                .objectives
                .iter()
                .map(|o| {
                    if test {
                        test_metric(&o.metric).to_string()
                    } else {
                        o.metric.clone()
                    }
                })
                .collect();
            Frame::new(names, &front)
        };
        let (search_frame, test_frame) = (frame(false), frame(true));

        let jobs: Vec<(usize, u64)> = (0..self.strategies.len())
            .flat_map(|s| (0..self.seeds).map(move |k| (s, k)))
            .collect();
        let mut runs: Vec<Run> = crate::stats::run_jobs(&jobs, self.threads, |&(s, k)| {
            let (label, config) = &self.strategies[s];
            self.run_one(label, config, self.first_seed + k, &position)
        })?;
        let mut labels: Vec<String> = self.strategies.iter().map(|s| s.0.clone()).collect();
        let mut optuna_version = None;
        if let Some(reference) = &self.optuna {
            let (optuna_runs, version) = self.run_optuna(reference, &cells, &position)?;
            runs.extend(optuna_runs);
            labels.push(OPTUNA_LABEL.to_string());
            optuna_version = Some(version);
        }
        let outcomes: Vec<RunOutcome> = runs
            .iter()
            .map(|r| self.outcome(r, &cells, &search_frame, &test_frame))
            .collect();
        let summaries = labels
            .iter()
            .map(|l| self.summarise(l, &outcomes))
            .collect();
        let mut curves = Vec::new();
        for l in &labels {
            let mine: Vec<&RunOutcome> = outcomes.iter().filter(|o| &o.strategy == l).collect();
            for k in 0..self.curve_points.max(1) {
                let at: Vec<f64> = mine.iter().map(|o| o.curve[k]).collect();
                curves.push(CurvePoint {
                    strategy: l.clone(),
                    x: self.budget_seconds * (k + 1) as f64 / self.curve_points.max(1) as f64,
                    mean_test_acc: mean(&at),
                    std_test_acc: std_dev(&at),
                    mean_valid_acc: f64::NAN,
                    runs: at.len(),
                });
            }
        }
        let xy = |c: &Cell| -> (f64, f64) {
            let get = |o: &Objective| c.metrics.get(&o.metric).unwrap_or(f64::NAN);
            (
                get(&self.objectives[0]),
                self.objectives.get(1).map_or(c.cost, get),
            )
        };
        let vecs: Vec<&[f64]> = feasible.iter().map(|&i| &cells[i].search[..]).collect();
        let true_front = pareto_front(&vecs)
            .into_iter()
            .map(|i| xy(&cells[feasible[i]]))
            .collect();
        let median_fronts = labels
            .iter()
            .filter_map(|l| {
                let mut mine: Vec<&RunOutcome> =
                    outcomes.iter().filter(|o| &o.strategy == l).collect();
                mine.sort_by(|a, b| a.hv_regret.total_cmp(&b.hv_regret));
                let median = mine.get(mine.len() / 2)?;
                Some((
                    format!("{l} (median run, seed {})", median.seed),
                    median.front.iter().map(|&i| xy(&cells[i])).collect(),
                ))
            })
            .collect();
        Ok(MoReport {
            dataset: self.dataset.name().to_string(),
            budget_seconds: self.budget_seconds,
            objectives: self.objectives.clone(),
            constraints: self.constraints.clone(),
            oracle: oracle(&cells, &feasible),
            search_frame,
            test_frame,
            summaries,
            wall_seconds: started.elapsed().as_secs_f64(),
            optuna_version,
            runs: outcomes,
            curves,
            true_front,
            median_fronts,
        })
    }

    fn outcome(&self, run: &Run, cells: &[Cell], search: &Frame, test: &Frame) -> RunOutcome {
        let front_of = |upto: usize| -> Vec<usize> {
            let mut seen = std::collections::HashSet::new();
            let ids: Vec<usize> = run.steps[..upto]
                .iter()
                .map(|s| s.0)
                .filter(|&i| cells[i].feasible && seen.insert(i))
                .collect();
            let vecs: Vec<&[f64]> = ids.iter().map(|&i| &cells[i].search[..]).collect();
            pareto_front(&vecs).into_iter().map(|k| ids[k]).collect()
        };
        let regret = |front: &[usize], frame: &Frame, test: bool| {
            let vecs: Vec<&[f64]> = front.iter().map(|&i| cells[i].vector(test)).collect();
            frame.regret(&vecs)
        };
        let front = front_of(run.steps.len());
        let n = self.curve_points.max(1);
        let curve = (1..=n)
            .map(|k| {
                let t = self.budget_seconds * k as f64 / n as f64;
                let upto = run.steps.iter().take_while(|s| s.1 <= t).count();
                regret(&front_of(upto), search, false)
            })
            .collect();
        let total = run.steps.last().map_or(0.0, |s| s.1);
        let mut feasible_seconds = 0.0;
        let mut before = 0.0;
        for &(i, sim) in &run.steps {
            if cells[i].feasible {
                feasible_seconds += sim - before;
            }
            before = sim;
        }
        let best = run
            .steps
            .iter()
            .map(|s| &cells[s.0])
            .filter(|c| c.feasible)
            .max_by(|a, b| a.search[0].total_cmp(&b.search[0]));
        RunOutcome {
            strategy: run.strategy.clone(),
            seed: run.seed,
            queries: run.steps.len() as u64,
            screened: run.screened,
            sim_seconds: total,
            hv_regret: regret(&front, search, false),
            test_hv_regret: regret(&front, test, true),
            front_size: front.len(),
            feasible_seconds_share: if total > 0.0 {
                feasible_seconds / total
            } else {
                f64::NAN
            },
            best_feasible_test_acc: best
                .and_then(|c| c.metrics.get(metric::TEST_ACC))
                .unwrap_or(f64::NAN),
            curve,
            front,
        }
    }

    fn summarise(&self, label: &str, outcomes: &[RunOutcome]) -> MoSummary {
        let mine: Vec<&RunOutcome> = outcomes.iter().filter(|o| o.strategy == label).collect();
        let col = |f: fn(&RunOutcome) -> f64| -> Vec<f64> { mine.iter().map(|o| f(o)).collect() };
        let hv = col(|o| o.hv_regret);
        let test = col(|o| o.test_hv_regret);
        let share = col(|o| o.feasible_seconds_share);
        let best = col(|o| o.best_feasible_test_acc);
        MoSummary {
            strategy: label.to_string(),
            dataset: self.dataset.name().to_string(),
            seeds: mine.len() as u64,
            budget_seconds: self.budget_seconds,
            mean_hv_regret: mean(&hv),
            std_hv_regret: std_dev(&hv),
            mean_test_hv_regret: mean(&test),
            std_test_hv_regret: std_dev(&test),
            mean_queries: mean(&col(|o| o.queries as f64)),
            mean_screened: mean(&col(|o| o.screened as f64)),
            mean_front_size: mean(&col(|o| o.front_size as f64)),
            mean_feasible_seconds_share: mean(&share),
            min_feasible_seconds_share: share.iter().copied().fold(f64::INFINITY, f64::min),
            mean_best_feasible_test_acc: mean(&best),
            std_best_feasible_test_acc: std_dev(&best),
        }
    }

    /// Runs the Optuna reference script on the same cells, budget, seeds and clock.
    fn run_optuna(
        &self,
        reference: &OptunaReference,
        cells: &[Cell],
        position: &HashMap<u32, usize>,
    ) -> Result<(Vec<Run>, String), BenchError> {
        if !self.constraints.is_empty() {
            return Err(BenchError::Invalid(
                "--optuna-python runs NSGA-II on the objectives only; drop the constraints to compare"
                    .into(),
            ));
        }
        std::fs::create_dir_all(&self.work_dir).map_err(|e| BenchError::io(&self.work_dir, e))?;
        let cells_path = self.work_dir.join("optuna_cells.csv");
        let runs_path = self.work_dir.join("optuna_runs.jsonl");
        let space = Nb201Space::default();
        let mut csv = String::from("index,arch,cost_seconds");
        for o in &self.objectives {
            let dir = match o.direction {
                Direction::Maximize => "max",
                Direction::Minimize => "min",
            };
            csv.push_str(&format!(",obj:{}:{dir}", o.metric));
        }
        csv.push('\n');
        for c in cells {
            csv.push_str(&format!("{},{},{}", c.index, space.format(&c.arch), c.cost));
            for o in &self.objectives {
                csv.push_str(&format!(
                    ",{}",
                    c.metrics.get(&o.metric).unwrap_or(f64::NAN)
                ));
            }
            csv.push('\n');
        }
        std::fs::write(&cells_path, csv).map_err(|e| BenchError::io(&cells_path, e))?;
        let output = std::process::Command::new(&reference.python)
            .arg(&reference.script)
            .arg("--cells")
            .arg(&cells_path)
            .arg("--budget-seconds")
            .arg(self.budget_seconds.to_string())
            .arg("--first-seed")
            .arg(self.first_seed.to_string())
            .arg("--seeds")
            .arg(self.seeds.to_string())
            .arg("--out")
            .arg(&runs_path)
            .output()
            .map_err(|e| {
                BenchError::Reference(format!("cannot start {}: {e}", reference.python.display()))
            })?;
        if !output.status.success() {
            return Err(BenchError::Reference(format!(
                "{} {} exited with {}: {}",
                reference.python.display(),
                reference.script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let text =
            std::fs::read_to_string(&runs_path).map_err(|e| BenchError::io(&runs_path, e))?;
        let mut runs = Vec::new();
        let mut version = String::new();
        for (n, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                BenchError::Reference(format!("{}:{}: {e}", runs_path.display(), n + 1))
            })?;
            let bad =
                || BenchError::Reference(format!("{}:{}: bad record", runs_path.display(), n + 1));
            let seed = v["seed"].as_u64().ok_or_else(bad)?;
            version = v["optuna"].as_str().unwrap_or("?").to_string();
            let mut sim = 0.0;
            let mut steps = Vec::new();
            for i in v["indices"].as_array().ok_or_else(bad)? {
                let Some(&p) = i
                    .as_i64()
                    .and_then(|i| u32::try_from(i).ok())
                    .and_then(|i| position.get(&i))
                else {
                    continue;
                };
                sim += cells[p].cost;
                steps.push((p, sim));
            }
            runs.push(Run {
                strategy: OPTUNA_LABEL.to_string(),
                seed,
                steps,
                screened: 0,
            });
        }
        if runs.len() as u64 != self.seeds {
            return Err(BenchError::Reference(format!(
                "{} holds {} runs, expected {}",
                runs_path.display(),
                runs.len(),
                self.seeds
            )));
        }
        Ok((runs, version))
    }
}

/// The feasible cell with the best first objective, and the best feasible test accuracy.
fn oracle(cells: &[Cell], feasible: &[usize]) -> FeasibleOracle {
    let space = Nb201Space::default();
    let best = feasible
        .iter()
        .map(|&i| &cells[i])
        .max_by(|a, b| a.search[0].total_cmp(&b.search[0]));
    let test = |c: &Cell| c.metrics.get(metric::TEST_ACC).unwrap_or(f64::NAN);
    FeasibleOracle {
        feasible_cells: feasible.len(),
        best_by_search_arch: best.map(|c| space.format(&c.arch)).unwrap_or_default(),
        best_by_search_test_acc: best.map_or(f64::NAN, test),
        best_test_acc: feasible
            .iter()
            .map(|&i| test(&cells[i]))
            .fold(f64::NEG_INFINITY, f64::max),
    }
}

impl MoReport {
    /// The table printed by `archer bench nb201 --objectives ...`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let objs: Vec<String> = self
            .objectives
            .iter()
            .map(|o| {
                format!(
                    "{}:{}",
                    o.metric,
                    if o.direction == Direction::Maximize {
                        "max"
                    } else {
                        "min"
                    }
                )
            })
            .collect();
        out.push_str(&format!(
            "NAS-Bench-201 {} | objectives {} | budget {:.0} simulated s | {} seeds per strategy | wall {:.2} s\n",
            self.dataset,
            objs.join(", "),
            self.budget_seconds,
            self.summaries.first().map_or(0, |s| s.seeds),
            self.wall_seconds
        ));
        if !self.constraints.is_empty() {
            let c: Vec<String> = self.constraints.iter().map(Constraint::describe).collect();
            out.push_str(&format!(
                "constraints: {} ({} of the table's cells are feasible)\n",
                c.join(", "),
                self.oracle.feasible_cells
            ));
        }
        out.push('\n');
        let pm = |m: f64, s: f64| format!("{m:.4} ± {s:.4}");
        let constrained = !self.constraints.is_empty();
        // With one objective a front is one point and its hypervolume says nothing.
        let multi = self.objectives.len() > 1;
        out.push_str(&format!("{:<16}", "strategy"));
        if multi {
            out.push_str(&format!(
                " {:>17} {:>17} {:>7}",
                "hv_regret", "test hv_regret", "front"
            ));
        }
        out.push_str(&format!(" {:>8} {:>8}", "queries", "screened"));
        if constrained {
            out.push_str(&format!(
                " {:>16} {:>14}",
                "best feas. test", "feasible time"
            ));
        }
        out.push('\n');
        for s in &self.summaries {
            out.push_str(&format!("{:<16}", s.strategy));
            if multi {
                out.push_str(&format!(
                    " {:>17} {:>17} {:>7.1}",
                    pm(s.mean_hv_regret, s.std_hv_regret),
                    pm(s.mean_test_hv_regret, s.std_test_hv_regret),
                    s.mean_front_size
                ));
            }
            out.push_str(&format!(
                " {:>8.1} {:>8.1}",
                s.mean_queries, s.mean_screened
            ));
            if constrained {
                out.push_str(&format!(
                    " {:>16} {:>13.1}%",
                    format!(
                        "{:.2} ± {:.2}",
                        s.mean_best_feasible_test_acc, s.std_best_feasible_test_acc
                    ),
                    100.0 * s.mean_feasible_seconds_share
                ));
            }
            out.push('\n');
        }
        let f = &self.search_frame;
        if multi {
            out.push_str(&format!(
            "\nTrue front: {} cells; ideal {:?}, nadir {:?} (oriented, higher = better) on {}; reference point {} on every scaled, minimised axis; HV {:.4}\n",
            f.true_front_size, f.ideal, f.nadir, f.metrics.join(", "), f.reference, f.true_hv
        ));
        }
        if constrained {
            out.push_str(&format!(
                "Best feasible cell by {}: test {:.2} ({}); best feasible test accuracy {:.2}\n",
                self.objectives[0].metric,
                self.oracle.best_by_search_test_acc,
                self.oracle.best_by_search_arch,
                self.oracle.best_test_acc
            ));
        }
        if let Some(v) = &self.optuna_version {
            out.push_str(&format!(
                "{OPTUNA_LABEL}: Optuna {v} NSGAIISampler with its defaults (population 50), the same cells, budget, seeds and clock; no de-duplication (a repeated cell is charged again)\n"
            ));
        }
        out.push_str(
            "hv_regret = 1 - HV(front found)/HV(true front), objectives scaled by the true front's ideal and nadir;\n\
             test hv_regret scores the returned front on test accuracy against the true test front.\n\
             A query charges 12 epochs of recorded training time; screened proposals broke a constraint known before\n\
             evaluation and cost nothing.\n",
        );
        out
    }

    /// Writes `summary.json`, `runs.csv`, `anytime_hv_regret.{csv,svg}` and `front.svg`
    /// (the median run of each strategy against the true front, first two objectives).
    pub fn write(&self, dir: &Path) -> Result<(), BenchError> {
        let write = |name: &str, text: String| crate::stats::write_file(dir, name, text);
        let summary = serde_json::to_string_pretty(self)
            .map_err(|e| BenchError::Invalid(format!("summary.json: {e}")))?;
        write("summary.json", summary + "\n")?;
        let mut runs = String::from(
            "strategy,seed,queries,screened,sim_seconds,hv_regret,test_hv_regret,front_size,feasible_seconds_share,best_feasible_test_acc\n",
        );
        for r in &self.runs {
            runs.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                r.strategy,
                r.seed,
                r.queries,
                r.screened,
                r.sim_seconds,
                r.hv_regret,
                r.test_hv_regret,
                r.front_size,
                r.feasible_seconds_share,
                r.best_feasible_test_acc
            ));
        }
        write("runs.csv", runs)?;
        let mut curve = String::from("strategy,sim_seconds,mean_hv_regret,std_hv_regret,runs\n");
        for p in &self.curves {
            curve.push_str(&format!(
                "{},{},{},{},{}\n",
                p.strategy, p.x, p.mean_test_acc, p.std_test_acc, p.runs
            ));
        }
        write("anytime_hv_regret.csv", curve)?;
        crate::plot::anytime_svg(
            &dir.join("anytime_hv_regret.svg"),
            &format!(
                "NAS-Bench-201 {}: HV regret by simulated time (mean ± std)",
                self.dataset
            ),
            "simulated seconds",
            "hypervolume regret",
            &self.curves,
        )?;
        let label = |k: usize| {
            self.objectives
                .get(k)
                .map_or("simulated seconds per query".to_string(), |o| {
                    o.metric.clone()
                })
        };
        let mut series = vec![FrontSeries {
            label: "true front".into(),
            points: &self.true_front,
            line: true,
        }];
        for (l, pts) in &self.median_fronts {
            series.push(FrontSeries {
                label: l.clone(),
                points: pts,
                line: false,
            });
        }
        crate::plot::front_svg(
            &dir.join("front.svg"),
            &format!(
                "NAS-Bench-201 {}: median runs' fronts against the true front",
                self.dataset
            ),
            &label(0),
            &label(1),
            &series,
        )
    }
}

/// A constraint `METRIC:max:VALUE` or `METRIC:min:VALUE`, where VALUE may be `pNN`, the NN-th
/// percentile of the metric over the table's cells.
pub fn parse_constraint(
    text: &str,
    table: &Arc<Nb201Table>,
    dataset: Nb201Dataset,
) -> Result<Constraint, BenchError> {
    let bad = |why: &str| {
        BenchError::Invalid(format!(
            "--constraint {text:?}: {why}; write METRIC:max:VALUE or METRIC:min:VALUE (VALUE a number or pNN, a percentile over the table)"
        ))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let [metric, bound, value] = parts[..] else {
        return Err(bad("expected three parts"));
    };
    let v = if let Some(p) = value.strip_prefix('p') {
        let q: f64 = p.parse().map_err(|_| bad("bad percentile"))?;
        if !(0.0..=100.0).contains(&q) {
            return Err(bad("a percentile is 0 to 100"));
        }
        let evaluator = Nb201Evaluator::new(
            table.clone(),
            dataset,
            12,
            latency_devices(std::iter::once(metric.to_string())),
        )
        .map_err(|e| BenchError::Invalid(format!("--constraint {text:?}: {e}")))?;
        let mut values: Vec<f64> = table
            .iter()
            .filter_map(|(arch, _)| {
                let mut ctx = TrialCtx::new(0, 0);
                evaluator
                    .evaluate(arch, &Fidelity::full(), &mut ctx)
                    .ok()?
                    .get(metric)
            })
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return Err(bad(&format!("the table has no {metric:?} values")));
        }
        values.sort_by(f64::total_cmp);
        // Nearest-rank percentile.
        let rank = ((q / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
        values[rank.min(values.len()) - 1]
    } else {
        value.parse().map_err(|_| bad("bad number"))?
    };
    let (min, max) = match bound {
        "max" => (None, Some(v)),
        "min" => (Some(v), None),
        _ => return Err(bad("the bound is max or min")),
    };
    Ok(Constraint {
        metric: metric.to_string(),
        min,
        max,
    })
}
