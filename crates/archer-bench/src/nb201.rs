//! `archer bench nb201`: strategies × seeds on the NAS-Bench-201 table, on a simulated clock,
//! summarised beside the published figures (single objective; [`crate::mo`] has the
//! multi-objective bench).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use archer_core::{metric, Objective};
use archer_eval::{EvaluatorConfig, Nb201Dataset, Nb201Evaluator, Nb201Table, Nb201ZeroCost};
use archer_space::{Nb201Space, SearchSpace, SpaceConfig};
use archer_strategy::StrategyConfig;
use serde::Serialize;

use archer_runner::{Budget, Experiment, ExperimentConfig, NullRecorder, Study, StudySection};

use crate::{mean, std_dev, BenchError};

/// What to run.
pub struct Nb201Bench {
    pub table: Arc<Nb201Table>,
    pub dataset: Nb201Dataset,
    /// Strategies with the labels they are reported under (unique).
    pub strategies: Vec<(String, StrategyConfig)>,
    /// Runs use seeds `first_seed .. first_seed + seeds`.
    pub seeds: u64,
    pub first_seed: u64,
    pub budget_seconds: f64,
    pub deduplicate: bool,
    pub threads: usize,
    /// Points of the anytime curve over simulated time.
    pub curve_points: usize,
    /// Zero-cost proxy scores, for strategies with a warm start (`+zc`).
    pub zero_cost: Option<Arc<Nb201ZeroCost>>,
    /// Time `ask` of every strategy once this many architectures are evaluated
    /// (0: skip).
    pub ask_timing_at: usize,
}

/// How long one strategy's `ask` takes with `evaluated` architectures evaluated: over the
/// asks number `evaluated + 1 ..= evaluated + asks` of one run.
#[derive(Clone, Debug, Serialize)]
pub struct AskTiming {
    pub strategy: String,
    pub evaluated: usize,
    pub asks: usize,
    pub median_ms: f64,
    pub max_ms: f64,
}

/// One run's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    pub strategy: String,
    pub seed: u64,
    pub queries: u64,
    pub sim_seconds: f64,
    pub valid_acc: f64,
    pub test_acc: f64,
    pub arch_str: String,
    /// The returned architecture's (valid, test) accuracy on every dataset, in
    /// [`Nb201Dataset::ALL`] order: NB201 reports an architecture found on CIFAR-10 on all three.
    pub by_dataset: [(f64, f64); 3],
    /// `(finished trials, sim seconds, incumbent valid, incumbent test)` after each trial.
    #[serde(skip)]
    pub trajectory: Vec<(u64, f64, f64, f64)>,
}

/// A published result: mean and std of validation and test accuracy.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Published {
    pub method: &'static str,
    pub valid: (f64, f64),
    pub test: (f64, f64),
    /// The source marks the figure as not re-verified.
    pub unverified: bool,
}

/// Per-strategy summary; the `--json` output is a list of these.
#[derive(Clone, Debug, Serialize)]
pub struct StrategySummary {
    pub strategy: String,
    pub dataset: String,
    pub seeds: u64,
    pub budget_seconds: f64,
    pub mean_test_acc: f64,
    pub std_test_acc: f64,
    pub mean_valid_acc: f64,
    pub std_valid_acc: f64,
    pub mean_queries: f64,
    pub min_queries: u64,
    pub max_queries: u64,
    pub published: Option<Published>,
    /// (ours − published mean test) / published test std, when published.
    pub test_gap_in_published_std: Option<f64>,
    /// The returned architectures on every dataset (for a CIFAR-10 search, the NB201
    /// protocol's CIFAR-100 and ImageNet16-120 columns).
    pub on_datasets: Vec<DatasetResult>,
}

/// The returned architectures' accuracy on one dataset.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetResult {
    pub dataset: String,
    pub mean_valid_acc: f64,
    pub mean_test_acc: f64,
    pub std_test_acc: f64,
    pub published: Option<Published>,
}

/// The best the table allows: the architecture with the best validation accuracy (what a
/// perfect search returns) and the best test accuracy.
#[derive(Clone, Debug, Serialize)]
pub struct Oracle {
    pub best_valid_arch: String,
    pub best_valid_valid_acc: f64,
    pub best_valid_test_acc: f64,
    pub best_test_acc: f64,
}

