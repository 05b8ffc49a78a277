//! `archer status` and `archer export`: read a study from its folder or its PostgreSQL URL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use archer_core::{Direction, Trial, TrialState};
use archer_runner::{ExperimentConfig, RUN_FILE, STORE_FILE};
use archer_space::SearchSpace;
use archer_store::{Store, StudyRecord};
use clap::Args;
use serde_json::{json, Value};

use crate::out::say;
use crate::search::describe_metrics;
use crate::UsageError;

#[derive(Args)]
pub struct StatusArgs {
    /// Experiment folder, or a postgres:// URL.
    target: String,
    /// The study, when the store holds several.
    #[arg(long)]
    study: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Experiment folder, or a postgres:// URL.
    target: String,
    #[arg(long)]
    study: Option<String>,
    /// The K best distinct architectures by the objective.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Instead: the Pareto set over several objectives, e.g. `valid_acc:max,params_m:min`.
    #[arg(long, value_delimiter = ',')]
    pareto: Vec<String>,
    /// Write here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
}

pub(crate) struct Opened {
    pub store: Box<dyn Store>,
    pub record: StudyRecord,
    pub space: Arc<dyn SearchSpace>,
    pub storage: String,
}

/// The study in an experiment folder or PostgreSQL database (`study` picks one of several).
pub(crate) fn open(target: &str, study: Option<&str>) -> Result<Opened> {
    let (mut store, storage, name): (Box<dyn Store>, String, Option<String>) =
        if archer_store::is_postgres_url(target) {
            (
                archer_store::open(target)?,
                target.to_string(),
                study.map(String::from),
            )
        } else {
            let dir = Path::new(target);
            let run_path = dir.join(RUN_FILE);
            let run: Value = std::fs::read_to_string(&run_path)
                .map_err(|e| {
                    UsageError(format!("{}: not an experiment folder ({e})", dir.display()))
                })
                .and_then(|t| {
                    serde_json::from_str(&t)
                        .map_err(|e| UsageError(format!("{}: {e}", run_path.display())))
                })?;
            let storage = run["storage"].as_str().unwrap_or(STORE_FILE).to_string();
            let location = if storage == STORE_FILE {
                dir.join(STORE_FILE).to_string_lossy().into_owned()
            } else {
                storage.clone()
            };
            let name = study
                .map(String::from)
                .or_else(|| run["study"].as_str().map(String::from));
            (archer_store::open(&location)?, storage, name)
        };
    let record = match name {
        Some(n) => store
            .study(&n)?
            .ok_or_else(|| UsageError(format!("no study {n:?} in {storage}")))?,
        None => {
            let mut all = store.studies()?;
            match all.len() {
                1 => all.remove(0),
                0 => return Err(UsageError(format!("{storage} holds no study")).into()),
                _ => {
                    // The most recent first; a shared database may hold hundreds.
                    const SHOWN: usize = 10;
                    let names: Vec<String> = all
                        .iter()
                        .rev()
                        .take(SHOWN)
                        .map(|s| s.name.clone())
                        .collect();
                    let more = all.len().saturating_sub(SHOWN);
                    return Err(UsageError(format!(
                        "{storage} holds {} studies; pass --study NAME, e.g. one of the newest: {}{}",
                        all.len(),
                        names.join(", "),
                        if more > 0 {
                            format!(" (and {more} more)")
                        } else {
                            String::new()
                        }
                    ))
                    .into());
                }
            }
        }
    };
    let config = ExperimentConfig::from_saved(&record.config_toml, &storage)?;
    let space = config.space.build()?;
    Ok(Opened {
        store,
        record,
        space,
        storage,
    })
}

fn trial_json(t: &Trial, space: &dyn SearchSpace) -> Value {
    json!({
        "trial": t.id,
        "arch_str": space.format(&t.arch),
        "arch": t.arch,
        "arch_hash": t.arch_hash,
        "score": t.score,
        "metrics": t.metrics,
    })
}

