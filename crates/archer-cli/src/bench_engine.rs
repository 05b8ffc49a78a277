//! `archer bench engine`: Archer's training engine against PyTorch on the same networks.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use archer_train::engine_bench::{self, EngineBenchConfig};
use clap::Args;

use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct EngineArgs {
    /// A Python with torch for the reference run (default: the environment this archer was
    /// built against, from scripts/setup-torch.sh).
    #[arg(long)]
    reference_python: Option<PathBuf>,
    /// Time Archer only.
    #[arg(long)]
    no_reference: bool,
    /// The reference script.
    #[arg(long, default_value = "bench/engine_reference.py")]
    script: PathBuf,
    /// Rounds of (Archer, PyTorch); each figure is the fastest round's median.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Intra-op threads in both engines.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed repetitions (the median is reported) after `--warmup` untimed ones.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    #[arg(long, default_value_t = 64)]
    train_batch: i64,
    #[arg(long, default_value_t = 256)]
    forward_batch: i64,
    #[arg(long)]
    json: bool,
}

/// The Python that runs a bench's PyTorch reference `script`: `given`, else the environment
/// this archer was built against; `None` with `no_reference`. A usage error when there is
/// none, or the script is missing.
pub fn reference_python(
    given: Option<PathBuf>,
    no_reference: bool,
    script: &Path,
) -> Result<Option<PathBuf>> {
    if no_reference {
        return Ok(None);
    }
    let python = given.or_else(engine_bench::linked_python).ok_or_else(|| {
        UsageError(
            "no Python with torch found: pass --reference-python PATH or --no-reference".into(),
        )
    })?;
    if !script.is_file() {
        return Err(UsageError(format!(
            "{}: reference script not found (run from the repository root or pass --script)",
            script.display()
        ))
        .into());
    }
    Ok(Some(python))
}

pub fn run(args: EngineArgs) -> Result<()> {
    let cfg = EngineBenchConfig {
        rounds: args.rounds.max(1),
        threads: args.threads.max(1),
        repeats: args.repeats.max(1),
        warmup: args.warmup,
        train_batch: args.train_batch.max(1),
        forward_batch: args.forward_batch.max(1),
    };
    let python = reference_python(args.reference_python, args.no_reference, &args.script)?;
    let rows = engine_bench::run(&cfg, python.as_deref(), &args.script).context("bench engine")?;
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&serde_json::json!({
            "config": cfg,
            "reference_python": python,
            "results": rows,
        }))?)?);
    }
    say(format!(
        "{} threads, batch {} (train step) and {} (forward), median of {} after {} warm-up, fastest of {} rounds",
        cfg.threads, cfg.train_batch, cfg.forward_batch, cfg.repeats, cfg.warmup, cfg.rounds
    ))?;
    let opt = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |v| format!("{v:.p$}"));
    say(format!(
        "{:<18} {:>9} {:>12} {:>12} {:>7} {:>12} {:>12} {:>7} {:>12} {:>12}",
        "network",
        "params",
        "archer train",
        "torch train",
        "ratio",
        "archer fwd",
        "torch fwd",
        "ratio",
        "archer fwd1",
        "torch fwd1"
    ))?;
    for r in &rows {
        say(format!(
            "{:<18} {:>9} {:>10.1}ms {:>10}ms {:>7} {:>10.1}ms {:>10}ms {:>7} {:>10.2}ms {:>10}ms",
            r.network,
            r.params,
            r.archer_train_ms,
            opt(r.pytorch_train_ms, 1),
            opt(r.train_ratio, 3),
            r.archer_forward_ms,
            opt(r.pytorch_forward_ms, 1),
            opt(r.forward_ratio, 3),
            r.archer_forward_b1_ms,
            opt(r.pytorch_forward_b1_ms, 2)
        ))?;
    }
    say("fwd1: one image, almost no arithmetic: each engine's per-operation overhead.")?;
    if let Some(r) = rows.first() {
        say(format!("backend: {}", r.backend))?;
    }
    Ok(())
}
