use std::path::PathBuf;
use std::sync::Arc;

use crate::out::say;
use anyhow::{Context, Result};
use archer_eval::{Nb201Dataset, Nb201Table};
use archer_runner::bench::Nb201Bench;
use archer_strategy::StrategyConfig;
use clap::{Args, Subcommand};

use crate::UsageError;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Strategies × seeds on NAS-Bench-201 with a simulated clock, beside the published figures.
    Nb201(Nb201Args),
}

#[derive(Args)]
pub struct Nb201Args {
    /// cifar10, cifar100 or imagenet16-120.
    #[arg(long, default_value = "cifar10")]
    dataset: String,
    /// Comma-separated strategies: random, rea, ls.
    #[arg(long, default_value = "random,rea,ls", value_delimiter = ',')]
    strategies: Vec<String>,
    /// Runs per strategy (seeds first-seed, first-seed+1, ...).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Simulated seconds per run.
    #[arg(long, default_value_t = 12000.0)]
    budget_seconds: f64,
    /// The NB201 results table.
    #[arg(long, default_value = "data/nas-bench-201/nb201_results.csv.gz")]
    table: PathBuf,
    /// Folder for summary.json, runs.csv and the anytime curves (CSV).
    #[arg(long, default_value = "bench-out/nb201")]
    output: PathBuf,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Worker threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Allow strategies to re-evaluate architectures they have already seen.
    #[arg(long)]
    no_dedup: bool,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    let BenchCommand::Nb201(args) = cmd;
    let dataset = Nb201Dataset::parse(&args.dataset).ok_or_else(|| {
        UsageError(format!(
            "--dataset {:?}; accepted: cifar10, cifar100, imagenet16-120",
            args.dataset
        ))
    })?;
    let strategies = args
        .strategies
        .iter()
        .map(|s| {
            StrategyConfig::by_name(s.trim()).map_err(|e| UsageError(format!("--strategies: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.seeds == 0 {
        return Err(UsageError("--seeds must be at least 1".into()).into());
    }
    if !(args.budget_seconds.is_finite() && args.budget_seconds > 0.0) {
        return Err(UsageError(format!(
            "--budget-seconds {} must be positive",
            args.budget_seconds
        ))
        .into());
    }
    let table = Nb201Table::load(&args.table).map_err(|e| {
        UsageError(format!(
            "{e} (pass --table PATH; the full table ships in data/nas-bench-201/)"
        ))
    })?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bench = Nb201Bench {
        table: Arc::new(table),
        dataset,
        strategies,
        seeds: args.seeds,
        first_seed: args.first_seed,
        budget_seconds: args.budget_seconds,
        deduplicate: !args.no_dedup,
        threads,
        curve_points: 100,
    };
    let report = bench.run()?;
    report
        .write(&args.output)
        .with_context(|| format!("writing bench results to {}", args.output.display()))?;
    if args.json {
        say(serde_json::to_string_pretty(&report.summaries)?)?;
    } else {
        say(report.render().trim_end())?;
        say(format!(
            "Curves and per-run results: {}",
            args.output.display()
        ))?;
    }
    Ok(())
}
