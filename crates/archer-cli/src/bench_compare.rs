//! `archer bench compare`: whole experiments (search, then the same retraining of the winner)
//! over seeds, side by side at one budget. This is how a multi-fidelity search on the `train`
//! evaluator is measured against a single-fidelity one on real data: equal wall-clock
//! budgets, equal retraining, the winners' test accuracy, and the epochs each search trained.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use archer_bench::curves::epoch_counts;
use archer_bench::{mean, std_dev};
use archer_runner::{launch, ExperimentConfig, ExperimentDir, Overrides};
use clap::Args;
use serde::Serialize;

use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct CompareArgs {
    /// Two or more experiment files. They must have equal `[budget]` and `[retrain]`
    /// sections and the same `evaluator.data`: only the search differs.
    #[arg(required = true, num_args = 2..)]
    experiments: Vec<PathBuf>,
    /// Seeds per experiment (each seed runs every experiment once, in turn).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// The first seed (report on seeds 0…; tune on 100…).
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Output folder (default: bench-out/compare/<study names>); each run's experiment
    /// folder is <output>/<study>/seed-<n>. Must not hold a comparison.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One search and its retrained winner.
#[derive(Clone, Debug, Serialize)]
struct CompareRun {
    study: String,
    seed: u64,
    trials: u64,
    complete: u64,
    /// Wall-clock seconds of the search (not the retraining).
    search_seconds: f64,
    best_trial: u64,
    best_arch: String,
    best_valid: f64,
    test_acc: f64,
    retrain_seconds: f64,
    /// Σ over trials of the epochs their evaluations ran.
    epochs_trained: u64,
    /// Σ over trials of the highest epoch each reached.
    epochs_reached: u64,
}

#[derive(Debug, Serialize)]
struct CompareRow {
    study: String,
    strategy: String,
    scheduler: String,
    runs: usize,
    mean_test: f64,
    std_test: f64,
    mean_valid: f64,
    std_valid: f64,
    mean_trials: f64,
    mean_search_seconds: f64,
    epochs_trained: u64,
    epochs_reached: u64,
    /// Seeds on which this study's winner tested better than the first study's.
    wins_over_first: usize,
}

#[derive(Debug, Serialize)]
struct CompareSummary {
    budget: archer_runner::Budget,
    retrain_epochs: u32,
    first_seed: u64,
    seeds: u64,
    rows: Vec<CompareRow>,
    runs: Vec<CompareRun>,
}

struct Entry {
    file: PathBuf,
    config: ExperimentConfig,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let entries = load(&args.experiments)?;
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e.config.study.name.as_str())
        .collect();
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench-out/compare").join(names.join("-vs-")));
    if output.join("summary.json").exists() {
        bail!(UsageError(format!(
            "{} already holds a comparison (summary.json); give a new --output",
            output.display()
        )));
    }
    std::fs::create_dir_all(&output).with_context(|| format!("creating {}", output.display()))?;
    let retrain_epochs = entries[0]
        .config
        .retrain
        .as_ref()
        .expect("checked by load")
        .epochs;
    let mut runs = Vec::new();
    for seed in args.first_seed..args.first_seed + args.seeds {
        for e in &entries {
            let run = run_one(e, seed, &output)?;
            eprintln!(
                "[seed {seed}] {}: {} trials in {:.0} s, best valid {:.2} %, retrained test {:.2} % ({:.0} s); epochs trained {} / highest reached {}",
                run.study,
                run.trials,
                run.search_seconds,
                run.best_valid,
                run.test_acc,
                run.retrain_seconds,
                run.epochs_trained,
                run.epochs_reached
            );
            runs.push(run);
        }
    }
    let summary = CompareSummary {
        budget: entries[0].config.budget.clone(),
        retrain_epochs,
        first_seed: args.first_seed,
        seeds: args.seeds,
        rows: entries.iter().map(|e| row(e, &runs)).collect(),
        runs,
    };
    write(&summary, &output)?;
    if args.json {
        say(serde_json::to_string_pretty(&summary)?)?;
    } else {
        say(render(&summary))?;
        say(format!("Runs and summary in {}", output.display()))?;
    }
    Ok(())
}

