use archer_core::Trial;

use crate::{NewStudy, StoreError, StudyId, StudyRecord, TrialChanges};

/// Durable record of studies and their trials.
///
/// Contract (checked by the conformance suite for every backend):
/// - a study's name is unique; trial numbers are dense from 0 within a study;
/// - [`Store::add_trial`] stores the new trial *and* the strategy state after the ask in
///   one transaction, and [`Store::update_trial`] stores a trial's new state and (when
///   given) the strategy state after the tell in one transaction, so the stored strategy
///   state always matches the stored trials, whenever a process dies;
/// - every save of the strategy state increments the study's [`Store::state_version`];
/// - every write that changes a trial ([`Store::add_trial`], [`Store::update_trial`],
///   [`Store::claim`], [`Store::requeue_stale`], [`Store::report_intermediate`]; not
///   [`Store::heartbeat`]) gives it a change sequence number greater than every earlier one
///   of the study, in the same transaction, so [`Store::trials_since`] misses nothing;
/// - a trial's *holder* is its stored `(worker, attempts)`; a caller is identified by the
///   `(trial.worker, trial.attempts)` it passes. [`Store::claim`] increments attempts, so the
///   pair is a fencing token: an attempt that lost its trial (re-queued and claimed again,
///   even under the same worker id) can no longer change it;
/// - a RUNNING trial changes only for its holder; WAITING and PAUSED trials are not held and
///   may be replaced by any caller;
/// - a finished trial (COMPLETE, PRUNED, FAILED) never changes again, except the late-result
///   case of [`Store::update_trial`];
/// - [`Store::claim`] hands each WAITING trial to exactly one caller, even across processes;
/// - every method is safe to call from many processes at once on the same database.
pub trait Store: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates a study (state version 0, change sequence 0); `StudyExists` if the name is
    /// taken.
    fn create_study(&mut self, study: &NewStudy) -> Result<StudyRecord, StoreError>;

    fn study(&mut self, name: &str) -> Result<Option<StudyRecord>, StoreError>;

    fn studies(&mut self) -> Result<Vec<StudyRecord>, StoreError>;

    /// Every trial of the study, in number order, intermediate values included (empty for
    /// an unknown study).
    fn trials(&mut self, study: StudyId) -> Result<Vec<Trial>, StoreError>;

    /// Trials changed after `after_seq` (in number order), and the study's latest sequence number.
    ///
    /// Both are read in one snapshot: a later call with `after_seq` = the returned `seq`
    /// returns exactly the trials changed since. `after_seq = 0` returns every trial (all
    /// sequence numbers are at least 1). `NoSuchStudy` for an unknown study.
    fn trials_since(&mut self, study: StudyId, after_seq: i64) -> Result<TrialChanges, StoreError>;

    /// The last saved strategy state.
    fn strategy_state(&mut self, study: StudyId) -> Result<serde_json::Value, StoreError>;

    /// How many times the strategy state has been saved since `create_study` (0 before the
    /// first save), read without loading the state. A process that keeps a strategy in
    /// memory may reuse it while this is unchanged. Read it *before* `strategy_state`, so
    /// that a save in between shows as a newer version next time rather than being missed;
    /// under the study lock, read it after one's own save to learn one's own version.
    /// `NoSuchStudy` for an unknown study.
    fn state_version(&mut self, study: StudyId) -> Result<i64, StoreError>;

    /// Inserts a new trial (its number must be the next one) together with the strategy
    /// state after the ask that proposed it.
    fn add_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Replaces the stored trial with `trial` (same number; its intermediate values replace
    /// the stored ones), with the strategy state after the tell when given.
    ///
    /// - `NoSuchTrial` if there is no such trial.
    /// - `NotHolder` if the stored trial is RUNNING and the caller
    ///   (`trial.worker`, `trial.attempts`) is not its holder.
    /// - `TrialFinished` if the stored trial is finished, except for a late result: when
    ///   [`Store::requeue_stale`] failed the trial for a lost worker (it keeps that holder's
    ///   worker and attempts and sets attrs `"lost_worker": true`), a *finished* trial
    ///   (COMPLETE, PRUNED or FAILED) from that same holder and attempt is accepted and
    ///   replaces the FAILED row, since nobody else will run it. Anyone else still gets
    ///   `TrialFinished`.
    /// - A late result after a re-queue to WAITING (before anyone claims it again) is
    ///   accepted like any write to a WAITING trial.
    ///
    /// A refused update changes nothing (strategy state included).
    fn update_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: Option<&serde_json::Value>,
    ) -> Result<(), StoreError>;

    /// Records one intermediate value of a RUNNING trial at once (upsert by step), as its holder
    /// (`trial.worker`, `trial.attempts`) reports it. TrialFinished / NotHolder as update_trial.
    ///
    /// The value is committed before this returns, so other connections see it (through
    /// `trials` and `trials_since`) while the trial runs. `NotHolder` also when the trial is
    /// not RUNNING (WAITING or PAUSED); `NoSuchTrial` if there is no such trial. Only `step`
    /// changes: the rest of the stored trial, other steps included, stays as it is.
    fn report_intermediate(
        &mut self,
        study: StudyId,
        trial: &Trial,
        step: u32,
        value: f64,
    ) -> Result<(), StoreError>;

    /// Atomically takes the lowest-numbered WAITING trial (never a PAUSED one): RUNNING, held
    /// by `worker`, heartbeat now, attempts + 1. The returned trial carries the new
    /// `(worker, attempts)` the holder must pass back.
    fn claim(&mut self, study: StudyId, worker: &str) -> Result<Option<Trial>, StoreError>;

    /// Refreshes the heartbeat of a RUNNING trial held by `worker` at attempt `attempt`; false
    /// if that claim no longer holds it. Not a change: the trial's sequence number stays.
    fn heartbeat(
        &mut self,
        study: StudyId,
        number: u64,
        worker: &str,
        attempt: u32,
    ) -> Result<bool, StoreError>;

    /// RUNNING trials whose heartbeat is older than `grace_seconds` go back to WAITING
    /// (worker cleared, attempts kept), or become FAILED once they have been attempted
    /// `max_attempts` times (worker and attempts kept, attrs `"lost_worker": true`, an error
    /// naming the worker; see the late-result rule of [`Store::update_trial`]). PAUSED
    /// trials are left alone. Returns the numbers of the trials it changed. PostgreSQL
    /// measures heartbeats on the database server's clock.
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
