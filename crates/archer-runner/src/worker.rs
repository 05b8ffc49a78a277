//! `archer worker`: one of any number of processes, on any machines, running one study held
//! in a shared store (PostgreSQL).
//!
//! Each worker loops: re-queue trials whose heartbeat is older than the grace period; claim
//! a WAITING trial (`FOR UPDATE SKIP LOCKED`), or else, under the study's lock, read the
//! trials changed since its last look and (only if another process saved one since) the
//! strategy's state, ask, and store the new trial with the new state; then
//! evaluate while a second connection heartbeats; then, under the lock again, tell the
//! strategy and store the result with its state. The lock dies with its holder, a stored
//! result is refused unless the worker still holds the trial, so no trial completes twice
//! and none is lost.
//!
//! A lost database connection (a server restart) does not end a worker: the step that met
//! it is started over once the store has reconnected, a trial being evaluated goes on (its
//! heartbeats and per-step writes are skipped while the server is away), and its result is
//! written once the server is back. The store gives up, and so does the worker, when the
//! server stays away longer than its reconnect window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use archer_core::{History, Trial, TrialState};
use archer_store::{Store, StoreError, StudyRecord};
use archer_strategy::{Strategy, StrategyError};

use crate::coordination::{drive, Coordination, Next};
use crate::study::{
    ask_feasible, budget_reached, charged_seconds, evaluate_answered, finished_in_order, how_kept,
    newly_charged, promoted, schedule_trial, trailing_failures, trial_seed, Kept, ReportSink,
};
use crate::{Experiment, RunError, StopReason};
use archer_schedule::{Admission, Scheduler};

/// What a worker did.
#[derive(Clone, Debug, Default)]
pub struct WorkerReport {
    pub evaluated: u64,
    /// Results refused because the trial had been handed to another worker meanwhile.
    pub dropped: u64,
    pub stop: Option<StopReason>,
}

