//! `archer status` and `archer export`: read a study from its folder or its PostgreSQL URL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use archer_core::pareto::pareto_front;
use archer_core::{scores, Direction, Objective, Trial, TrialState};
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
    /// Instead: the Pareto set of the study's objectives (feasible trials only), or over the
    /// objectives listed, e.g. `--pareto valid_acc:max,params_m:min`.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pareto: Option<Vec<String>>,
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
        "arch_labelled": space.labelled(&t.arch),
        "arch": t.arch,
        "arch_hash": t.arch_hash,
        "score": t.score,
        "scores": t.scores,
        "feasible": t.feasible,
        "metrics": t.metrics,
    })
}

pub fn status(args: StatusArgs) -> Result<()> {
    let mut o = open(&args.target, args.study.as_deref())?;
    let history = archer_core::History::from_trials(o.store.trials(o.record.id)?)
        .map_err(|n| anyhow!("the store lacks trial {n} of study {}", o.record.name))?;
    let trials = history.trials();
    let count = |s: TrialState| history.count(s);
    let distinct: HashSet<&str> = history.completed().map(|t| t.arch_hash.as_str()).collect();
    let infeasible = history.completed().filter(|t| !t.feasible).count();
    let screened = trials.iter().filter(|t| t.is_screened()).count();
    let best = history.best();
    let multi = o.record.objectives.len() > 1;
    let front = history.pareto_front();
    let sim: f64 = trials
        .iter()
        .filter(|t| t.state.is_finished())
        .map(|t| t.cost_seconds)
        .sum();
    let summary = json!({
        "study": o.record.name,
        "storage": archer_store::redact_url(&o.storage),
        "objectives": o.record.objectives,
        "constraints": o.record.constraints,
        "trials": trials.len(),
        "complete": count(TrialState::Complete),
        "running": count(TrialState::Running),
        "paused": count(TrialState::Paused),
        "waiting": count(TrialState::Waiting),
        "failed": count(TrialState::Failed),
        "pruned": count(TrialState::Pruned),
        "infeasible": infeasible,
        "screened": screened,
        "distinct_archs": distinct.len(),
        "sim_seconds": sim,
        "stop_reason": o.record.stop_reason,
        "best": best.map(|t| trial_json(t, o.space.as_ref())),
        "pareto_front": if multi {
            Value::Array(front.iter().map(|t| trial_json(t, o.space.as_ref())).collect())
        } else {
            Value::Null
        },
    });
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&summary)?)?);
    }
    say(format!(
        "study {} ({})",
        o.record.name,
        archer_store::redact_url(&o.storage)
    ))?;
    let objectives: Vec<String> = o
        .record
        .objectives
        .iter()
        .map(|ob| format!("{} ({})", ob.metric, ob.direction))
        .collect();
    say(format!("objectives: {}", objectives.join(", ")))?;
    if !o.record.constraints.is_empty() {
        let c: Vec<String> = o.record.constraints.iter().map(|c| c.describe()).collect();
        say(format!(
            "constraints: {} ({infeasible} infeasible trials, {screened} of them rejected before evaluation)",
            c.join(", ")
        ))?;
    }
    say(format!(
        "trials {}: {} complete, {} running, {} paused, {} waiting, {} failed, {} pruned; {} distinct architectures; {:.0} simulated s",
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Running),
        count(TrialState::Paused),
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
    if multi {
        say(format!(
            "Pareto front: {} trials (`archer export --pareto` writes them)",
            front.len()
        ))?;
        for t in front.iter().take(10) {
            say(format!("  trial {} {}", t.id, o.space.format(&t.arch)))?;
            say(format!("      {}", describe_metrics(&t.metrics)))?;
        }
    } else if let Some(b) = best {
        say(format!("best: trial {} {}", b.id, o.space.format(&b.arch)))?;
        say(format!("      {}", describe_metrics(&b.metrics)))?;
    }
    Ok(())
}

/// `metric:max` / `metric:min` pairs.
fn parse_objectives(specs: &[String]) -> Result<Vec<Objective>> {
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
            Ok(Objective {
                metric: m.to_string(),
                direction: d,
            })
        })
        .collect()
}

pub fn export(args: ExportArgs) -> Result<()> {
    let mut o = open(&args.target, args.study.as_deref())?;
    let history = archer_core::History::from_trials(o.store.trials(o.record.id)?)
        .map_err(|n| anyhow!("the store lacks trial {n} of study {}", o.record.name))?;
    // The feasible COMPLETE trials, the best of each distinct architecture first.
    let mut complete: Vec<&Trial> = history
        .completed()
        .filter(|t| t.feasible && t.score.is_some())
        .collect();
    complete.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.id.cmp(&b.id))
    });
    let mut seen = HashSet::new();
    complete.retain(|t| seen.insert(t.arch_hash.clone()));
    let chosen: Vec<&Trial> = match &args.pareto {
        None => complete.into_iter().take(args.top).collect(),
        Some(list) => {
            // The study's own objectives unless a list is given.
            let objectives = if list.is_empty() {
                o.record.objectives.clone()
            } else {
                parse_objectives(list)?
            };
            let mut vectors = Vec::new();
            for t in &complete {
                let v = scores(&objectives, &t.metrics).map_err(|m| {
                    UsageError(format!(
                        "--pareto: metric {m:?} is missing from trial {}; the trials report {}",
                        t.id,
                        t.metrics.names().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                vectors.push(v);
            }
            let refs: Vec<&[f64]> = vectors.iter().map(|v| &v[..]).collect();
            pareto_front(&refs)
                .into_iter()
                .map(|i| complete[i])
                .collect()
        }
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
