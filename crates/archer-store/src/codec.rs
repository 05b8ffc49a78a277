//! How a `Trial` maps to a database row, shared by every backend, and the one rule for
//! changing a stored trial.

use std::collections::BTreeMap;

use archer_core::{Arch, Fidelity, Metrics, Trial, TrialState};
use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;

use crate::{StoreError, LOST_WORKER_ATTR};

/// The trial columns both backends read and write, in this order (`seq`, `heartbeat_at` and
/// `study_id` are the store's own and handled apart).
pub(crate) const TRIAL_COLUMNS: &str = "number, state, arch, arch_hash, fidelity, metrics, score, scores, feasible, violation, attrs, error, cost_seconds, attempts, worker, started_at, finished_at";

/// A trial's columns, as both backends store them (JSON text for structured values,
/// Unix seconds for times), in the order of [`TRIAL_COLUMNS`].
pub(crate) struct TrialRow {
    pub number: i64,
    pub state: String,
    pub arch: String,
    pub arch_hash: String,
    pub fidelity: String,
    pub metrics: String,
    pub score: Option<f64>,
    /// JSON array of numbers.
    pub scores: String,
    pub feasible: bool,
    pub violation: f64,
    /// JSON object.
    pub attrs: String,
    pub error: Option<String>,
    pub cost_seconds: f64,
    pub attempts: i64,
    pub worker: Option<String>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
}

pub(crate) fn now() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1e6
}

fn to_unix(t: &Option<DateTime<Utc>>) -> Option<f64> {
    t.map(|t| t.timestamp_micros() as f64 / 1e6)
}

fn from_unix(t: Option<f64>) -> Option<DateTime<Utc>> {
    t.and_then(|s| Utc.timestamp_micros((s * 1e6).round() as i64).single())
}

/// Parses a JSON column; `what` names it in the error.
pub(crate) fn json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A stored integer that must fit `T` (a count, a step, a trial number).
pub(crate) fn int<T: TryFrom<i64>>(what: &str, v: i64) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is out of range")))
}

pub(crate) fn parse_state(s: &str) -> Result<TrialState, StoreError> {
    Ok(match s {
        "WAITING" => TrialState::Waiting,
        "RUNNING" => TrialState::Running,
        "PAUSED" => TrialState::Paused,
        "COMPLETE" => TrialState::Complete,
        "PRUNED" => TrialState::Pruned,
        "FAILED" => TrialState::Failed,
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown trial state {other:?}"
            )))
        }
    })
}

impl TrialRow {
    /// The row for `t`. Refuses scores that JSON cannot carry (NaN, infinities), which would
    /// otherwise be stored as `null` and never read back.
    pub fn from_trial(t: &Trial) -> Result<Self, StoreError> {
        if let Some(bad) = t.scores.iter().find(|s| !s.is_finite()) {
            return Err(StoreError::Corrupt(format!(
                "trial {}: score {bad} is not finite and cannot be stored",
                t.id
            )));
        }
        Ok(TrialRow {
            number: i64::try_from(t.id)
                .map_err(|_| StoreError::Corrupt(format!("trial number {} is too large", t.id)))?,
            state: t.state.as_str().to_string(),
            arch: serde_json::to_string(&t.arch)?,
            arch_hash: t.arch_hash.clone(),
            fidelity: serde_json::to_string(&t.fidelity)?,
            metrics: serde_json::to_string(&t.metrics)?,
            score: t.score,
            scores: serde_json::to_string(&t.scores)?,
            feasible: t.feasible,
            violation: t.violation,
            attrs: serde_json::to_string(&t.attrs)?,
            error: t.error.clone(),
            cost_seconds: t.cost_seconds,
            attempts: i64::from(t.attempts),
            worker: t.worker.clone(),
            started_at: to_unix(&t.started_at),
            finished_at: to_unix(&t.finished_at),
        })
    }

    pub fn into_trial(self, intermediate: Vec<(u32, f64)>) -> Result<Trial, StoreError> {
        let n = self.number;
        let what = |col: &str| format!("trial {n} {col}");
        Ok(Trial {
            id: int(&what("number"), n)?,
            arch: json::<Arch>(&what("arch"), &self.arch)?,
            arch_hash: self.arch_hash,
            fidelity: json::<Fidelity>(&what("fidelity"), &self.fidelity)?,
            state: parse_state(&self.state)?,
            metrics: json::<Metrics>(&what("metrics"), &self.metrics)?,
            score: self.score,
            scores: json(&what("scores"), &self.scores)?,
            feasible: self.feasible,
            violation: self.violation,
            attrs: json(&what("attrs"), &self.attrs)?,
            intermediate,
            error: self.error,
            cost_seconds: self.cost_seconds,
            attempts: int(&what("attempts"), self.attempts)?,
            worker: self.worker,
            started_at: from_unix(self.started_at),
            finished_at: from_unix(self.finished_at),
        })
    }
}

