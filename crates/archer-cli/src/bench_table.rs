//! `archer bench table EXPERIMENT`: strategies × seeds on an experiment's results table.

use std::path::PathBuf;

use anyhow::{Context, Result};
use archer_bench::table::TableBench;
use archer_runner::ExperimentConfig;
use clap::Args;

use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct TableArgs {
    /// An experiment file with `[evaluator] kind = "table"`.
    experiment: PathBuf,
    /// Comma-separated strategies (as for `bench nb201`): random, rea, ls, reinforce, bo,
    /// bananas, npenas and their variants.
    #[arg(long, default_value = "random,rea,ls", value_delimiter = ',')]
    strategies: Vec<String>,
    /// Runs per strategy (seeds first-seed, first-seed+1, ...).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Simulated seconds per run (default: the experiment's own [budget]).
    #[arg(long)]
    budget_seconds: Option<f64>,
    /// The metric column to report for each run's incumbent (e.g. a held-out test
    /// accuracy).
    #[arg(long)]
    report: String,
    /// Folder for summary.json, runs.csv and the anytime curves (CSV); default
    /// bench-out/table/STUDY.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print the report (summaries, the table's best row, curves) as JSON.
    #[arg(long)]
    json: bool,
    /// Worker threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(args: TableArgs) -> Result<()> {
    let strategies = crate::bench::parse_strategies(&args.strategies)?;
    if strategies.is_empty() || args.seeds == 0 {
        return Err(
            UsageError("--strategies must name one and --seeds must be at least 1".into()).into(),
        );
    }
    let mut labels = std::collections::HashSet::new();
    if let Some((dup, _)) = strategies.iter().find(|(l, _)| !labels.insert(l.clone())) {
        return Err(UsageError(format!("--strategies lists {dup} twice")).into());
    }
    if let Some(b) = args.budget_seconds {
        if !(b.is_finite() && b > 0.0) {
            return Err(UsageError(format!("--budget-seconds {b} must be positive")).into());
        }
    }
    let experiment = ExperimentConfig::from_file(&args.experiment)?.validate()?;
    if experiment.config.evaluator.kind != "table" {
        return Err(UsageError(format!(
            "{}: bench table needs [evaluator] kind = \"table\", not {:?}",
            args.experiment.display(),
            experiment.config.evaluator.kind
        ))
        .into());
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench-out/table").join(&experiment.config.study.name));
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bench = TableBench {
        experiment,
        strategies,
        seeds: args.seeds,
        first_seed: args.first_seed,
        budget_seconds: args.budget_seconds,
        report: args.report.clone(),
        threads,
        curve_points: 100,
    };
    let report = bench.run().map_err(|e| match e {
        archer_bench::BenchError::Invalid(m) => anyhow::Error::new(UsageError(m)),
        other => other.into(),
    })?;
    report
        .write(&output)
        .with_context(|| format!("writing bench results to {}", output.display()))?;
    if args.json {
        say(serde_json::to_string_pretty(&report)?)?;
    } else {
        say(report.render().trim_end())?;
        say(format!("Curves and per-run results: {}", output.display()))?;
    }
    Ok(())
}
