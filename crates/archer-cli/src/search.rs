use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use archer_core::{metric, TrialState};
use archer_runner::launch;
use archer_runner::{Experiment, ExperimentConfig, ExperimentDir, Overrides, Study, StudySummary};
use clap::Args;

use crate::out::say;
use crate::progress::Progress;
use crate::UsageError;

#[derive(Args)]
pub struct SearchArgs {
    /// Experiment file (TOML); see examples/.
    config: PathBuf,
    /// Experiment folder (default: runs/<study name>-<UTC time>). Must not hold an experiment.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Keep the study in PostgreSQL (postgres://user@host/db) instead of the folder's SQLite
    /// file, so that `archer worker` processes on other machines can join it.
    #[arg(long)]
    storage: Option<String>,
    /// Stop after this many trials.
    #[arg(long)]
    trials: Option<u64>,
    /// Stop once evaluations have charged this many (simulated) seconds.
    #[arg(long)]
    budget_seconds: Option<f64>,
    /// Seed for the whole run.
    #[arg(long)]
    seed: Option<u64>,
    /// Retrain the winner from scratch for this many epochs when the search ends (sets
    /// `[retrain] epochs`, adding the section where the file has none).
    #[arg(long)]
    retrain_epochs: Option<u32>,
    /// Trials evaluated at once (threads). With 1 (the default) a run is deterministic.
    #[arg(long)]
    workers: Option<usize>,
    /// Print only the result: no progress bar, no improvements.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
pub struct ResumeArgs {
    /// Experiment folder of an interrupted (or finished) search.
    dir: PathBuf,
    /// Trials evaluated at once.
    #[arg(long)]
    workers: Option<usize>,
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
        "{}: OK ({} space of {} architectures, strategy {}, evaluator {}, {} {}{})",
        args.config.display(),
        e.space.name(),
        crate::spaces::readable(e.space.size()),
        e.config.strategy.name(),
        e.evaluator.name(),
        if e.objectives.len() > 1 {
            "objectives"
        } else {
            "objective"
        },
        e.objectives
            .iter()
            .map(|o| format!("{} {}", o.direction, o.metric))
            .collect::<Vec<_>>()
            .join(", "),
        if e.constraints.is_empty() {
            String::new()
        } else {
            format!(
                ", constraints {}",
                e.constraints
                    .iter()
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
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
    budget_text(&e.config.budget)
}

/// A budget in words: `12 trials, 600 wall s`.
pub fn budget_text(b: &archer_runner::Budget) -> String {
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
        workers: args.workers,
        retrain_epochs: args.retrain_epochs,
    };
    let mut config = ExperimentConfig::from_file(&args.config)?;
    config.apply(&overrides);
    if config.study.output.is_none() {
        // Fixed before the study starts, so that it is saved with the study and evaluators
        // that keep files per trial put them inside it.
        let out = default_output(&config.study.name);
        config.study.output = Some(std::path::absolute(&out).unwrap_or(out));
    }
    let experiment = config.validate()?;
    if args.storage.is_some() && archer_runner::is_oneshot(&experiment.config.strategy.name) {
        return Err(UsageError(format!(
            "--storage: the one-shot method {:?} trains one supernet in this process; it has no trials for workers (run without --storage)",
            experiment.config.strategy.name
        ))
        .into());
    }
    let output = experiment
        .config
        .study
        .output
        .clone()
        .unwrap_or_else(|| default_output(&experiment.config.study.name));
    eprintln!(
        "archer: searching {} ({} architectures) with {} (seed {}), evaluator {}, budget {}, {} worker(s)",
        experiment.space.name(),
        crate::spaces::readable(experiment.space.size()),
        experiment.config.strategy.name(),
        experiment.config.study.seed,
        experiment.evaluator.name(),
        budget_line(&experiment),
        experiment.config.study.workers
    );
    let dir = ExperimentDir::create(&output)?;
    eprintln!("archer: experiment folder {}", output.display());
    let (study, recorder) = launch::start(experiment.clone(), &dir, args.storage.as_deref())?;
    if let Some(url) = &args.storage {
        drop((study, recorder));
        return work_distributed(experiment, &dir, url, args.quiet)
            .with_context(|| format!("search {} failed", args.config.display()));
    }
    drive(study, recorder, &output, args.quiet)
        .with_context(|| format!("search {} failed", args.config.display()))
}

/// The study lives in PostgreSQL: this process works on it as one worker among any that
/// join (never with the in-process loop, which takes no study lock), then exports it.
fn work_distributed(
    experiment: Experiment,
    dir: &ExperimentDir,
    url: &str,
    quiet: bool,
) -> Result<()> {
    let name = experiment.config.study.name.clone();
    let id = launch::worker_id();
    eprintln!(
        "archer: study {name} is open to workers: archer worker --storage {} --study {name}",
        archer_store::redact_url(url)
    );
    let report =
        launch::worker(url, &name, id.clone())?.run(&mut crate::worker::log_event(&id, quiet))?;
    let stop = report
        .stop
        .expect("a worker returns once the study is over");
    let space = experiment.space.clone();
    let summary = launch::export_finished(experiment, dir, url, stop)?;
    print_result(&summary, &|a| space.format(a), dir.path())?;
    Ok(())
}

pub fn resume(args: ResumeArgs) -> Result<()> {
    let dir = ExperimentDir::open(&args.dir)?;
    if let Some(url) = launch::stored_url(&dir)? {
        let experiment = launch::worker(&url, &launch::study_name(&dir)?, launch::worker_id())?
            .experiment()
            .clone();
        return work_distributed(experiment, &dir, &url, args.quiet);
    }
    let overrides = Overrides {
        workers: args.workers,
        ..Overrides::default()
    };
    let (study, recorder) = launch::reopen(&dir, &overrides)?;
    let h = study.history();
    eprintln!(
        "archer: resuming {} in {}: {} trials so far ({} complete, {} to re-run)",
        study.experiment().config.study.name,
        args.dir.display(),
        h.len(),
        h.count(TrialState::Complete),
        h.count(TrialState::Waiting)
    );
    drive(study, recorder, &args.dir, args.quiet)
        .with_context(|| format!("resuming {} failed", args.dir.display()))
}

fn drive(
    mut study: Study,
    mut recorder: archer_runner::DirRecorder,
    output: &Path,
    quiet: bool,
) -> Result<()> {
    let space = study.experiment().space.clone();
    let done_sim: f64 = study
        .history()
        .trials()
        .iter()
        .filter(|t| t.state.is_finished())
        .map(|t| t.cost_seconds)
        .sum();
    let mut progress = Progress::new(
        study.experiment(),
        study.history().len() as u64,
        done_sim,
        quiet,
    );
    let summary = study.run(&mut recorder, &mut |event| {
        progress.observe(event, &|a| space.format(a))
    });
    progress.finish();
    let summary = summary?;
    print_result(&summary, &|a| space.format(a), output)?;
    if let Some(r) = &study.experiment().config.retrain {
        let experiment = study.experiment();
        match &summary.best {
            Some(best) if experiment.config.evaluator.kind == "command" => {
                retrain_by_command(experiment, &best.arch, output, r)?
            }
            _ => retrain_best(output, r)?,
        }
    }
    Ok(())
}

/// `[retrain]` with a command evaluator: the program runs once more on the winner, from
/// scratch, at the retrain epochs, in `<output>/model`; it reports the test result.
fn retrain_by_command(
    experiment: &archer_runner::Experiment,
    arch: &archer_core::Arch,
    output: &Path,
    section: &archer_runner::RetrainSection,
) -> Result<()> {
    let seed = section.seed.unwrap_or(experiment.config.study.seed);
    let dir = output.join("model");
    say(format!(
        "Retraining the winner from scratch by the command: {} epochs, seed {seed}, in {}",
        section.epochs,
        dir.display()
    ))?;
    let metrics = experiment
        .evaluator
        .retrain(arch, section.epochs, seed, &dir)
        .ok_or_else(|| anyhow::anyhow!("this evaluator cannot retrain"))??;
    let path = dir.join("retrained.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({
            "arch": experiment.space.labelled(arch),
            "arch_string": experiment.space.format(arch),
            "epochs": section.epochs,
            "seed": seed,
            "metrics": metrics,
        }))? + "\n",
    )
    .with_context(|| format!("writing {}", path.display()))?;
    say(format!("Retrained: {}", describe_metrics(&metrics)))?;
    Ok(())
}

