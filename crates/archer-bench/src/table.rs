//! `archer bench table`: strategies × seeds on a user's results table (an experiment with
//! `[evaluator] kind = "table"`), on the simulated clock, reporting a held-out column of each
//! run's incumbent.

use std::time::Instant;

use archer_core::Direction;
use archer_eval::{ResultsTable, TableSettings};
use archer_runner::{Budget, Experiment, NullRecorder, Study};
use archer_strategy::StrategyConfig;
use serde::Serialize;

use crate::stats::{anytime, run_jobs};
use crate::{mean, std_dev, BenchError};

/// What to run.
pub struct TableBench {
    /// The validated experiment: its space, table evaluator and objective; each run
    /// replaces the strategy, the seed and (with `budget_seconds`) the budget.
    pub experiment: Experiment,
    /// Strategies with the labels they are reported under (unique).
    pub strategies: Vec<(String, StrategyConfig)>,
    /// Runs use seeds `first_seed .. first_seed + seeds`.
    pub seeds: u64,
    pub first_seed: u64,
    /// Simulated seconds per run; `None`: the experiment's own `[budget]`.
    pub budget_seconds: Option<f64>,
    /// The metric column reported for each run's incumbent (typically held out).
    pub report: String,
    pub threads: usize,
    /// Points of the anytime curve over simulated time.
    pub curve_points: usize,
}

/// One run's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct TableRun {
    pub strategy: String,
    pub seed: u64,
    pub queries: u64,
    pub sim_seconds: f64,
    pub objective: f64,
    pub report: f64,
    pub arch: String,
    #[serde(skip)]
    pub trajectory: Vec<(u64, f64, f64, f64)>,
}

/// Per-strategy summary; `--json` prints these.
#[derive(Clone, Debug, Serialize)]
pub struct TableSummary {
    pub strategy: String,
    pub seeds: u64,
    pub mean_report: f64,
    pub std_report: f64,
    pub mean_objective: f64,
    pub std_objective: f64,
    pub mean_queries: f64,
}

/// The table's best: the row a perfect search by the objective returns, and the best
/// reported value of any row.
#[derive(Clone, Debug, Serialize)]
pub struct TableOracle {
    pub best_objective_arch: String,
    pub best_objective: f64,
    pub best_objective_report: f64,
    /// The best value of the reported column, in its own direction.
    pub best_report: f64,
    pub rows: usize,
}

/// One point of a mean anytime curve.
#[derive(Clone, Debug, Serialize)]
pub struct TableCurvePoint {
    pub strategy: String,
    pub x: f64,
    pub mean_report: f64,
    pub std_report: f64,
    pub mean_objective: f64,
    pub runs: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableBenchReport {
    pub study: String,
    pub table: String,
    pub objective: String,
    pub report: String,
    pub budget: Budget,
    pub summaries: Vec<TableSummary>,
    pub oracle: TableOracle,
    pub wall_seconds: f64,
    pub curve_seconds: Vec<TableCurvePoint>,
    pub curve_queries: Vec<TableCurvePoint>,
    #[serde(skip)]
    pub runs: Vec<TableRun>,
}

impl TableBench {
    fn budget(&self) -> Budget {
        match self.budget_seconds {
            Some(s) => Budget {
                trials: None,
                sim_seconds: Some(s),
                wall_seconds: None,
            },
            None => self.experiment.config.budget.clone(),
        }
    }

    fn run_one(
        &self,
        label: &str,
        strategy: &StrategyConfig,
        seed: u64,
    ) -> Result<TableRun, BenchError> {
        let mut e = self.experiment.clone();
        e.config.strategy = strategy.clone();
        e.config.study.seed = seed;
        e.config.study.name = format!("bench-{label}-{seed}");
        e.config.budget = self.budget();
        let objective = e.primary().metric.clone();
        let summary = Study::new(e)?.run(&mut NullRecorder, &mut |_| {})?;
        let get = |m: &archer_core::Metrics, k: &str| m.get(k).unwrap_or(f64::NAN);
        let best = summary.best.as_ref();
        Ok(TableRun {
            strategy: label.to_string(),
            seed,
            queries: summary.trials,
            sim_seconds: summary.sim_seconds,
            objective: best.map_or(f64::NAN, |b| get(&b.metrics, &objective)),
            report: best.map_or(f64::NAN, |b| get(&b.metrics, &self.report)),
            arch: best
                .map(|b| self.experiment.space.format(&b.arch))
                .unwrap_or_default(),
            trajectory: crate::stats::trajectory(&summary, &objective, &self.report),
        })
    }