/// Reads the experiment files and checks that they differ only in their search.
fn load(files: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    for file in files {
        let config = ExperimentConfig::from_file(file)?;
        config.clone().validate()?;
        if config.retrain.is_none() {
            bail!(UsageError(format!(
                "{}: bench compare retrains every winner; add a [retrain] section",
                file.display()
            )));
        }
        if let Some(first) = entries.first() {
            let differs = |what: &str| {
                UsageError(format!(
                    "{} and {} differ in {what}; bench compare compares searches at one {what}",
                    first.file.display(),
                    file.display()
                ))
            };
            if config.budget != first.config.budget {
                bail!(differs("[budget]"));
            }
            if config.retrain != first.config.retrain {
                bail!(differs("[retrain]"));
            }
            if config.evaluator.settings.get("data") != first.config.evaluator.settings.get("data")
            {
                bail!(differs("evaluator.data"));
            }
            if entries
                .iter()
                .any(|e| e.config.study.name == config.study.name)
            {
                bail!(UsageError(format!(
                    "{}: study name {:?} is used twice; each experiment needs its own",
                    file.display(),
                    config.study.name
                )));
            }
        }
        entries.push(Entry {
            file: file.clone(),
            config,
        });
    }
    Ok(entries)
}

fn run_one(e: &Entry, seed: u64, output: &Path) -> Result<CompareRun> {
    let dir_path = std::path::absolute(
        output
            .join(&e.config.study.name)
            .join(format!("seed-{seed}")),
    )?;
    let mut config = e.config.clone();
    config.apply(&Overrides {
        output: Some(dir_path.clone()),
        seed: Some(seed),
        ..Overrides::default()
    });
    let experiment = config.validate()?;
    let retrain = experiment.config.retrain.clone().expect("checked by load");
    let dir = ExperimentDir::create(&dir_path)?;
    let (mut study, mut recorder) = launch::start(experiment, &dir, None)?;
    let started = Instant::now();
    let summary = study
        .run(&mut recorder, &mut |_| {})
        .with_context(|| format!("{} (seed {seed})", e.file.display()))?;
    let search_seconds = started.elapsed().as_secs_f64();
    let (epochs_trained, epochs_reached) = epoch_counts(study.history());
    let best = summary.best.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "{} (seed {seed}) ended with no complete trial; its budget is too small",
            e.file.display()
        )
    })?;
    let primary = &study.experiment().primary().metric;
    let space = study.experiment().space.clone();
    let run = CompareRun {
        study: e.config.study.name.clone(),
        seed,
        trials: summary.trials,
        complete: summary.complete,
        search_seconds,
        best_trial: best.id,
        best_arch: space.format(&best.arch),
        best_valid: best.metrics.get(primary).unwrap_or(f64::NAN),
        test_acc: f64::NAN,
        retrain_seconds: 0.0,
        epochs_trained,
        epochs_reached,
    };
    drop((study, recorder));
    let started = Instant::now();
    let manifest = crate::model::retrain_experiment_quiet(&dir_path, retrain.epochs, retrain.seed)?;
    Ok(CompareRun {
        test_acc: manifest
            .metrics
            .get("test_acc")
            .copied()
            .unwrap_or(f64::NAN),
        retrain_seconds: started.elapsed().as_secs_f64(),
        ..run
    })
}