/// `[retrain]`: train the winner from scratch into `<output>/model`.
#[cfg(feature = "train")]
fn retrain_best(output: &Path, section: &archer_runner::RetrainSection) -> Result<()> {
    crate::model::retrain_experiment(output, section.epochs, section.seed)
}

#[cfg(not(feature = "train"))]
fn retrain_best(_output: &Path, _section: &archer_runner::RetrainSection) -> Result<()> {
    anyhow::bail!(
        "[retrain] needs real training; this archer was built without the `train` feature"
    )
}

fn print_result(
    summary: &StudySummary,
    format: &dyn Fn(&archer_core::Arch) -> String,
    output: &Path,
) -> std::io::Result<()> {
    say(format!(
        "Stopped: {} after {} trials ({} failed), {:.0} simulated s, {:.2} s wall.",
        summary.stop, summary.trials, summary.failed, summary.sim_seconds, summary.wall_seconds
    ))?;
    match &summary.best {
        None => say("No trial completed.")?,
        Some(best) => {
            if summary.pareto_front.is_empty() {
                say(format!("Best architecture (trial {}):", best.id))?;
            } else {
                say(format!("Best by the first objective (trial {}):", best.id))?;
            }
            say(format!("  {}", format(&best.arch)))?;
            say(format!("  {}", describe_metrics(&best.metrics)))?;
            if let Some(i) = best.metrics.get("nb201_index") {
                say(format!("  NAS-Bench-201 index {i}"))?;
            }
        }
    }
    if !summary.pareto_front.is_empty() {
        say(format!(
            "Pareto front of the objectives: {} trials (`archer export {} --pareto` writes them all)",
            summary.pareto_front.len(),
            output.display()
        ))?;
        for t in summary.pareto_front.iter().take(5) {
            say(format!(
                "  trial {}: {}",
                t.id,
                describe_metrics(&t.metrics)
            ))?;
        }
        if summary.pareto_front.len() > 5 {
            say(format!("  ... and {} more", summary.pareto_front.len() - 5))?;
        }
    }
    say(format!("Results: {}", output.display()))
}

/// The metrics people look for first, then latencies.
pub fn describe_metrics(m: &archer_core::Metrics) -> String {
    let show = |k: &str, label: &str, unit: &str| m.get(k).map(|v| format!("{label} {v:.4}{unit}"));
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
    if parts.is_empty() {
        // An evaluator with its own metric names (a results table, a training command).
        parts.extend(
            m.iter()
                .filter(|(k, _)| *k != metric::SIM_SECONDS && *k != metric::TRAIN_SECONDS)
                .map(|(k, v)| format!("{k} {v:.4}")),
        );
    }
    parts.join(" | ")
}
