//! `archer retrain` and `archer evaluate`: train a found architecture from scratch, save
//! it, and measure a saved model again.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use archer_eval::{EvaluatorConfig, TrainSettings};
use archer_runner::ExperimentConfig;
use archer_space::{Arch, SpaceConfig};
use archer_train::export::{evaluate_model, retrain, RetrainJob, TORCHSCRIPT_FILE, WEIGHTS_FILE};
use clap::Args;
use serde::Deserialize;
use serde_json::json;

use crate::inspect::open;
use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct RetrainArgs {
    /// An experiment folder (its best trial is retrained with its evaluator's settings), or
    /// an architecture file: JSON with `space` and `evaluator` tables as in an experiment
    /// file and `arch` (the space's native string).
    target: PathBuf,
    /// Epochs (default: the evaluator's `training.epochs`).
    #[arg(long)]
    epochs: Option<u32>,
    /// Seed of the weights and batches (default: the study's seed, or 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to save the model (default: `<experiment folder>/model`, or `<file stem>-model`
    /// beside an architecture file). Must be new or empty.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Measure the test set after every epoch too (a learning curve, saved in the manifest).
    #[arg(long)]
    test_each_epoch: bool,
    /// Print the manifest as JSON at the end.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// A model folder written by `archer retrain`.
    model: PathBuf,
    #[arg(long)]
    json: bool,
}

/// An architecture file for `archer retrain`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchFile {
    space: SpaceConfig,
    evaluator: EvaluatorConfig,
    arch: String,
}

struct Job {
    space: SpaceConfig,
    settings: TrainSettings,
    arch: Arch,
    seed: u64,
    output: PathBuf,
    origin: String,
    /// What is retrained, said before training (a study's best trial).
    about: Option<String>,
}

fn train_settings(evaluator: EvaluatorConfig, origin: &str) -> Result<TrainSettings> {
    match evaluator.typed::<TrainSettings>("train") {
        Some(settings) => Ok(settings.map_err(|e| UsageError(format!("{origin}: {e}")))?),
        None => Err(UsageError(format!(
            "{origin}: retraining needs a `train` evaluator (data and recipe); this one is {:?}",
            evaluator.kind
        ))
        .into()),
    }
}

fn from_experiment(dir: &Path) -> Result<Job> {
    let target = dir.to_string_lossy();
    let mut o = open(&target, None)?;
    let config = ExperimentConfig::from_saved(&o.record.config_toml, &o.storage)?;
    let history = archer_core::History::from_trials(o.store.trials(o.record.id)?)
        .map_err(|n| anyhow::anyhow!("the store lacks trial {n} of study {}", o.record.name))?;
    let best = history.best().ok_or_else(|| {
        UsageError(format!(
            "{target}: the study has no complete, feasible trial yet"
        ))
    })?;
    let primary = &o.record.objectives[0].metric;
    let about = format!(
        "Retraining trial {} of study {} ({} {:.4}): {}",
        best.id,
        o.record.name,
        primary,
        best.metrics.get(primary).unwrap_or(f64::NAN),
        o.space.format(&best.arch)
    );
    Ok(Job {
        about: Some(about),
        space: config.space.clone(),
        settings: train_settings(config.evaluator, &target)?,
        arch: best.arch.clone(),
        seed: config.study.seed,
        output: dir.join("model"),
        origin: target.into_owned(),
    })
}

fn from_arch_file(path: &Path) -> Result<Job> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    let mut file: ArchFile =
        serde_json::from_str(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    archer_runner::evaluator_kind(&file.evaluator.kind)?
        .resolve_paths(&mut file.evaluator.settings, base)
        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    let space = file.space.build()?;
    let arch = space
        .parse(&file.arch)
        .map_err(|e| UsageError(format!("{}: arch: {e}", path.display())))?;
    let stem = path
        .file_stem()
        .map_or("arch".into(), |s| s.to_string_lossy());
    Ok(Job {
        settings: train_settings(file.evaluator, &path.display().to_string())?,
        space: file.space,
        arch,
        seed: 0,
        output: base.join(format!("{stem}-model")),
        origin: path.display().to_string(),
        about: None,
    })
}