    /// Runs every strategy × seed on `threads` threads; results do not depend on the
    /// number of threads.
    pub fn run(&self) -> Result<TableBenchReport, BenchError> {
        let started = Instant::now();
        let settings: TableSettings = self
            .experiment
            .config
            .evaluator
            .typed("table")
            .ok_or_else(|| {
                BenchError::Invalid(format!(
                    "bench table needs an experiment with [evaluator] kind = \"table\", not {:?}",
                    self.experiment.config.evaluator.kind
                ))
            })?
            .map_err(archer_runner::ConfigError::from)?;
        let table = ResultsTable::load(
            &settings.table,
            self.experiment.space.as_ref(),
            &settings.spec(),
        )
        .map_err(|e| archer_runner::ConfigError::from(archer_eval::EvalError::from(e)))?;
        if table.metric_index(&self.report).is_none() {
            return Err(BenchError::Invalid(format!(
                "--report {:?} is not a metric column of {}; metric columns: {}",
                self.report,
                table.path().display(),
                table.metric_names().join(", ")
            )));
        }
        let jobs: Vec<(usize, u64)> = (0..self.strategies.len())
            .flat_map(|s| (0..self.seeds).map(move |k| (s, k)))
            .collect();
        let runs = run_jobs(&jobs, self.threads, |&(s, k)| {
            let (label, config) = &self.strategies[s];
            self.run_one(label, config, self.first_seed + k)
        })?;
        let summaries = self
            .strategies
            .iter()
            .map(|(label, _)| summarise(label, &runs))
            .collect();
        let budget = self.budget();
        let mut curve_seconds = Vec::new();
        let mut curve_queries = Vec::new();
        for (label, _) in &self.strategies {
            let mine: Vec<&[(u64, f64, f64, f64)]> = runs
                .iter()
                .filter(|r| &r.strategy == label)
                .map(|r| r.trajectory.as_slice())
                .collect();
            if let Some(total) = budget.sim_seconds {
                let n = self.curve_points.max(1);
                let xs = (1..=n).map(|k| total * k as f64 / n as f64);
                curve_seconds.extend(points(label, anytime(&mine, xs, |p| p.1)));
            }
            let max_q = mine
                .iter()
                .filter_map(|t| t.last().map(|p| p.0))
                .max()
                .unwrap_or(0);
            let xs = (1..=max_q).map(|q| q as f64);
            curve_queries.extend(points(label, anytime(&mine, xs, |p| p.0 as f64)));
        }
        let oracle = self.oracle(&table)?;
        Ok(TableBenchReport {
            study: self.experiment.config.study.name.clone(),
            table: table.path().display().to_string(),
            objective: self.experiment.primary().metric.clone(),
            report: self.report.clone(),
            budget,
            summaries,
            oracle,
            wall_seconds: started.elapsed().as_secs_f64(),
            curve_seconds,
            curve_queries,
            runs,
        })
    }