/// Joins trial rows (in number order) with `(number, step, value)` rows of intermediate values
/// (in number, step order); values of trials not in `rows` are ignored.
pub(crate) fn assemble(
    rows: Vec<TrialRow>,
    values: Vec<(i64, i64, f64)>,
) -> Result<Vec<Trial>, StoreError> {
    let mut by_number: BTreeMap<i64, Vec<(u32, f64)>> = BTreeMap::new();
    for (number, step, value) in values {
        by_number
            .entry(number)
            .or_default()
            .push((int("intermediate step", step)?, value));
    }
    rows.into_iter()
        .map(|r| {
            let v = by_number.remove(&r.number).unwrap_or_default();
            r.into_trial(v)
        })
        .collect()
}

/// The message a trial gets when its worker stopped heartbeating too often.
/// The attempts of a trial's current evaluation: its `attempts` less those that began with a
/// promotion (attrs `promotions`), which are new evaluations, not restarts after a crash.
pub(crate) fn crash_attempts(number: i64, attempts: i64, attrs: &str) -> Result<i64, StoreError> {
    let map: BTreeMap<String, serde_json::Value> = json(&format!("trial {number} attrs"), attrs)?;
    let promotions = map
        .get(archer_core::PROMOTIONS_ATTR)
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    Ok(attempts - promotions)
}

pub(crate) fn lost_worker_error(worker: Option<&str>, attempts: i64) -> String {
    format!(
        "worker {} stopped responding; gave up after {attempts} attempts",
        worker.unwrap_or("?")
    )
}

/// `attrs` (JSON object text) with [`LOST_WORKER_ATTR`] set to true.
pub(crate) fn mark_lost(number: i64, attrs: &str) -> Result<String, StoreError> {
    let mut map: BTreeMap<String, serde_json::Value> =
        json(&format!("trial {number} attrs"), attrs)?;
    map.insert(LOST_WORKER_ATTR.into(), serde_json::Value::Bool(true));
    Ok(serde_json::to_string(&map)?)
}

/// What the store has for a trial, as far as [`check_update`] needs it.
pub(crate) struct Stored {
    pub state: String,
    pub worker: Option<String>,
    pub attempts: i64,
    /// JSON object text; read only for a FAILED trial.
    pub attrs: String,
}

/// The kind of write [`check_update`] judges.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// `update_trial`: replace the whole trial.
    Replace,
    /// `report_intermediate`: add one value to a RUNNING trial.
    Report,
}

/// The one rule for changing a stored trial, for every backend:
/// - the holder of a trial is its stored `(worker, attempts)`; the caller is
///   `(trial.worker, trial.attempts)`. Each claim increments attempts, so an old attempt's
///   caller never matches again, even under the same worker id (a fencing token);
/// - a RUNNING trial changes only for its holder (else `NotHolder`); WAITING and PAUSED trials
///   are not held, so any caller may replace them (a late result after a re-queue to WAITING
///   is accepted; resuming a PAUSED trial is the scheduler's decision, under the study lock);
/// - a per-step report ([`Change::Report`]) needs the trial RUNNING under the caller;
/// - a finished trial never changes (`TrialFinished`), with one exception: a trial that
///   `requeue_stale` failed for a lost worker (FAILED, attrs `lost_worker: true`) is replaced
///   by a finished result from the very holder it was taken from (same worker, same attempt),
///   since nobody else will run it.
pub(crate) fn check_update(
    study: i64,
    trial: &Trial,
    stored: &Stored,
    change: Change,
) -> Result<(), StoreError> {
    let state = parse_state(&stored.state)?;
    let holds = stored.worker == trial.worker && stored.attempts == i64::from(trial.attempts);
    if state.is_finished() {
        let late_result = change == Change::Replace
            && state == TrialState::Failed
            && trial.state.is_finished()
            && holds
            && stored.worker.is_some()
            && is_lost(trial.id, &stored.attrs)?;
        if late_result {
            return Ok(());
        }
        return Err(StoreError::TrialFinished {
            study,
            number: trial.id,
            state: stored.state.clone(),
        });
    }
    let must_hold = change == Change::Report || state == TrialState::Running;
    if must_hold && !(state == TrialState::Running && holds) {
        return Err(StoreError::NotHolder {
            study,
            number: trial.id,
            state: stored.state.clone(),
            holder: stored.worker.clone().unwrap_or_default(),
            holder_attempt: u32::try_from(stored.attempts).unwrap_or(u32::MAX),
            worker: trial.worker.clone().unwrap_or_default(),
            attempt: trial.attempts,
        });
    }
    Ok(())
}

fn is_lost(number: u64, attrs: &str) -> Result<bool, StoreError> {
    let map: BTreeMap<String, serde_json::Value> = json(&format!("trial {number} attrs"), attrs)?;
    Ok(map.get(LOST_WORKER_ATTR) == Some(&serde_json::Value::Bool(true)))
}