/// One point of a mean anytime curve.
#[derive(Clone, Debug, Serialize)]
pub struct CurvePoint {
    pub strategy: String,
    pub x: f64,
    pub mean_test_acc: f64,
    pub std_test_acc: f64,
    pub mean_valid_acc: f64,
    pub runs: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub dataset: String,
    pub budget_seconds: f64,
    pub summaries: Vec<StrategySummary>,
    pub oracle: Oracle,
    pub ask_timing: Vec<AskTiming>,
    pub wall_seconds: f64,
    #[serde(skip)]
    pub runs: Vec<RunOutcome>,
    #[serde(skip)]
    pub curve_seconds: Vec<CurvePoint>,
    #[serde(skip)]
    pub curve_queries: Vec<CurvePoint>,
}

/// NAS-Bench-201 (Dong & Yang 2020, Table 5), as collected in the project's RESULTS.md:
/// mean ± std over 500 runs, 12,000 s budget. The search ran on CIFAR-10 (`cifar10-valid`)
/// and the found architecture is reported on each `dataset`.
pub fn published(strategy: &str, dataset: Nb201Dataset) -> Option<Published> {
    let method = match strategy {
        "random" => "RS",
        "rea" => "REA",
        "reinforce" => "REINFORCE",
        _ => return None,
    };
    let (valid, test) = match (method, dataset) {
        ("REA", Nb201Dataset::Cifar10) => ((91.19, 0.31), (93.92, 0.30)),
        ("REA", Nb201Dataset::Cifar100) => ((71.81, 1.12), (71.84, 0.99)),
        ("REA", Nb201Dataset::ImageNet16) => ((45.15, 0.89), (45.54, 1.03)),
        ("RS", Nb201Dataset::Cifar10) => ((90.93, 0.36), (93.70, 0.36)),
        ("RS", Nb201Dataset::Cifar100) => ((70.93, 1.09), (71.04, 1.07)),
        ("RS", Nb201Dataset::ImageNet16) => ((44.45, 1.10), (44.57, 1.25)),
        ("REINFORCE", Nb201Dataset::Cifar10) => ((91.09, 0.37), (93.85, 0.37)),
        ("REINFORCE", Nb201Dataset::Cifar100) => ((71.61, 1.12), (71.71, 1.09)),
        ("REINFORCE", Nb201Dataset::ImageNet16) => ((45.05, 1.02), (45.24, 1.18)),
        _ => return None,
    };
    Some(Published {
        method,
        valid,
        test,
        unverified: true,
    })
}

/// The published optimum (valid, test) per dataset.
pub fn published_optimum(dataset: Nb201Dataset) -> (f64, f64) {
    match dataset {
        Nb201Dataset::Cifar10 => (91.61, 94.37),
        Nb201Dataset::Cifar100 => (73.49, 73.51),
        Nb201Dataset::ImageNet16 => (46.77, 47.31),
    }
}