pub fn status(args: StatusArgs) -> Result<()> {
    let mut o = open(&args.target, args.study.as_deref())?;
    let trials = o.store.trials(o.record.id)?;
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let complete: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    let distinct: HashSet<&str> = complete.iter().map(|t| t.arch_hash.as_str()).collect();
    let best = best_trial(&trials);
    let sim: f64 = trials
        .iter()
        .filter(|t| t.state.is_finished())
        .map(|t| t.cost_seconds)
        .sum();
    let summary = json!({
        "study": o.record.name,
        "storage": o.storage,
        "objective": o.record.objective,
        "trials": trials.len(),
        "complete": count(TrialState::Complete),
        "running": count(TrialState::Running),
        "waiting": count(TrialState::Waiting),
        "failed": count(TrialState::Failed),
        "pruned": count(TrialState::Pruned),
        "distinct_archs": distinct.len(),
        "sim_seconds": sim,
        "stop_reason": o.record.stop_reason,
        "best": best.map(|t| trial_json(t, o.space.as_ref())),
    });
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&summary)?)?);
    }
    say(format!("study {} ({})", o.record.name, o.storage))?;
    say(format!(
        "trials {}: {} complete, {} running, {} waiting, {} failed, {} pruned; {} distinct architectures; {:.0} simulated s",
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Running),
        count(TrialState::Waiting),
        count(TrialState::Failed),
        count(TrialState::Pruned),
        distinct.len(),
        sim
    ))?;
    say(format!(
        "state: {}",
        o.record
            .stop_reason
            .as_deref()
            .unwrap_or("not finished (running, or interrupted: `archer resume`)")
    ))?;
    if let Some(b) = best {
        say(format!("best: trial {} {}", b.id, o.space.format(&b.arch)))?;
        say(format!("      {}", describe_metrics(&b.metrics)))?;
    }
    Ok(())
}

/// The complete trial with the highest score (the first of equals).
pub(crate) fn best_trial(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.score.is_some())
        .fold(None::<&Trial>, |b, t| {
            if b.is_none_or(|b| t.score > b.score) {
                Some(t)
            } else {
                b
            }
        })
}

/// `metric:max` / `metric:min` pairs.
fn parse_objectives(specs: &[String]) -> Result<Vec<(String, Direction)>> {
    specs
        .iter()
        .map(|s| {
            let (m, d) = s.split_once(':').unwrap_or((s, "max"));
            let d = match d {
                "max" | "maximize" => Direction::Maximize,
                "min" | "minimize" => Direction::Minimize,
                other => {
                    return Err(anyhow!(UsageError(format!(
                        "--pareto {s:?}: direction {other:?}; accepted: max, min"
                    ))))
                }
            };
            Ok((m.to_string(), d))
        })
        .collect()
}

pub fn export(args: ExportArgs) -> Result<()> {
    let mut o = open(&args.target, args.study.as_deref())?;
    let trials = o.store.trials(o.record.id)?;
    // Best trial per distinct architecture.
    let mut complete: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.score.is_some())
        .collect();
    complete.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.id.cmp(&b.id))
    });
    let mut seen = HashSet::new();
    complete.retain(|t| seen.insert(t.arch_hash.clone()));
    let chosen: Vec<&Trial> = if args.pareto.is_empty() {
        complete.into_iter().take(args.top).collect()
    } else {
        let objectives = parse_objectives(&args.pareto)?;
        for (m, _) in &objectives {
            if complete.iter().any(|t| t.metrics.get(m).is_none()) {
                return Err(UsageError(format!(
                    "--pareto: metric {m:?} is missing from some trials"
                ))
                .into());
            }
        }
        let value = |t: &Trial, (m, d): &(String, Direction)| {
            let v = t.metrics.get(m).unwrap_or(f64::NAN);
            if *d == Direction::Maximize {
                v
            } else {
                -v
            }
        };
        let dominates = |a: &Trial, b: &Trial| {
            objectives.iter().all(|o| value(a, o) >= value(b, o))
                && objectives.iter().any(|o| value(a, o) > value(b, o))
        };
        complete
            .iter()
            .copied()
            .filter(|t| !complete.iter().any(|u| dominates(u, t)))
            .collect()
    };
    let out: Vec<Value> = chosen
        .iter()
        .map(|t| trial_json(t, o.space.as_ref()))
        .collect();
    let text = serde_json::to_string_pretty(&out)?;
    match args.output {
        Some(path) => std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?,
        None => say(text)?,
    }
    Ok(())
}
