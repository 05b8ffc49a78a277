use archer_core::Objective;
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
    pub objective: Objective,
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
    pub objective: Objective,
    /// Unix seconds.
    pub created_at: f64,
    /// Set when the study ended normally.
    pub stop_reason: Option<String>,
}