impl Nb201Bench {
    fn experiment(
        &self,
        strategy: &StrategyConfig,
        seed: u64,
        space: &Arc<dyn SearchSpace>,
    ) -> Result<Experiment, BenchError> {
        let evaluator = Nb201Evaluator::new(self.table.clone(), self.dataset, 12, Vec::new())
            .map_err(archer_runner::ConfigError::from)?;
        let config = ExperimentConfig {
            study: StudySection {
                name: format!("bench-{}-{seed}", strategy.name()),
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
                    latency_table: None,
                    latency_devices: None,
                    dataset: self.dataset,
                    epochs: 12,
                    wall_seconds_per_query: 0.0,
                    zero_cost_table: self.zero_cost.as_ref().map(|z| z.path().to_path_buf()),
                    zero_cost_proxy: self.zero_cost.as_ref().map(|z| z.proxy().to_string()),
                },
            )
            .map_err(archer_runner::ConfigError::from)?,
            objective: Default::default(),
            constraint: Vec::new(),
            budget: Budget {
                trials: None,
                sim_seconds: Some(self.budget_seconds),
                wall_seconds: None,
            },
            retrain: None,
        };
        Ok(Experiment {
            config,
            space: space.clone(),
            evaluator: Arc::new(evaluator),
            zero_cost: self
                .zero_cost
                .clone()
                .map(|z| z as Arc<dyn archer_eval::ZeroCostProxy>),
            objectives: vec![Objective::maximize(metric::VALID_ACC)],
            constraints: Vec::new(),
        })
    }

    fn run_one(
        &self,
        label: &str,
        strategy: &StrategyConfig,
        seed: u64,
        space: &Arc<dyn SearchSpace>,
    ) -> Result<RunOutcome, BenchError> {
        let mut study = Study::new(self.experiment(strategy, seed, space)?)?;
        let summary = study.run(&mut NullRecorder, &mut |_| {})?;
        let get = |m: &archer_core::Metrics, k: &str| m.get(k).unwrap_or(f64::NAN);
        let best = summary.best.as_ref();
        Ok(RunOutcome {
            strategy: label.to_string(),
            seed,
            queries: summary.trials,
            sim_seconds: summary.sim_seconds,
            valid_acc: best.map_or(f64::NAN, |b| get(&b.metrics, metric::VALID_ACC)),
            test_acc: best.map_or(f64::NAN, |b| get(&b.metrics, metric::TEST_ACC)),
            arch_str: best.map(|b| space.format(&b.arch)).unwrap_or_default(),
            by_dataset: Nb201Dataset::ALL.map(|d| {
                best.and_then(|b| self.table.record(&b.arch, d))
                    .map_or((f64::NAN, f64::NAN), |r| (r.valid_acc, r.test_acc))
            }),
            trajectory: crate::stats::trajectory(&summary, metric::VALID_ACC, metric::TEST_ACC),
        })
    }

    /// Runs every strategy × seed on `threads` threads. Results do not depend on the
    /// number of threads.
    pub fn run(&self) -> Result<BenchReport, BenchError> {
        let started = Instant::now();
        let space: Arc<dyn SearchSpace> = Arc::new(Nb201Space::default());
        let jobs: Vec<(usize, u64)> = (0..self.strategies.len())
            .flat_map(|s| (0..self.seeds).map(move |k| (s, k)))
            .collect();
        let runs: Vec<RunOutcome> = crate::stats::run_jobs(&jobs, self.threads, |&(s, k)| {
            let (label, config) = &self.strategies[s];
            self.run_one(label, config, self.first_seed + k, &space)
        })?;
        let summaries = self
            .strategies
            .iter()
            .map(|(label, _)| self.summarise(label, &runs))
            .collect();
        let mut curve_seconds = Vec::new();
        let mut curve_queries = Vec::new();
        for (label, _) in &self.strategies {
            let mine: Vec<&RunOutcome> = runs.iter().filter(|r| &r.strategy == label).collect();
            curve_seconds.extend(self.curve_over_seconds(label, &mine));
            curve_queries.extend(curve_over_queries(label, &mine));
        }
        let mut ask_timing = Vec::new();
        if self.ask_timing_at > 0 {
            for (label, s) in &self.strategies {
                ask_timing.push(self.time_asks(label, s, &space)?);
            }
        }
        Ok(BenchReport {
            dataset: self.dataset.name().to_string(),
            budget_seconds: self.budget_seconds,
            summaries,
            oracle: oracle(&self.table, self.dataset),
            ask_timing,
            wall_seconds: started.elapsed().as_secs_f64(),
            runs,
            curve_seconds,
            curve_queries,
        })
    }

    /// One run of `strategy` (first seed, no time budget) to `ask_timing_at` + 10 trials,
    /// timing the last 10 asks.
    fn time_asks(
        &self,
        label: &str,
        strategy: &StrategyConfig,
        space: &Arc<dyn SearchSpace>,
    ) -> Result<AskTiming, BenchError> {
        const ASKS: usize = 10;
        let mut experiment = self.experiment(strategy, self.first_seed, space)?;
        experiment.config.budget = Budget {
            trials: Some((self.ask_timing_at + ASKS) as u64),
            sim_seconds: None,
            wall_seconds: None,
        };
        let summary = Study::new(experiment)?.run(&mut NullRecorder, &mut |_| {})?;
        let mut ms: Vec<f64> = summary
            .ask_seconds
            .iter()
            .skip(self.ask_timing_at)
            .map(|s| s * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        Ok(AskTiming {
            strategy: label.to_string(),
            evaluated: self.ask_timing_at,
            asks: ms.len(),
            median_ms: ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN),
            max_ms: ms.last().copied().unwrap_or(f64::NAN),
        })
    }

    fn summarise(&self, strategy: &str, runs: &[RunOutcome]) -> StrategySummary {
        let mine: Vec<&RunOutcome> = runs.iter().filter(|r| r.strategy == strategy).collect();
        let test: Vec<f64> = mine.iter().map(|r| r.test_acc).collect();
        let valid: Vec<f64> = mine.iter().map(|r| r.valid_acc).collect();
        let queries: Vec<f64> = mine.iter().map(|r| r.queries as f64).collect();
        // Published figures come from searching on CIFAR-10; other searches have none.
        let searched_on_cifar10 = self.dataset == Nb201Dataset::Cifar10;
        let published_for = |d| {
            if searched_on_cifar10 {
                published(strategy, d)
            } else {
                None
            }
        };
        let published = published_for(self.dataset);
        let mean_test = mean(&test);
        let on_datasets = Nb201Dataset::ALL
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let t: Vec<f64> = mine.iter().map(|r| r.by_dataset[i].1).collect();
                let v: Vec<f64> = mine.iter().map(|r| r.by_dataset[i].0).collect();
                DatasetResult {
                    dataset: d.name().to_string(),
                    mean_valid_acc: mean(&v),
                    mean_test_acc: mean(&t),
                    std_test_acc: std_dev(&t),
                    published: published_for(d),
                }
            })
            .collect();
        StrategySummary {
            strategy: strategy.to_string(),
            dataset: self.dataset.name().to_string(),
            seeds: mine.len() as u64,
            budget_seconds: self.budget_seconds,
            mean_test_acc: mean_test,
            std_test_acc: std_dev(&test),
            mean_valid_acc: mean(&valid),
            std_valid_acc: std_dev(&valid),
            mean_queries: mean(&queries),
            min_queries: mine.iter().map(|r| r.queries).min().unwrap_or(0),
            max_queries: mine.iter().map(|r| r.queries).max().unwrap_or(0),
            published,
            test_gap_in_published_std: published.map(|p| (mean_test - p.test.0) / p.test.1),
            on_datasets,
        }
    }

    /// Incumbent accuracy at evenly spaced simulated times, from the first time at which
    /// every run has finished a trial (a mean over the few runs whose first trial was cheap
    /// would be a different population and mislead).
    fn curve_over_seconds(&self, strategy: &str, runs: &[&RunOutcome]) -> Vec<CurvePoint> {
        let n = self.curve_points.max(1);
        let times = (1..=n).map(|k| self.budget_seconds * k as f64 / n as f64);
        curve(strategy, runs, times, |p| p.1)
            .into_iter()
            .filter(|p| p.runs == runs.len())
            .collect()
    }
}

