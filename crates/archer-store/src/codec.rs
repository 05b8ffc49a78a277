//! How a `Trial` maps to a database row, shared by every backend.

use archer_core::{Arch, Fidelity, Metrics, Trial, TrialState};
use chrono::{DateTime, TimeZone, Utc};

use crate::StoreError;

/// A trial's columns, as both backends store them (JSON text for structured values,
/// Unix seconds for times).
pub(crate) struct TrialRow {
    pub number: i64,
    pub state: String,
    pub arch: String,
    pub arch_hash: String,
    pub fidelity: String,
    pub metrics: String,
    pub score: Option<f64>,
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

pub(crate) fn parse_state(s: &str) -> Result<TrialState, StoreError> {
    Ok(match s {
        "WAITING" => TrialState::Waiting,
        "RUNNING" => TrialState::Running,
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
    pub fn from_trial(t: &Trial) -> Result<Self, StoreError> {
        Ok(TrialRow {
            number: t.id as i64,
            state: t.state.as_str().to_string(),
            arch: serde_json::to_string(&t.arch)?,
            arch_hash: t.arch_hash.clone(),
            fidelity: serde_json::to_string(&t.fidelity)?,
            metrics: serde_json::to_string(&t.metrics)?,
            score: t.score,
            error: t.error.clone(),
            cost_seconds: t.cost_seconds,
            attempts: t.attempts as i64,
            worker: t.worker.clone(),
            started_at: to_unix(&t.started_at),
            finished_at: to_unix(&t.finished_at),
        })
    }

    pub fn into_trial(self, intermediate: Vec<(u32, f64)>) -> Result<Trial, StoreError> {
        let arch: Arch = serde_json::from_str(&self.arch)?;
        let fidelity: Fidelity = serde_json::from_str(&self.fidelity)?;
        let metrics: Metrics = serde_json::from_str(&self.metrics)?;
        Ok(Trial {
            id: self.number as u64,
            arch,
            arch_hash: self.arch_hash,
            fidelity,
            state: parse_state(&self.state)?,
            metrics,
            score: self.score,
            intermediate,
            error: self.error,
            cost_seconds: self.cost_seconds,
            attempts: self.attempts as u32,
            worker: self.worker,
            started_at: from_unix(self.started_at),
            finished_at: from_unix(self.finished_at),
        })
    }
}

/// The message a trial gets when its worker stopped heartbeating too often.
pub(crate) fn lost_worker_error(worker: Option<&str>, attempts: i64) -> String {
    format!(
        "worker {} stopped responding; gave up after {attempts} attempts",
        worker.unwrap_or("?")
    )
}

/// The one rule for changing a stored trial: a finished trial never changes, and a RUNNING
/// one changes only for the worker holding it. `stored_state`/`holder` are what the store has.
pub(crate) fn check_update(
    study: i64,
    trial: &Trial,
    stored_state: String,
    holder: Option<String>,
) -> Result<(), StoreError> {
    if parse_state(&stored_state)?.is_finished() {
        return Err(StoreError::TrialFinished {
            study,
            number: trial.id,
            state: stored_state,
        });
    }
    if stored_state == "RUNNING" && holder.is_some() && holder != trial.worker {
        return Err(StoreError::NotHolder {
            study,
            number: trial.id,
            holder: holder.unwrap_or_default(),
            worker: trial.worker.clone().unwrap_or_default(),
        });
    }
    Ok(())
}