/// Retrains the best trial of the experiment in `dir` into `dir/model` without printing
/// (for benchmarks that compare whole experiments); returns the saved model's manifest.
pub fn retrain_experiment_quiet(
    dir: &Path,
    epochs: u32,
    seed: Option<u64>,
) -> Result<archer_train::export::Manifest> {
    let job = from_experiment(dir)?;
    let retrain_job = RetrainJob {
        space: &job.space,
        arch: &job.arch,
        settings: &job.settings,
        epochs,
        seed: seed.unwrap_or(job.seed),
        test_each_epoch: false,
    };
    retrain(&retrain_job, &job.output, &mut |_| {})
        .with_context(|| format!("retraining {}", job.origin))
}

/// Retrains the best trial of the experiment in `dir` into `dir/model` (after a search
/// whose experiment file has a `[retrain]` section).
pub fn retrain_experiment(dir: &Path, epochs: u32, seed: Option<u64>) -> Result<()> {
    retrain_cmd(RetrainArgs {
        target: dir.to_path_buf(),
        epochs: Some(epochs),
        seed,
        output: None,
        test_each_epoch: false,
        json: false,
    })
}

pub fn retrain_cmd(args: RetrainArgs) -> Result<()> {
    let job = if args.target.is_dir() {
        from_experiment(&args.target)?
    } else if args.target.is_file() {
        from_arch_file(&args.target)?
    } else {
        bail!(UsageError(format!(
            "{}: neither an experiment folder nor an architecture file",
            args.target.display()
        )));
    };
    if let Some(about) = &job.about {
        say(about)?;
    }
    let output = args.output.unwrap_or(job.output);
    let epochs = args.epochs.unwrap_or(job.settings.training.epochs);
    let seed = args.seed.unwrap_or(job.seed);
    say(format!(
        "Training from scratch for {epochs} epochs on all training images (seed {seed}); model → {}",
        output.display()
    ))?;
    let retrain_job = RetrainJob {
        space: &job.space,
        arch: &job.arch,
        settings: &job.settings,
        epochs,
        seed,
        test_each_epoch: args.test_each_epoch,
    };
    let manifest = retrain(&retrain_job, &output, &mut |r| {
        let test = r
            .valid
            .map(|v| format!(", test acc {:.2} %", v.accuracy))
            .unwrap_or_default();
        let _ = say(format!(
            "  epoch {:>3}: train loss {:.4}, train acc {:.2} %{test}, lr {:.4}, {:.1} s ({:.1} s waiting for data)",
            r.epoch, r.train.loss, r.train.accuracy, r.lr, r.seconds, r.loader_wait_seconds
        ));
    })
    .with_context(|| format!("retraining {}", job.origin))?;
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&manifest)?)?);
    }
    let m = &manifest.metrics;
    say(format!(
        "Test accuracy {:.2} % ({} test images) | params {:.4} M | FLOPs {:.2} M | {:.0} s training",
        m["test_acc"],
        manifest.test_images,
        m["params"] / 1e6,
        m["flops_m"],
        m["train_seconds"]
    ))?;
    say(format!(
        "Saved {}/{{{WEIGHTS_FILE}, {TORCHSCRIPT_FILE}, manifest.json}}",
        output.display()
    ))?;
    Ok(())
}

pub fn evaluate_cmd(args: EvaluateArgs) -> Result<()> {
    let (manifest, stats) = evaluate_model(&args.model)
        .with_context(|| format!("evaluating {}", args.model.display()))?;
    let recorded = manifest
        .metrics
        .get("test_acc")
        .copied()
        .unwrap_or(f64::NAN);
    let same = recorded == stats.accuracy;
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&json!({
            "model": args.model,
            "arch": manifest.arch_str,
            "test_acc": stats.accuracy,
            "test_loss": stats.loss,
            "recorded_test_acc": recorded,
            "reproduced": same,
        }))?)?);
    }
    say(format!("{}: {}", args.model.display(), manifest.arch_str))?;
    say(format!(
        "Test accuracy {:.4} % (recorded at training: {:.4} %: {})",
        stats.accuracy,
        recorded,
        if same {
            "reproduced exactly"
        } else {
            "DIFFERENT"
        }
    ))?;
    if !same {
        bail!("the reloaded model does not reproduce its recorded test accuracy");
    }
    Ok(())
}