/// Incumbent accuracy after q queries; a run that ended before q counts with its final
/// incumbent.
fn curve_over_queries(strategy: &str, runs: &[&RunOutcome]) -> Vec<CurvePoint> {
    let max_q = runs.iter().map(|r| r.queries).max().unwrap_or(0);
    curve(strategy, runs, (1..=max_q).map(|q| q as f64), |p| {
        p.0 as f64
    })
}

/// The mean incumbent at each `x` (see [`crate::stats::anytime`]).
fn curve(
    strategy: &str,
    runs: &[&RunOutcome],
    xs: impl Iterator<Item = f64>,
    at: fn(&(u64, f64, f64, f64)) -> f64,
) -> Vec<CurvePoint> {
    let trajectories: Vec<&[(u64, f64, f64, f64)]> =
        runs.iter().map(|r| r.trajectory.as_slice()).collect();
    crate::stats::anytime(&trajectories, xs, at)
        .into_iter()
        .map(|p| CurvePoint {
            strategy: strategy.to_string(),
            x: p.x,
            mean_test_acc: p.mean_second,
            std_test_acc: p.std_second,
            mean_valid_acc: p.mean_first,
            runs: p.runs,
        })
        .collect()
}

fn oracle(table: &Nb201Table, dataset: Nb201Dataset) -> Oracle {
    let d = dataset as usize;
    let space = Nb201Space::default();
    let mut best_valid: Option<(&archer_core::Arch, f64, f64)> = None;
    let mut best_test = f64::MIN;
    for (arch, records) in table.iter() {
        let r = records[d];
        if best_valid.is_none_or(|b| r.valid_acc > b.1) {
            best_valid = Some((arch, r.valid_acc, r.test_acc));
        }
        best_test = best_test.max(r.test_acc);
    }
    let (arch, v, t) = best_valid.expect("tables are never empty");
    Oracle {
        best_valid_arch: space.format(arch),
        best_valid_valid_acc: v,
        best_valid_test_acc: t,
        best_test_acc: best_test,
    }
}

