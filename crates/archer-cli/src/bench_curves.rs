//! `archer bench nb201-curves`: multi-fidelity schedulers on the NB201 learning curves of 200
//! cells, on simulated workers.

use std::path::PathBuf;

use anyhow::{Context, Result};
use archer_bench::curves::{parse_method, CurvesBench, RungSettings};
use clap::Args;

use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct CurvesArgs {
    /// Comma-separated labels: a strategy at full fidelity (random, rea, bo, mo-rea, ...),
    /// a scheduler with random search (sh, sh-stop, hyperband, hyperband-stop, asha,
    /// asha-stop, median, percentile), a scheduler with a searcher (asha-bo, asha-rea,
    /// hyperband-tpe, ...), or bohb / bohb-stop. Default: random, sh, hyperband,
    /// asha-stop, asha, asha-bo, bohb; with --latency-device: random, mo-rea, nsga2,
    /// asha-stop, asha.
    #[arg(long, value_delimiter = ',')]
    strategies: Option<Vec<String>>,
    /// Multi-objective: minimise the latency on this device of the NB201 latency table
    /// (1080ti_1, pixel3, raspi4, ...) beside maximising validation accuracy, and report
    /// each label's hypervolume regret (the schedulers rank their rungs by non-dominated
    /// sorting with hypervolume contribution as the tie-break: MO-ASHA).
    #[arg(long)]
    latency_device: Option<String>,
    #[arg(long, default_value = "data/nas-bench-201/nb201_latency_help.csv.gz")]
    latency_table: PathBuf,
    /// Simulated workers.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Runs per strategy (seeds first-seed, first-seed+1, ...).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Simulated seconds per run (the parallel run's elapsed time).
    #[arg(long, default_value_t = 9000.0)]
    budget_seconds: f64,
    /// Reduction factor η of every scheduler.
    #[arg(long, default_value_t = 3.0)]
    eta: f64,
    /// The first rung, in epochs, of every scheduler (rungs: r, rη, rη², ..., 200); 1 was
    /// chosen on seeds 100-199 among 1, 3 and 9.
    #[arg(long, default_value_t = 1)]
    min_resource: u32,
    /// Simulated seconds charged for loading a paused trial's checkpoint.
    #[arg(long, default_value_t = 1.0)]
    resume_seconds: f64,
    #[arg(
        long,
        default_value = "data/nas-bench-201-curves/nb201_cifar10valid_hp200_curves_200archs.csv.gz"
    )]
    curves: PathBuf,
    #[arg(long, default_value = "data/nas-bench-201/nb201_results.csv.gz")]
    table: PathBuf,
    /// Folder for summary.json, runs.csv and the anytime curve (SVG, CSV).
    #[arg(long, default_value = "bench-out/nb201-curves")]
    output: PathBuf,
    #[arg(long)]
    json: bool,
    /// Threads running seeds in parallel (default: available cores); results do not
    /// depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(args: CurvesArgs) -> Result<()> {
    if args.seeds == 0 || args.workers == 0 {
        return Err(UsageError("--seeds and --workers must be at least 1".into()).into());
    }
    if !(args.budget_seconds.is_finite() && args.budget_seconds > 0.0) {
        return Err(UsageError(format!(
            "--budget-seconds {} must be positive",
            args.budget_seconds
        ))
        .into());
    }
    let rungs = RungSettings {
        eta: args.eta,
        min_resource: args.min_resource,
    };
    let default = if args.latency_device.is_some() {
        "random,mo-rea,nsga2,asha-stop,asha"
    } else {
        "random,sh,hyperband,asha-stop,asha,asha-bo,bohb"
    };
    let labels = args
        .strategies
        .clone()
        .unwrap_or_else(|| default.split(',').map(str::to_string).collect());
    let mut methods = Vec::new();
    for label in &labels {
        if methods
            .iter()
            .any(|m: &archer_bench::curves::CurvesMethod| &m.label == label)
        {
            return Err(UsageError(format!("--strategies lists {label} twice")).into());
        }
        methods.push(parse_method(label, &rungs).map_err(UsageError)?);
    }
    let bench = CurvesBench {
        curves: crate::bench::data_file(&args.curves),
        table: crate::bench::data_file(&args.table),
        methods,
        rungs,
        workers: args.workers,
        seeds: args.seeds,
        first_seed: args.first_seed,
        budget_seconds: args.budget_seconds,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        curve_points: 200,
        resume_seconds: args.resume_seconds,
        latency: args
            .latency_device
            .clone()
            .map(|d| (crate::bench::data_file(&args.latency_table), d)),
    };
    let usage = |e| match e {
        archer_bench::BenchError::Invalid(m) => anyhow::Error::new(UsageError(m)),
        other => other.into(),
    };
    if bench.latency.is_some() {
        let report = bench.run_multi().map_err(usage)?;
        let write = report.write(&args.output);
        return emit(&args, &report, write, report.render(), "Per-run results");
    }
    let report = bench.run().map_err(usage)?;
    let write = report.write(&args.output);
    emit(
        &args,
        &report,
        write,
        report.render(),
        "Anytime curve and per-run results",
    )
}

/// Reports a finished bench: the result of writing its files, then JSON or its table.
fn emit(
    args: &CurvesArgs,
    report: &impl serde::Serialize,
    written: Result<(), archer_bench::BenchError>,
    table: String,
    files: &str,
) -> Result<()> {
    written.with_context(|| format!("writing bench results to {}", args.output.display()))?;
    if args.json {
        say(serde_json::to_string_pretty(report)?)?;
    } else {
        say(table.trim_end())?;
        say(format!("{files}: {}", args.output.display()))?;
    }
    Ok(())
}