fn row(e: &Entry, runs: &[CompareRun]) -> CompareRow {
    let name = &e.config.study.name;
    let mine: Vec<&CompareRun> = runs.iter().filter(|r| &r.study == name).collect();
    let first = &runs[0].study;
    let wins = mine
        .iter()
        .filter(|r| {
            runs.iter()
                .find(|f| &f.study == first && f.seed == r.seed)
                .is_some_and(|f| r.test_acc > f.test_acc)
        })
        .count();
    let of = |f: fn(&CompareRun) -> f64| mine.iter().map(|r| f(r)).collect::<Vec<f64>>();
    let tests = of(|r| r.test_acc);
    let valids = of(|r| r.best_valid);
    CompareRow {
        study: name.clone(),
        strategy: e.config.strategy.name().to_string(),
        scheduler: e.config.scheduler.label(),
        runs: mine.len(),
        mean_test: mean(&tests),
        std_test: std_dev(&tests),
        mean_valid: mean(&valids),
        std_valid: std_dev(&valids),
        mean_trials: mean(&of(|r| r.trials as f64)),
        mean_search_seconds: mean(&of(|r| r.search_seconds)),
        epochs_trained: mine.iter().map(|r| r.epochs_trained).sum(),
        epochs_reached: mine.iter().map(|r| r.epochs_reached).sum(),
        wins_over_first: wins,
    }
}

fn write(summary: &CompareSummary, dir: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(summary)?;
    std::fs::write(dir.join("summary.json"), json)?;
    let mut csv = String::from(
        "study,seed,trials,complete,search_seconds,best_trial,best_valid,test_acc,retrain_seconds,epochs_trained,epochs_reached,best_arch\n",
    );
    for r in &summary.runs {
        let _ = writeln!(
            csv,
            "{},{},{},{},{:.1},{},{:.4},{:.4},{:.1},{},{},\"{}\"",
            r.study,
            r.seed,
            r.trials,
            r.complete,
            r.search_seconds,
            r.best_trial,
            r.best_valid,
            r.test_acc,
            r.retrain_seconds,
            r.epochs_trained,
            r.epochs_reached,
            r.best_arch.replace('"', "\"\"")
        );
    }
    std::fs::write(dir.join("runs.csv"), csv)?;
    Ok(())
}

fn render(s: &CompareSummary) -> String {
    let mut out = format!(
        "Seeds {}..{}, budget {}, every winner retrained from scratch for {} epochs and tested\n",
        s.first_seed,
        s.first_seed + s.seeds - 1,
        crate::search::budget_text(&s.budget),
        s.retrain_epochs
    );
    let _ = writeln!(
        out,
        "{:<22} {:<10} {:<16} {:>16} {:>16} {:>7} {:>9} {:>15} {:>15} {:>6}",
        "study",
        "strategy",
        "scheduler",
        "test acc %",
        "best valid %",
        "trials",
        "search s",
        "epochs trained",
        "highest reached",
        "wins"
    );
    for r in &s.rows {
        let _ = writeln!(
            out,
            "{:<22} {:<10} {:<16} {:>16} {:>16} {:>7.1} {:>9.0} {:>15} {:>15} {:>3}/{}",
            r.study,
            r.strategy,
            r.scheduler,
            format!("{:.2} ± {:.2}", r.mean_test, r.std_test),
            format!("{:.2} ± {:.2}", r.mean_valid, r.std_valid),
            r.mean_trials,
            r.mean_search_seconds,
            r.epochs_trained,
            r.epochs_reached,
            r.wins_over_first,
            r.runs
        );
    }
    let twice: Vec<&str> = s
        .rows
        .iter()
        .filter(|r| r.epochs_trained != r.epochs_reached)
        .map(|r| r.study.as_str())
        .collect();
    if twice.is_empty() {
        out.push_str("No epoch was trained twice: epochs trained = Σ highest epoch reached, in every study.\n");
    } else {
        let _ = writeln!(
            out,
            "Epochs trained more than once (or lost to a restart) in: {}",
            twice.join(", ")
        );
    }
    out.push_str(
        "wins: seeds on which the study's retrained winner tested above the first study's",
    );
    out
}