impl BenchReport {
    /// The table printed by `archer bench nb201`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "NAS-Bench-201 {} | budget {:.0} simulated s | {} seeds per strategy | wall {:.2} s\n\n",
            self.dataset,
            self.budget_seconds,
            self.summaries.first().map_or(0, |s| s.seeds),
            self.wall_seconds
        ));
        out.push_str(&format!(
            "{:<10} {:>15} {:>15} {:>9}   {:>15} {:>15} {:>9}\n",
            "strategy",
            "valid acc",
            "test acc",
            "queries",
            "published valid",
            "published test",
            "gap (σ)"
        ));
        let pm = |m: f64, s: f64| format!("{m:.2} ± {s:.2}");
        for s in &self.summaries {
            let (pv, pt, gap) = match s.published {
                Some(p) => (
                    pm(p.valid.0, p.valid.1),
                    pm(p.test.0, p.test.1),
                    format!("{:+.2}", s.test_gap_in_published_std.unwrap_or(f64::NAN)),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            out.push_str(&format!(
                "{:<10} {:>15} {:>15} {:>9.1}   {:>15} {:>15} {:>9}\n",
                s.strategy,
                pm(s.mean_valid_acc, s.std_valid_acc),
                pm(s.mean_test_acc, s.std_test_acc),
                s.mean_queries,
                pv,
                pt,
                gap
            ));
        }
        let d = Nb201Dataset::parse(&self.dataset).expect("report names a known dataset");
        if d == Nb201Dataset::Cifar10 {
            out.push_str("\nThe same architectures on the other datasets (the NB201 protocol: search on CIFAR-10, report on all):\n");
            out.push_str(&format!(
                "{:<10} {:>15} {:>15} {:>15}\n",
                "strategy", "dataset", "test acc", "published test"
            ));
            for s in &self.summaries {
                for r in s.on_datasets.iter().filter(|r| r.dataset != self.dataset) {
                    let p = r
                        .published
                        .map_or("-".to_string(), |p| pm(p.test.0, p.test.1));
                    out.push_str(&format!(
                        "{:<10} {:>15} {:>15} {:>15}\n",
                        s.strategy,
                        r.dataset,
                        pm(r.mean_test_acc, r.std_test_acc),
                        p
                    ));
                }
            }
        } else {
            out.push_str(
                "\nNo published figures for a search on this dataset: NB201 searched on CIFAR-10 and reported the\n\
                 found architectures here (run --dataset cifar10 for that comparison).\n",
            );
        }
        for t in &self.ask_timing {
            out.push_str(&format!(
                "\nask time of {} with {} architectures evaluated (release build, this machine): median {:.1} ms, max {:.1} ms over {} asks",
                t.strategy, t.evaluated, t.median_ms, t.max_ms, t.asks
            ));
        }
        if !self.ask_timing.is_empty() {
            out.push('\n');
        }
        let (ov, ot) = published_optimum(d);
        out.push_str(&format!(
            "\nbest by validation in the table: valid {:.2}, test {:.2}; best test {:.2} (published optimum: valid {ov:.2}, test {ot:.2})\n",
            self.oracle.best_valid_valid_acc, self.oracle.best_valid_test_acc, self.oracle.best_test_acc
        ));
        out.push_str(
            "Published: NAS-Bench-201 (Dong & Yang 2020), mean ± std of 500 runs; marked UNVERIFIED in RESULTS.md.\n\
             Protocol differences: Archer's search signal is the final (200-epoch) validation accuracy as shipped\n\
             by NASLib, the paper's the 12-epoch one; a query charges 12 epochs of training, no validation pass.\n",
        );
        out
    }

    /// Writes `summary.json`, `runs.csv`, and the anytime curves `anytime_seconds.{csv,svg}`
    /// and `anytime_queries.{csv,svg}`.
    pub fn write(&self, dir: &Path) -> Result<(), BenchError> {
        let write = |name: &str, text: String| crate::stats::write_file(dir, name, text);
        write(
            "summary.json",
            serde_json::to_string_pretty(self).expect("plain data") + "\n",
        )?;
        let mut runs = String::from("strategy,seed,queries,sim_seconds,valid_acc,test_acc,arch\n");
        for r in &self.runs {
            runs.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                r.strategy, r.seed, r.queries, r.sim_seconds, r.valid_acc, r.test_acc, r.arch_str
            ));
        }
        write("runs.csv", runs)?;
        let curve = |x: &str, points: &[CurvePoint]| {
            let mut s = format!("strategy,{x},mean_test_acc,std_test_acc,mean_valid_acc,runs\n");
            for p in points {
                s.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    p.strategy, p.x, p.mean_test_acc, p.std_test_acc, p.mean_valid_acc, p.runs
                ));
            }
            s
        };
        write(
            "anytime_seconds.csv",
            curve("sim_seconds", &self.curve_seconds),
        )?;
        write("anytime_queries.csv", curve("queries", &self.curve_queries))?;
        let title = |by: &str| {
            format!(
                "NAS-Bench-201 {}: incumbent test accuracy by {by} (mean ± std)",
                self.dataset
            )
        };
        crate::plot::anytime_svg(
            &dir.join("anytime_seconds.svg"),
            &title("simulated time"),
            "simulated seconds",
            "best-so-far test accuracy (%)",
            &self.curve_seconds,
        )?;
        crate::plot::anytime_svg(
            &dir.join("anytime_queries.svg"),
            &title("queries"),
            "queries",
            "best-so-far test accuracy (%)",
            &self.curve_queries,
        )
    }
}

