//! `archer bench oneshot-engine`: one DARTS and one GDAS search step of the NAS-Bench-201
//! supernet on Archer's engine against the same supernet in PyTorch.

use std::path::PathBuf;

use anyhow::{Context, Result};
use archer_oneshot::engine_bench::{self, OneshotBenchConfig};
use clap::Args;

use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct OneshotEngineArgs {
    /// A Python with torch for the reference run (default: the environment this archer was
    /// built against, from scripts/setup-torch.sh).
    #[arg(long)]
    reference_python: Option<PathBuf>,
    /// Time Archer only.
    #[arg(long)]
    no_reference: bool,
    /// The reference script.
    #[arg(long, default_value = "bench/oneshot_reference.py")]
    script: PathBuf,
    /// Supernet sizes, comma-separated `cCnN` (C channels in the first stage, N cells per
    /// stage); c16n5 is the published NB201 recipe.
    #[arg(long, default_value = "c16n5,c8n2", value_delimiter = ',')]
    sizes: Vec<String>,
    /// Rounds of (Archer, PyTorch); each figure is the fastest round's median.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Intra-op threads in both engines.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed steps (the median is reported) after `--warmup` untimed ones.
    #[arg(long, default_value_t = 7)]
    repeats: usize,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    #[arg(long, default_value_t = 64)]
    batch: i64,
    #[arg(long)]
    json: bool,
}

pub fn run(args: OneshotEngineArgs) -> Result<()> {
    let sizes = args
        .sizes
        .iter()
        .map(|s| {
            engine_bench::parse_size(s).ok_or_else(|| {
                UsageError(format!(
                    "--sizes {s:?}: expected cCnN with C, N at least 1, e.g. c16n5"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cfg = OneshotBenchConfig {
        sizes,
        rounds: args.rounds.max(1),
        threads: args.threads.max(1),
        repeats: args.repeats.max(1),
        warmup: args.warmup,
        batch: args.batch.max(1),
    };
    let python = crate::bench_engine::reference_python(
        args.reference_python,
        args.no_reference,
        &args.script,
    )?;
    let (rows, about) =
        engine_bench::run(&cfg, python.as_deref(), &args.script).context("bench oneshot-engine")?;
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&serde_json::json!({
            "config": cfg,
            "reference_python": python,
            "reference": about,
            "results": rows,
        }))?)?);
    }
    say(format!(
        "{} threads, batch {}, one α-step plus one w-step, median of {} after {} warm-up, fastest of {} rounds",
        cfg.threads, cfg.batch, cfg.repeats, cfg.warmup, cfg.rounds
    ))?;
    let opt = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |v| format!("{v:.p$}"));
    say(format!(
        "{:<7} {:<6} {:>9} {:>11} {:>11} {:>7} {:>12} {:>7} {:>12} {:>12}",
        "size",
        "method",
        "params",
        "archer_ms",
        "pytorch_ms",
        "ratio",
        "autodl_ms",
        "ratio",
        "archer_fwd1",
        "torch_fwd1"
    ))?;
    for r in &rows {
        say(format!(
            "{:<7} {:<6} {:>9} {:>11.1} {:>11} {:>7} {:>12} {:>7} {:>10.2}ms {:>10}ms",
            r.size,
            r.method,
            r.params,
            r.archer_ms,
            opt(r.pytorch_ms, 1),
            opt(r.ratio, 3),
            opt(r.pytorch_autodl_ms, 1),
            opt(r.autodl_ratio, 3),
            r.archer_forward_b1_ms,
            opt(r.pytorch_forward_b1_ms, 2)
        ))?;
    }
    for r in rows.iter().filter(|r| !r.profile.is_empty()) {
        say(format!(
            "profile of one {} step at {} (ms, median per phase):",
            r.method, r.size
        ))?;
        for p in &r.profile {
            say(format!(
                "  {:<16} {:>9.1} {:>11} {:>7}",
                p.phase,
                p.archer_ms,
                opt(p.pytorch_ms, 1),
                opt(p.pytorch_ms.map(|t| p.archer_ms / t), 2)
            ))?;
        }
    }
    say("pytorch_ms: the same work as Archer (α's gradient alone in the α-step, α detached in the w-step); autodl_ms: plain backward() in both steps, as AutoDL-Projects writes them.")?;
    say("fwd1: a soft-mixed forward pass of one image: each engine's per-operation overhead.")?;
    if let Some(r) = rows.first() {
        say(format!("backend: {}", r.backend))?;
    }
    if let Some(a) = about {
        say(format!("reference: {a}"))?;
    }
    Ok(())
}