    fn oracle(&self, table: &ResultsTable) -> Result<TableOracle, BenchError> {
        let objective = self.experiment.primary();
        let o = table.metric_index(&objective.metric).ok_or_else(|| {
            BenchError::Invalid(format!(
                "the objective {:?} is not a table column",
                objective.metric
            ))
        })?;
        let r = table.metric_index(&self.report).unwrap_or(o);
        let sign = match objective.direction {
            Direction::Maximize => 1.0,
            Direction::Minimize => -1.0,
        };
        // Every row was checked against the space when the table was read.
        let members = table.rows();
        let best = members
            .iter()
            .filter(|row| row.values[o].is_finite())
            .max_by(|a, b| (sign * a.values[o]).total_cmp(&(sign * b.values[o])))
            .ok_or_else(|| BenchError::Invalid("no row of the table has the objective".into()))?;
        // The report's own direction, as the evaluator declares it (a test error is minimised).
        let report_sign = match self
            .experiment
            .evaluator
            .metrics()
            .iter()
            .find(|m| m.name == self.report)
            .map(|m| m.direction)
        {
            Some(Direction::Minimize) => -1.0,
            _ => 1.0,
        };
        let best_report = report_sign
            * members
                .iter()
                .map(|row| report_sign * row.values[r])
                .filter(|v| v.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
        Ok(TableOracle {
            best_objective_arch: self.experiment.space.format(&best.arch),
            best_objective: best.values[o],
            best_objective_report: best.values[r],
            best_report,
            rows: members.len(),
        })
    }
}

fn points(strategy: &str, curve: Vec<crate::stats::AnytimePoint>) -> Vec<TableCurvePoint> {
    curve
        .into_iter()
        .map(|p| TableCurvePoint {
            strategy: strategy.to_string(),
            x: p.x,
            mean_report: p.mean_second,
            std_report: p.std_second,
            mean_objective: p.mean_first,
            runs: p.runs,
        })
        .collect()
}

fn summarise(strategy: &str, runs: &[TableRun]) -> TableSummary {
    let mine: Vec<&TableRun> = runs.iter().filter(|r| r.strategy == strategy).collect();
    let report: Vec<f64> = mine.iter().map(|r| r.report).collect();
    let objective: Vec<f64> = mine.iter().map(|r| r.objective).collect();
    let queries: Vec<f64> = mine.iter().map(|r| r.queries as f64).collect();
    TableSummary {
        strategy: strategy.to_string(),
        seeds: mine.len() as u64,
        mean_report: mean(&report),
        std_report: std_dev(&report),
        mean_objective: mean(&objective),
        std_objective: std_dev(&objective),
        mean_queries: mean(&queries),
    }
}

impl TableBenchReport {
    /// The table `archer bench table` prints.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} | table {} | objective {} | report {} | budget {} | {} seeds per strategy | wall {:.1} s\n\n",
            self.study,
            self.table,
            self.objective,
            self.report,
            match (self.budget.sim_seconds, self.budget.trials) {
                (Some(s), _) => format!("{s} simulated s"),
                (None, Some(t)) => format!("{t} trials"),
                _ => "the experiment's".to_string(),
            },
            self.summaries.first().map_or(0, |s| s.seeds),
            self.wall_seconds
        );
        out.push_str(&format!(
            "{:<12} {:>20} {:>20} {:>9}\n",
            "strategy",
            self.report.as_str(),
            self.objective.as_str(),
            "queries"
        ));
        for s in &self.summaries {
            out.push_str(&format!(
                "{:<12} {:>20} {:>20} {:>9.1}\n",
                s.strategy,
                format!("{:.4} ± {:.4}", s.mean_report, s.std_report),
                format!("{:.4} ± {:.4}", s.mean_objective, s.std_objective),
                s.mean_queries
            ));
        }
        out.push_str(&format!(
            "\nbest row by {} ({} rows): {} = {:.4}, {} = {:.4}; best {} of any row: {:.4}\n  {}\n",
            self.objective,
            self.oracle.rows,
            self.objective,
            self.oracle.best_objective,
            self.report,
            self.oracle.best_objective_report,
            self.report,
            self.oracle.best_report,
            self.oracle.best_objective_arch
        ));
        out
    }
}

impl TableBenchReport {
    /// Writes `summary.json` (everything but the runs), `runs.csv` and the anytime curves
    /// (`anytime_seconds.csv`, `anytime_queries.csv`) to `dir`.
    pub fn write(&self, dir: &std::path::Path) -> Result<(), BenchError> {
        let write = |name: &str, text: String| crate::stats::write_file(dir, name, text);
        write(
            "summary.json",
            serde_json::to_string_pretty(self).expect("plain data") + "\n",
        )?;
        let csv_text = |rows: Vec<Vec<String>>| -> Result<String, BenchError> {
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in rows {
                w.write_record(&r)
                    .map_err(|e| BenchError::Invalid(format!("writing CSV: {e}")))?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| BenchError::Invalid(format!("writing CSV: {e}")))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let mut runs = vec![vec![
            "strategy".to_string(),
            "seed".into(),
            "queries".into(),
            "sim_seconds".into(),
            self.objective.clone(),
            self.report.clone(),
            "arch".into(),
        ]];
        for r in &self.runs {
            runs.push(vec![
                r.strategy.clone(),
                r.seed.to_string(),
                r.queries.to_string(),
                r.sim_seconds.to_string(),
                r.objective.to_string(),
                r.report.to_string(),
                r.arch.clone(),
            ]);
        }
        write("runs.csv", csv_text(runs)?)?;
        let curve = |x: &str, points: &[TableCurvePoint]| {
            let mut rows = vec![vec![
                "strategy".to_string(),
                x.to_string(),
                "mean_report".into(),
                "std_report".into(),
                "mean_objective".into(),
                "runs".into(),
            ]];
            for p in points {
                rows.push(vec![
                    p.strategy.clone(),
                    p.x.to_string(),
                    p.mean_report.to_string(),
                    p.std_report.to_string(),
                    p.mean_objective.to_string(),
                    p.runs.to_string(),
                ]);
            }
            csv_text(rows)
        };
        write(
            "anytime_seconds.csv",
            curve("sim_seconds", &self.curve_seconds)?,
        )?;
        write(
            "anytime_queries.csv",
            curve("queries", &self.curve_queries)?,
        )?;
        Ok(())
    }
}