/// Trials per second through the whole study loop (ask, evaluate, record, tell) for random
/// search with the NAS-Bench-201 table as evaluator: the `archer bench store` workload.
pub fn loop_throughput(
    table: Arc<Nb201Table>,
    trials: u64,
    store: Option<Box<dyn archer_store::Store>>,
) -> Result<f64, BenchError> {
    let bench = Nb201Bench {
        table,
        dataset: Nb201Dataset::Cifar10,
        strategies: vec![("random".into(), StrategyConfig::named("random"))],
        seeds: 1,
        first_seed: 0,
        budget_seconds: f64::MAX,
        deduplicate: false,
        threads: 1,
        curve_points: 1,
        zero_cost: None,
        ask_timing_at: 0,
    };
    let space: Arc<dyn SearchSpace> = Arc::new(Nb201Space::default());
    let mut experiment = bench.experiment(&StrategyConfig::named("random"), 0, &space)?;
    experiment.config.study.name = format!(
        "bench-store-{}-{}",
        std::process::id(),
        archer_runner::launch::unix_now()
    );
    experiment.config.budget = Budget {
        trials: Some(trials),
        sim_seconds: None,
        wall_seconds: None,
    };
    let mut study = match store {
        Some(s) => Study::create(experiment, s)?,
        None => Study::new(experiment)?,
    };
    let started = Instant::now();
    let summary = study.run(&mut NullRecorder, &mut |_| {})?;
    Ok(summary.trials as f64 / started.elapsed().as_secs_f64())
}