/// A line of news from a worker.
pub enum WorkerEvent<'a> {
    Finished(&'a Trial),
    Dropped(&'a Trial, &'a StoreError),
    /// The connection to the store was lost; the worker goes on once it is back.
    Disconnected(&'a StoreError),
}

/// How many times a trial's result is written again after the connection was lost while
/// writing it (each write first waits for the store to reconnect).
const RESULT_WRITE_TRIES: usize = 5;

pub struct Worker {
    experiment: Experiment,
    store: Box<dyn Store>,
    /// A second connection, used only by the heartbeat thread.
    heartbeat_store: Box<dyn Store>,
    record: StudyRecord,
    id: String,
    poll: Duration,
    /// The study's trials as last read, and the change sequence they are current to: each
    /// refresh reads only what changed since (`Store::trials_since`).
    history: History,
    seen_seq: i64,
    /// The strategy as this worker last saved or restored it, and the store's state version
    /// then; it is rebuilt only when another process saved a newer state.
    strategy: Option<(Box<dyn Strategy>, i64)>,
    /// Each trial's fidelity and whether its evaluation goes on, as in the in-process study.
    scheduler: Box<dyn Scheduler>,
}

impl Worker {
    /// `store` and `heartbeat_store`: two connections to the study's store. The scheduler
    /// is the experiment's `[scheduler]`, as in the in-process study.
    pub fn new(
        experiment: Experiment,
        store: Box<dyn Store>,
        heartbeat_store: Box<dyn Store>,
        record: StudyRecord,
        id: String,
    ) -> Result<Self, RunError> {
        let poll = Duration::from_secs_f64(
            (experiment.config.study.heartbeat_seconds / 2.0).clamp(0.05, 2.0),
        );
        let scheduler = crate::build_scheduler(&experiment)?;
        Ok(Worker {
            experiment,
            store,
            heartbeat_store,
            record,
            id,
            poll,
            history: History::new(),
            seen_seq: 0,
            strategy: None,
            scheduler,
        })
    }

    /// Uses `scheduler` instead of the experiment's `[scheduler]`; every worker of a study
    /// must use the same one (it decides from the shared history).
    pub fn with_scheduler(mut self, scheduler: Box<dyn Scheduler>) -> Self {
        self.scheduler = scheduler;
        self
    }

    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    /// Under the study lock: the strategy as stored now, reusing this worker's own copy when
    /// nobody saved a state since this worker did.
    fn take_strategy(&mut self) -> Result<Box<dyn Strategy>, RunError> {
        let version = self.store.state_version(self.record.id)?;
        match self.strategy.take() {
            Some((strategy, mine)) if mine == version => Ok(strategy),
            _ => {
                let state = self.store.strategy_state(self.record.id)?;
                Ok(crate::restored_strategy(&self.experiment, state)?)
            }
        }
    }

    /// Keeps `strategy`, whose state this worker has just saved, for the next ask or tell.
    fn keep_strategy(&mut self, strategy: Box<dyn Strategy>) -> Result<(), RunError> {
        let version = self.store.state_version(self.record.id)?;
        self.strategy = Some((strategy, version));
        Ok(())
    }

    /// Brings the cached history up to date with the trials changed since the last look.
    fn refresh_history(&mut self) -> Result<(), RunError> {
        Ok(read_changes(
            self.store.as_mut(),
            self.record.id,
            self.experiment.space.as_ref(),
            &mut self.history,
            &mut self.seen_seq,
        )?)
    }

    /// A promoted trial, RUNNING again under this worker and stored; `None` if the trial
    /// is no longer PAUSED.
    fn start_promoted(&mut self, p: archer_schedule::Promotion) -> Result<Option<Next>, RunError> {
        let Some(t) = promoted(&self.experiment, p, &self.history, &self.id)? else {
            return Ok(None);
        };
        self.store.update_trial(self.record.id, &t, None)?;
        Ok(Some(Next::Run(Box::new(t))))
    }

    /// Under the study lock: a new proposal, or why there is none.
    fn propose(&mut self) -> Result<Next, RunError> {
        self.refresh_history()?;
        let history = &self.history;
        let finished = finished_in_order(history);
        let sim = charged_seconds(history);
        let failures = trailing_failures(&finished);
        let elapsed = crate::launch::unix_now() - self.record.created_at;
        let open = history
            .trials()
            .iter()
            .any(|t| matches!(t.state, TrialState::Waiting | TrialState::Running));
        if let Some(reason) =
            budget_reached(&self.experiment.config, history, sim, elapsed, failures)
        {
            return Ok(if open { Next::Wait } else { Next::Done(reason) });
        }
        if let Admission::Promote(p) = self.scheduler.next(&self.history) {
            if let Some(next) = self.start_promoted(p)? {
                return Ok(next);
            }
        }
        let mut strategy = self.take_strategy()?;
        let (store, study) = (&mut self.store, self.record.id);
        let asked = ask_feasible(
            &self.experiment,
            strategy.as_mut(),
            &mut self.history,
            &self.id,
            &mut |t, state| Ok(store.add_trial(study, t, state)?),
        )?;
        let proposal = match asked {
            Ok(p) => p,
            Err(e) => {
                // Screened trials were saved with the state after their tells.
                self.keep_strategy(strategy)?;
                let StrategyError::Exhausted(detail) = e else {
                    return Err(e.into());
                };
                if let Some(p) = self.scheduler.exhausted(&self.history) {
                    if let Some(next) = self.start_promoted(p)? {
                        return Ok(next);
                    }
                }
                return Ok(if open {
                    Next::Wait
                } else {
                    Next::Done(StopReason::Exhausted { detail })
                });
            }
        };
        let t = schedule_trial(
            self.scheduler.as_mut(),
            &self.history,
            proposal,
            self.experiment.space.as_ref(),
            &self.id,
        );
        self.store
            .add_trial(self.record.id, &t, &strategy.state())?;
        self.keep_strategy(strategy)?;
        Ok(Next::Run(Box::new(t)))
    }

    fn locked<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, RunError>,
    ) -> Result<T, RunError> {
        self.store.lock_study(self.record.id)?;
        let result = f(self);
        // The work's own error wins over a failed unlock (which the connection's end fixes).
        let unlocked = self.store.unlock_study(self.record.id);
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// Applies `scheduler.max_paused_checkpoints` under the study lock, on the history as
    /// stored now: promotions are taken under the same lock, so a checkpoint another worker
    /// is continuing from is never dropped. A trial another worker changed meanwhile keeps
    /// its stored state (the store refuses the write).
    fn bound_paused_checkpoints(&mut self) -> Result<(), RunError> {
        if self
            .experiment
            .config
            .scheduler
            .max_paused_checkpoints
            .is_none()
        {
            return Ok(());
        }
        self.locked(|w| {
            w.refresh_history()?;
            let dropped = crate::checkpoints::bound_paused(
                &w.experiment,
                w.scheduler.as_ref(),
                &mut w.history,
            )?;
            for t in &dropped {
                match w.store.update_trial(w.record.id, t, None) {
                    Ok(())
                    | Err(StoreError::NotHolder { .. } | StoreError::TrialFinished { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })
    }

    /// Evaluates `trial` while heartbeating it, then records the result.
    fn run_trial(
        &mut self,
        mut trial: Trial,
        report: &mut WorkerReport,
        observer: &mut dyn FnMut(WorkerEvent),
    ) -> Result<(), RunError> {
        let done = Arc::new(AtomicBool::new(false));
        // Set by the heartbeat thread when the store says this worker no longer holds the
        // trial (re-queued after a stall, taken by another): the evaluation stops at its
        // next report instead of running on for nothing.
        let lost = Arc::new(AtomicBool::new(false));
        let beat = Duration::from_secs_f64(self.experiment.config.study.heartbeat_seconds);
        let (study, number, me) = (self.record.id, trial.id, self.id.clone());
        let attempt = trial.attempts;
        let hb_store = &mut self.heartbeat_store;
        let experiment = &self.experiment;
        let started = trial.clone();
        let mut sink = ReportSink {
            store: Some((self.store.as_mut(), self.record.id)),
            lost: Some(&lost),
            scheduler: self.scheduler.as_mut(),
            history: &mut self.history,
            refresh: Some((&mut self.seen_seq, self.experiment.space.as_ref())),
            wall_deadline: crate::study::WallDeadline::of(experiment, self.record.created_at),
        };
        let seed = trial_seed(self.experiment.config.study.seed, trial.id);
        std::thread::scope(|scope| {
            let done_hb = done.clone();
            let lost_hb = lost.clone();
            scope.spawn(move || {
                let mut waited = Duration::ZERO;
                while !done_hb.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    waited += Duration::from_millis(20);
                    if waited >= beat {
                        waited = Duration::ZERO;
                        // A heartbeat that cannot reach the store only risks a re-run, which
                        // the store resolves; one the store refuses means the trial is gone.
                        if let Ok(false) = hb_store.heartbeat(study, number, &me, attempt) {
                            lost_hb.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
            evaluate_answered(experiment, &mut trial, seed, &mut |step, value| {
                sink.report(&started, step, value)
            });
            done.store(true, Ordering::Relaxed);
        });
        newly_charged(&mut trial);
        let kept = how_kept(&self.experiment.config.study, &mut trial);
        let remove_folder = kept == Kept::Told
            && crate::checkpoints::mark_finished(&self.experiment, &mut trial, 0);
        let mut outcome = Ok(());
        for _ in 0..RESULT_WRITE_TRIES {
            outcome = if kept != Kept::Told {
                self.store
                    .update_trial(self.record.id, &trial, None)
                    .map_err(RunError::from)
            } else {
                self.locked(|w| {
                    let mut strategy = w.take_strategy()?;
                    strategy.tell(&trial);
                    w.store
                        .update_trial(w.record.id, &trial, Some(&strategy.state()))?;
                    w.keep_strategy(strategy)
                })
            };
            match &outcome {
                Err(RunError::Store(e @ StoreError::Disconnected { .. })) => {
                    observer(WorkerEvent::Disconnected(e))
                }
                _ => break,
            }
        }
        match outcome {
            Ok(()) => {
                if remove_folder {
                    crate::checkpoints::remove_folder(&self.experiment, trial.id)?;
                }
                if kept == Kept::Paused {
                    self.bound_paused_checkpoints()?;
                }
                report.evaluated += 1;
                observer(WorkerEvent::Finished(&trial));
                Ok(())
            }
            Err(RunError::Store(
                e @ (StoreError::NotHolder { .. } | StoreError::TrialFinished { .. }),
            )) => {
                report.dropped += 1;
                observer(WorkerEvent::Dropped(&trial, &e));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Works until the study is over: its budget reached and no trial left open.
    pub fn run(&mut self, observer: &mut dyn FnMut(WorkerEvent)) -> Result<WorkerReport, RunError> {
        let mut report = WorkerReport::default();
        let stop = drive(&mut WorkerTurn {
            worker: self,
            report: &mut report,
            observer,
        })?;
        report.stop = Some(stop);
        Ok(report)
    }
}

/// The worker as a coordination of the study loop, with what it reports.
struct WorkerTurn<'a> {
    worker: &'a mut Worker,
    report: &'a mut WorkerReport,
    observer: &'a mut dyn FnMut(WorkerEvent),
}

impl Coordination for WorkerTurn<'_> {
    /// Re-queues stale trials, then claims a WAITING trial, or else, under the study lock,
    /// promotes a paused one or asks for a new one; when the study is over, records why.
    fn next(&mut self) -> Result<Next, RunError> {
        let w = &mut *self.worker;
        let study = &w.experiment.config.study;
        w.store
            .requeue_stale(w.record.id, study.grace_seconds, study.max_attempts)?;
        if let Some(mut t) = w.store.claim(w.record.id, &w.id)? {
            t.worker = Some(w.id.clone());
            return Ok(Next::Run(Box::new(t)));
        }
        let next = w.locked(|w| w.propose())?;
        if let Next::Done(reason) = &next {
            if w.store
                .study(&w.record.name)?
                .is_some_and(|r| r.stop_reason.is_none())
            {
                w.store.finish_study(w.record.id, &reason.to_string())?;
            }
        }
        Ok(next)
    }

    fn run(&mut self, trial: Trial) -> Result<(), RunError> {
        self.worker.run_trial(trial, self.report, self.observer)
    }

    fn wait(&mut self) {
        std::thread::sleep(self.worker.poll);
    }

    fn recover(&mut self, error: RunError) -> Result<(), RunError> {
        let RunError::Store(e @ StoreError::Disconnected { .. }) = error else {
            return Err(error);
        };
        // The store reconnects at its next use. What this worker cached may hold a write
        // that never committed: read everything afresh.
        (self.observer)(WorkerEvent::Disconnected(&e));
        let w = &mut *self.worker;
        w.history = History::new();
        w.seen_seq = 0;
        w.strategy = None;
        std::thread::sleep(w.poll);
        Ok(())
    }
}

/// Adds to `history` the trials of `study` changed in the store since change `seq`, and
/// moves `seq` on. A changed trial beyond the history's next one, or one whose
/// architecture is outside `space`, means the store is corrupt.
pub(crate) fn read_changes(
    store: &mut dyn Store,
    study: archer_store::StudyId,
    space: &dyn archer_space::SearchSpace,
    history: &mut History,
    seq: &mut i64,
) -> Result<(), StoreError> {
    let changes = store.trials_since(study, *seq)?;
    for t in changes.trials {
        if t.id > history.next_id() {
            return Err(StoreError::Corrupt(format!(
                "trial {} changed but trial {} was never seen",
                t.id,
                history.next_id()
            )));
        }
        space.check(&t.arch).map_err(|e| {
            StoreError::Corrupt(format!(
                "trial {} holds an architecture outside the space: {e}",
                t.id
            ))
        })?;
        history.record(t);
    }
    *seq = changes.seq;
    Ok(())
}
