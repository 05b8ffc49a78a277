//! A study in a few numbers: what the studies page lists and the study page heads with.

use archer_core::TrialState;
use serde::Serialize;

use crate::analysis;
use crate::snapshot::{LiveStudy, Snapshot};

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub key: String,
    pub study: String,
    pub storage: String,
    /// `finished: <reason>` or `running or interrupted`.
    pub state: String,
    pub finished: bool,
    pub seq: i64,
    pub trials: usize,
    pub complete: usize,
    pub running: usize,
    pub paused: usize,
    pub waiting: usize,
    pub failed: usize,
    pub pruned: usize,
    pub objectives: Vec<String>,
    /// The best trial (single objective) and its first-objective value.
    pub best_trial: Option<u64>,
    pub best_value: Option<f64>,
    /// Multi-objective studies: the size of the Pareto front.
    pub front_size: Option<usize>,
    /// Every objective's best value among the feasible complete trials, in the study's
    /// order (one entry for a single-objective study).
    pub best_values: Vec<(String, f64)>,
    /// Seconds charged to the study's clock by finished trials.
    pub seconds_used: f64,
    /// The budget's limits, e.g. `trials 100, sim_seconds 12000`.
    pub budget: String,
    /// The latest start or finish of any trial (RFC 3339), or the study's creation.
    pub last_change: String,
}

/// The study's summary, made once per snapshot.
pub fn summarise(study: &LiveStudy, snap: &Snapshot) -> Summary {
    snap.summary.get_or_init(|| compute(study, snap)).clone()
}

fn compute(study: &LiveStudy, snap: &Snapshot) -> Summary {
    let count = |s: TrialState| snap.count(s);
    let multi = snap.record.objectives.len() > 1;
    let metric = analysis::first_metric(snap);
    let best = analysis::scored(snap).fold(None::<&archer_core::Trial>, |b, t| match b {
        Some(b) if b.score >= t.score => Some(b),
        _ => Some(t),
    });
    let budget = &study.config.budget;
    let mut limits = Vec::new();
    if let Some(t) = budget.trials {
        limits.push(format!("trials {t}"));
    }
    if let Some(s) = budget.sim_seconds {
        limits.push(format!("sim_seconds {s}"));
    }
    if let Some(s) = budget.wall_seconds {
        limits.push(format!("wall_seconds {s}"));
    }
    let last = snap
        .rows
        .iter()
        .filter_map(|r| r.trial.finished_at.or(r.trial.started_at))
        .max();
    let last_change = match last {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => created(snap.record.created_at),
    };
    Summary {
        key: study.source.key.clone(),
        study: snap.record.name.clone(),
        storage: archer_store::redact_url(&study.source.location),
        state: match &snap.record.stop_reason {
            Some(r) => format!("finished: {r}"),
            None => "running or interrupted".into(),
        },
        finished: snap.record.stop_reason.is_some(),
        seq: snap.seq,
        trials: snap.rows.len(),
        complete: count(TrialState::Complete),
        running: count(TrialState::Running),
        paused: count(TrialState::Paused),
        waiting: count(TrialState::Waiting),
        failed: count(TrialState::Failed),
        pruned: count(TrialState::Pruned),
        objectives: snap
            .record
            .objectives
            .iter()
            .map(|o| format!("{} ({})", o.metric, o.direction))
            .collect(),
        best_trial: if multi { None } else { best.map(|t| t.id) },
        best_value: if multi {
            None
        } else {
            best.and_then(|t| t.metrics.get(&metric).or(t.score))
        },
        front_size: multi.then(|| analysis::front(snap).len()),
        best_values: snap
            .record
            .objectives
            .iter()
            .filter_map(|o| {
                let values = analysis::scored(snap).filter_map(|t| t.metrics.get(&o.metric));
                let best = match o.direction {
                    archer_core::Direction::Maximize => values.fold(f64::NAN, f64::max),
                    archer_core::Direction::Minimize => values.fold(f64::NAN, f64::min),
                };
                (!best.is_nan()).then(|| (o.metric.clone(), best))
            })
            .collect(),
        seconds_used: snap
            .rows
            .iter()
            .filter(|r| r.trial.state.is_finished())
            .map(|r| r.trial.cost_seconds)
            .sum(),
        budget: if limits.is_empty() {
            "none".into()
        } else {
            limits.join(", ")
        },
        last_change,
    }
}

fn created(unix: f64) -> String {
    chrono::DateTime::from_timestamp(unix as i64, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
