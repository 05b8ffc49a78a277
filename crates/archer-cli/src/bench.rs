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
    /// Trials per second through the whole loop: in memory, SQLite, PostgreSQL, and Optuna's
    /// RDB storage on the same workload.
    Store(StoreArgs),
}

#[derive(Args)]
pub struct StoreArgs {
    /// Trials per backend.
    #[arg(long, default_value_t = 1000)]
    trials: u64,
    /// PostgreSQL to measure (skipped if not given).
    #[arg(long)]
    postgres: Option<String>,
    /// A Python with optuna (and psycopg2 for PostgreSQL) to run bench/optuna_store.py.
    #[arg(long)]
    optuna_python: Option<PathBuf>,
    /// The NB201 results table.
    #[arg(long, default_value = "data/nas-bench-201/nb201_results.csv.gz")]
    table: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct Nb201Args {
    /// cifar10, cifar100 or imagenet16-120.
    #[arg(long, default_value = "cifar10")]
    dataset: String,
    /// Comma-separated strategies: random, rea, ls, reinforce.
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
    match cmd {
        BenchCommand::Nb201(args) => nb201(args),
        BenchCommand::Store(args) => store(args),
    }
}

/// Runs bench/optuna_store.py; its trials per second.
fn optuna(python: &PathBuf, table: &std::path::Path, storage: &str, trials: u64) -> Result<f64> {
    let script = PathBuf::from("bench/optuna_store.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args([
            "--table",
            &table.display().to_string(),
            "--storage",
            storage,
            "--trials",
            &trials.to_string(),
        ])
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("optuna_store.py output")?;
    v["trials_per_second"]
        .as_f64()
        .context("optuna_store.py printed no trials_per_second")
}

/// The same database as SQLAlchemy names it with the psycopg2 driver.
fn optuna_postgres_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    format!("postgresql+psycopg2://{rest}")
}

fn store(args: StoreArgs) -> Result<()> {
    use archer_runner::bench::loop_throughput;
    let table = Arc::new(Nb201Table::load(&args.table).map_err(|e| UsageError(e.to_string()))?);
    let tmp = std::env::temp_dir().join(format!("archer-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let memory = loop_throughput(table.clone(), args.trials, None)?;
    rows.push(serde_json::json!({"backend": "memory", "archer_trials_per_second": memory}));
    let sqlite = archer_store::SqliteStore::open(&tmp.join("archer.db"))?;
    let archer_sqlite = loop_throughput(table.clone(), args.trials, Some(Box::new(sqlite)))?;
    let optuna_sqlite = match &args.optuna_python {
        Some(py) => Some(optuna(
            py,
            &args.table,
            &format!("sqlite:///{}", tmp.join("optuna.db").display()),
            args.trials,
        )?),
        None => None,
    };
    rows.push(serde_json::json!({"backend": "sqlite", "archer_trials_per_second": archer_sqlite,
        "optuna_trials_per_second": optuna_sqlite, "ratio": optuna_sqlite.map(|o| archer_sqlite / o)}));
    if let Some(url) = &args.postgres {
        let pg = archer_store::PostgresStore::connect(url)?;
        let archer_pg = loop_throughput(table.clone(), args.trials, Some(Box::new(pg)))?;
        let optuna_pg = match &args.optuna_python {
            Some(py) => Some(optuna(
                py,
                &args.table,
                &optuna_postgres_url(url),
                args.trials,
            )?),
            None => None,
        };
        rows.push(
            serde_json::json!({"backend": "postgres", "archer_trials_per_second": archer_pg,
            "optuna_trials_per_second": optuna_pg, "ratio": optuna_pg.map(|o| archer_pg / o)}),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&rows)?)?);
    }
    say(format!(
        "Whole-loop throughput, random search on the NAS-Bench-201 table, {} trials per backend",
        args.trials
    ))?;
    say(format!(
        "{:<10} {:>18} {:>18} {:>12}",
        "backend", "archer trials/s", "optuna trials/s", "archer/optuna"
    ))?;
    for r in &rows {
        let f = |k: &str| r[k].as_f64().map_or("-".to_string(), |v| format!("{v:.1}"));
        say(format!(
            "{:<10} {:>18} {:>18} {:>12}",
            r["backend"].as_str().unwrap_or(""),
            f("archer_trials_per_second"),
            f("optuna_trials_per_second"),
            r["ratio"]
                .as_f64()
                .map_or("-".to_string(), |v| format!("{v:.1}x"))
        ))?;
    }
    Ok(())
}

fn nb201(args: Nb201Args) -> Result<()> {
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
