use std::path::{Path, PathBuf};

use crate::out::say;
use anyhow::{Context, Result};
use archer_core::{metric, Trial, TrialState};
use archer_runner::{
    DirRecorder, Event, Experiment, ExperimentConfig, Overrides, Study, StudySummary,
};
use clap::Args;

#[derive(Args)]
pub struct SearchArgs {
    /// Experiment file (TOML); see examples/.
    config: PathBuf,
    /// Experiment folder (default: runs/<study name>-<UTC time>). Must not hold an experiment.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Stop after this many trials.
    #[arg(long)]
    trials: Option<u64>,
    /// Stop once evaluations have charged this many (simulated) seconds.
    #[arg(long)]
    budget_seconds: Option<f64>,
    /// Seed for the whole run.
    #[arg(long)]
    seed: Option<u64>,
    /// Print only the result, not each improvement.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// Experiment file (TOML).
    config: PathBuf,
}

fn load(config: &Path, overrides: &Overrides) -> Result<Experiment> {
    let mut c = ExperimentConfig::from_file(config)?;
    c.apply(overrides);
    Ok(c.validate()?)
}

pub fn validate(args: ValidateArgs) -> Result<()> {
    let e = load(&args.config, &Overrides::default())?;
    say(format!(
        "{}: OK ({} space of {} architectures, strategy {}, evaluator {}, objective {} {})",
        args.config.display(),
        e.space.name(),
        e.space.size(),
        e.config.strategy.name(),
        e.evaluator.name(),
        e.objective.direction,
        e.objective.metric
    ))?;
    Ok(())
}

/// `runs/<name>-<UTC time>`, made unique if two runs start in the same second.
fn default_output(name: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let base = PathBuf::from("runs").join(format!("{name}-{stamp}"));
    let mut candidate = base.clone();
    let mut n = 2;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    candidate
}

fn budget_line(e: &Experiment) -> String {
    let b = &e.config.budget;
    let mut parts = Vec::new();
    if let Some(t) = b.trials {
        parts.push(format!("{t} trials"));
    }
    if let Some(s) = b.sim_seconds {
        parts.push(format!("{s} simulated s"));
    }
    if let Some(s) = b.wall_seconds {
        parts.push(format!("{s} wall s"));
    }
    parts.join(", ")
}

pub fn run(args: SearchArgs) -> Result<()> {
    let overrides = Overrides {
        output: args.output.clone(),
        trials: args.trials,
        sim_seconds: args.budget_seconds,
        seed: args.seed,
    };
    let experiment = load(&args.config, &overrides)?;
    let output = experiment
        .config
        .study
        .output
        .clone()
        .unwrap_or_else(|| default_output(&experiment.config.study.name));
    eprintln!(
        "archer: searching {} ({} architectures) with {} (seed {}), evaluator {}, budget {}",
        experiment.space.name(),
        experiment.space.size(),
        experiment.config.strategy.name(),
        experiment.config.study.seed,
        experiment.evaluator.name(),
        budget_line(&experiment)
    );
    eprintln!("archer: experiment folder {}", output.display());
    let mut study = Study::new(experiment)?;
    let space = study.experiment().space.clone();
    let objective = study.experiment().objective.metric.clone();
    let quiet = args.quiet;
    let mut observer = |event: Event| {
        let Event::TrialFinished {
            trial,
            new_best,
            sim_seconds,
            trials,
        } = event;
        if quiet {
            return;
        }
        if trial.state == TrialState::Failed {
            eprintln!(
                "  trial {:>4} FAILED: {}",
                trial.id,
                trial.error.as_deref().unwrap_or("")
            );
        } else if new_best {
            eprintln!(
                "  trial {:>4} | {:>9.0} sim s | {} trials | new best {objective} {:.2}  {}",
                trial.id,
                sim_seconds,
                trials,
                trial.metrics.get(&objective).unwrap_or(f64::NAN),
                space.format(&trial.arch)
            );
        }
    };
    let mut recorder = DirRecorder::new(&output);
    let summary = study
        .run(&mut recorder, &mut observer)
        .with_context(|| format!("search {} failed", args.config.display()))?;
    print_result(&summary, &space_format(&study), &output)?;
    Ok(())
}

fn space_format(study: &Study) -> impl Fn(&Trial) -> String + '_ {
    move |t: &Trial| study.experiment().space.format(&t.arch)
}

fn print_result(
    summary: &StudySummary,
    format: &dyn Fn(&Trial) -> String,
    output: &Path,
) -> std::io::Result<()> {
    say(format!(
        "Stopped: {} after {} trials ({} failed), {:.0} simulated s, {:.2} s wall.",
        summary.stop, summary.trials, summary.failed, summary.sim_seconds, summary.wall_seconds
    ))?;
    match &summary.best {
        None => say("No trial completed.")?,
        Some(best) => {
            say(format!("Best architecture (trial {}):", best.id))?;
            say(format!("  {}", format(best)))?;
            let m = &best.metrics;
            let show = |k: &str, label: &str, unit: &str| {
                m.get(k).map(|v| format!("{label} {v:.4}{unit}"))
            };
            let mut parts: Vec<String> = [
                show(metric::VALID_ACC, "valid acc", " %"),
                show(metric::TEST_ACC, "test acc", " %"),
                show(metric::PARAMS_M, "params", " M"),
                show(metric::FLOPS_M, "FLOPs", " M"),
            ]
            .into_iter()
            .flatten()
            .collect();
            parts.extend(
                m.iter()
                    .filter(|(k, _)| k.starts_with("latency_ms_"))
                    .map(|(k, v)| format!("{k} {v:.3}")),
            );
            say(format!("  {}", parts.join(" | ")))?;
            if let Some(i) = m.get("nb201_index") {
                say(format!("  NAS-Bench-201 index {i}"))?;
            }
        }
    }
    say(format!("Results: {}", output.display()))
}
