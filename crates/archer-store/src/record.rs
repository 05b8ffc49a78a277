use archer_core::{Constraint, Objective, Trial};
use serde::{Deserialize, Serialize};

pub type StudyId = i64;

/// What is needed to create a study.
#[derive(Clone, Debug, PartialEq)]
pub struct NewStudy {
    pub name: String,
    /// The experiment file as run (TOML).
    pub config_toml: String,
    pub seed: u64,
    pub space: String,
    pub space_version: u32,
    /// What the study optimises, in order: `Trial::scores[i]` belongs to `objectives[i]`.
    pub objectives: Vec<Objective>,
    /// Hard limits a trial must meet to be feasible (may be empty).
    pub constraints: Vec<Constraint>,
    /// The strategy's state before its first ask.
    pub strategy_state: serde_json::Value,
}

/// A study as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyRecord {
    pub id: StudyId,
    pub name: String,
    pub config_toml: String,
    pub seed: u64,
    pub space: String,
    pub space_version: u32,
    /// As given to `create_study`; a study from schema v1 has its one objective here.
    pub objectives: Vec<Objective>,
    /// As given to `create_study`; empty for a study from schema v1.
    pub constraints: Vec<Constraint>,
    /// Unix seconds.
    pub created_at: f64,
    /// Set when the study ended normally.
    pub stop_reason: Option<String>,
}

/// The answer of [`crate::Store::trials_since`]: what changed, and how far the caller has now
/// seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrialChanges {
    /// Every trial whose last change has a sequence number above the one asked for, in
    /// number order, as it is now (intermediate values included).
    pub trials: Vec<Trial>,
    /// The study's latest change sequence number, read in the same snapshot as `trials`:
    /// pass it as `after_seq` next time to get only what changed since.
    pub seq: i64,
}
