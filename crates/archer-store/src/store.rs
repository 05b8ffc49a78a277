use archer_core::Trial;

use crate::{NewStudy, StoreError, StudyId, StudyRecord};

/// Durable record of studies and their trials.
///
/// Contract (checked by the conformance suite for every backend):
/// - a study's name is unique; trial numbers are dense from 0 within a study;
/// - [`Store::add_trial`] stores the new trial *and* the strategy state after the ask in
///   one transaction, and [`Store::update_trial`] stores a trial's new state and (when
///   given) the strategy state after the tell in one transaction, so the stored strategy
///   state always matches the stored trials, whenever a process dies;
/// - a finished trial (COMPLETE, PRUNED, FAILED) never changes again;
/// - [`Store::claim`] hands each WAITING trial to exactly one caller, even across processes;
/// - every method is safe to call from many processes at once on the same database.
pub trait Store: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates a study; `StudyExists` if the name is taken.
    fn create_study(&mut self, study: &NewStudy) -> Result<StudyRecord, StoreError>;

    fn study(&mut self, name: &str) -> Result<Option<StudyRecord>, StoreError>;

    fn studies(&mut self) -> Result<Vec<StudyRecord>, StoreError>;

    /// Every trial of the study, in number order, intermediate values included.
    fn trials(&mut self, study: StudyId) -> Result<Vec<Trial>, StoreError>;

    /// The last saved strategy state.
    fn strategy_state(&mut self, study: StudyId) -> Result<serde_json::Value, StoreError>;

    /// Inserts a new trial (its number must be the next one) together with the strategy
    /// state after the ask that proposed it.
    fn add_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Replaces the stored trial with `trial` (same number), with the strategy state after
    /// the tell when given. Fails with `TrialFinished` if the stored trial is finished, and
    /// with `NotHolder` if it is RUNNING under another worker than `trial.worker`.
    fn update_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: Option<&serde_json::Value>,
    ) -> Result<(), StoreError>;

    /// Atomically takes the lowest-numbered WAITING trial: RUNNING, held by `worker`,
    /// heartbeat now, attempts + 1.
    fn claim(&mut self, study: StudyId, worker: &str) -> Result<Option<Trial>, StoreError>;

    /// Refreshes the heartbeat of a trial `worker` holds; false if it no longer holds it.
    fn heartbeat(&mut self, study: StudyId, number: u64, worker: &str) -> Result<bool, StoreError>;

    /// RUNNING trials whose heartbeat is older than `grace_seconds` go back to WAITING, or
    /// become FAILED once they have been attempted `max_attempts` times. Returns the numbers
    /// of the trials it changed.
    fn requeue_stale(
        &mut self,
        study: StudyId,
        grace_seconds: f64,
        max_attempts: u32,
    ) -> Result<Vec<u64>, StoreError>;

    /// Blocks until this connection holds the study's exclusive lock, under which a process
    /// reads the history and strategy state, asks or tells, and writes them back. The lock
    /// dies with the connection (or process), so a killed holder never blocks the others.
    fn lock_study(&mut self, study: StudyId) -> Result<(), StoreError>;

    /// Releases the lock taken by `lock_study`.
    fn unlock_study(&mut self, study: StudyId) -> Result<(), StoreError>;

    /// Marks the study as ended normally.
    fn finish_study(&mut self, study: StudyId, stop_reason: &str) -> Result<(), StoreError>;
}
