use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use archer_core::{
    metric, scores, total_violation, Constraint, History, Metrics, Objective, Report, Trial,
    TrialCtx, TrialState, SCREENED_ATTR,
};
use archer_eval::Evaluator;
use archer_rng::Rng;
use archer_store::{NewStudy, Store, StudyId, StudyRecord};
use archer_strategy::{Proposal, Strategy, StrategyError};
use chrono::Utc;
use serde::Serialize;

use crate::coordination::{drive, Coordination, Next};
use crate::{Experiment, Recorder, RunError};
use archer_schedule::{Admission, Decision, Promotion, Scheduler};

/// Why a study ended normally.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    TrialBudget,
    SimBudget,
    WallBudget,
    /// The strategy found nothing new to evaluate.
    Exhausted {
        detail: String,
    },
    TooManyFailures {
        count: u64,
        last_error: String,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::TrialBudget => write!(f, "trial budget reached"),
            StopReason::SimBudget => write!(f, "simulated-time budget reached"),
            StopReason::WallBudget => write!(f, "wall-clock budget reached"),
            StopReason::Exhausted { detail } => write!(f, "{detail}"),
            StopReason::TooManyFailures { count, last_error } => {
                write!(
                    f,
                    "{count} trials failed in a row; last error: {last_error}"
                )
            }
        }
    }
}

/// The incumbent (best trial by the objective) after each finished trial.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrajectoryPoint {
    /// Finished trials so far.
    pub trials: u64,
    pub sim_seconds: f64,
    pub incumbent: u64,
    pub incumbent_metrics: Metrics,
}

/// What a study did.
#[derive(Clone, Debug, Serialize)]
pub struct StudySummary {
    pub name: String,
    pub seed: u64,
    pub strategy: String,
    pub stop: StopReason,
    pub trials: u64,
    pub complete: u64,
    pub failed: u64,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub best: Option<Trial>,
    /// With several objectives: the feasible Pareto front, in id order (else empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pareto_front: Vec<Trial>,
    #[serde(skip)]
    pub trajectory: Vec<TrajectoryPoint>,
    /// Wall seconds of each `ask` in this process, in order (a resumed study starts anew).
    #[serde(skip)]
    pub ask_seconds: Vec<f64>,
}

/// Something worth showing while a study runs.
pub enum Event<'a> {
    TrialFinished {
        trial: &'a Trial,
        /// The trial is the new incumbent.
        new_best: bool,
        sim_seconds: f64,
        trials: u64,
    },
    /// A one-shot search finished an epoch of supernet training.
    OneShotEpoch {
        epoch: u32,
        of: u32,
        /// The architecture the method prefers now, if it has one before its selection.
        genotype: Option<&'a str>,
        train_loss: f64,
        /// That architecture's CIFAR-10 accuracy in the trust table, when one is given.
        table_acc: Option<f64>,
        seconds: f64,
    },
}

/// Where the study is persisted, if anywhere.
pub(crate) struct Durable {
    pub(crate) store: Box<dyn Store>,
    pub(crate) study: StudyId,
}

/// Owns the search loop: asks the strategy, evaluates (on `study.workers` threads), tells
/// each result as it arrives, enforces the budget, and, when durable, writes every step
/// through the store so that [`Study::resume`] continues exactly where a killed process
/// stopped.
pub struct Study {
    pub(crate) experiment: Experiment,
    strategy: Box<dyn Strategy>,
    pub(crate) history: History,
    /// Trials to run before asking for new ones: re-queued after a crash, or retried.
    pub(crate) waiting: VecDeque<u64>,
    pub(crate) sim_seconds: f64,
    consecutive_failures: u64,
    trajectory: Vec<TrajectoryPoint>,
    pub(crate) durable: Option<Durable>,
    pub(crate) worker: String,
    ask_seconds: Vec<f64>,
    /// When the study was created (Unix seconds; the store's record for a durable study):
    /// the wall-clock budget counts from here, across resumes.
    created_at: f64,
    /// Each trial's fidelity, and whether a running trial goes on (asked by the in-line loop
    /// and, for every report of a pool thread, by the coordinating thread).
    pub(crate) scheduler: Box<dyn Scheduler>,
    /// On simulated workers `sim_seconds` is the simulated clock, which the executor
    /// advances (the parallel run's elapsed time), not the sum of the trials' costs.
    pub(crate) simulated: bool,
}

/// Seed stream for per-trial evaluator seeds, apart from the strategy's.
const EVAL_STREAM: u64 = 0x4556_414c; // "EVAL"

impl Study {
    /// An in-memory study (benchmarks, tests): nothing survives the process.
    pub fn new(experiment: Experiment) -> Result<Self, RunError> {
        let strategy = crate::build_strategy(&experiment)?;
        Self::with_strategy(experiment, strategy)
    }

    fn with_strategy(
        experiment: Experiment,
        strategy: Box<dyn Strategy>,
    ) -> Result<Self, RunError> {
        let scheduler = crate::build_scheduler(&experiment)?;
        Ok(Study {
            experiment,
            strategy,
            history: History::new(),
            waiting: VecDeque::new(),
            sim_seconds: 0.0,
            consecutive_failures: 0,
            trajectory: Vec::new(),
            durable: None,
            worker: format!("local-{}", std::process::id()),
            ask_seconds: Vec::new(),
            created_at: crate::launch::unix_now(),
            scheduler,
            simulated: false,
        })
    }

    /// Uses `scheduler` instead of the experiment's `[scheduler]`.
    pub fn with_scheduler(mut self, scheduler: Box<dyn Scheduler>) -> Self {
        self.scheduler = scheduler;
        self
    }

    /// A new study recorded in `store`; fails if the store already has one of that name.
    pub fn create(experiment: Experiment, mut store: Box<dyn Store>) -> Result<Self, RunError> {
        let mut study = Study::new(experiment)?;
        let e = &study.experiment;
        let record = store.create_study(&NewStudy {
            name: e.config.study.name.clone(),
            config_toml: e.config.to_toml(),
            seed: e.config.study.seed,
            space: e.space.name().to_string(),
            space_version: e.space.version(),
            objectives: e.objectives.clone(),
            constraints: e.constraints.clone(),
            strategy_state: study.strategy.state(),
        })?;
        study.created_at = record.created_at;
        study.durable = Some(Durable {
            store,
            study: record.id,
        });
        Ok(study)
    }

    /// Continues a stored study. Call only when no other process runs it (the caller holds
    /// the experiment's lock): every RUNNING trial belongs to a dead process and is re-queued,
    /// or FAILED once started `study.max_attempts` times.
    pub fn resume(
        experiment: Experiment,
        mut store: Box<dyn Store>,
        record: &StudyRecord,
    ) -> Result<Self, RunError> {
        store.requeue_stale(
            record.id,
            f64::NEG_INFINITY,
            experiment.config.study.max_attempts,
        )?;
        Self::load(experiment, store, record)
    }

    /// A stored study as it is, changing nothing (e.g. to export one that distributed
    /// workers finished).
    pub fn load(
        experiment: Experiment,
        mut store: Box<dyn Store>,
        record: &StudyRecord,
    ) -> Result<Self, RunError> {
        let space = experiment.space.as_ref();
        if record.space != space.name() || record.space_version != space.version() {
            return Err(archer_store::StoreError::Corrupt(format!(
                "study {} was made with space {} version {}, and this build has {} version {}; its architectures would be misread",
                record.name, record.space, record.space_version, space.name(), space.version()
            ))
            .into());
        }
        let trials = store.trials(record.id)?;
        for t in &trials {
            space.check(&t.arch).map_err(|e| {
                archer_store::StoreError::Corrupt(format!(
                    "trial {} of study {} holds an architecture outside the space: {e}",
                    t.id, record.name
                ))
            })?;
        }
        let strategy = crate::restored_strategy(&experiment, store.strategy_state(record.id)?)?;
        let mut study = Self::with_strategy(experiment, strategy)?;
        study.history = History::from_trials(trials).map_err(|missing| {
            archer_store::StoreError::Corrupt(format!("trial {missing} is missing"))
        })?;
        for t in study.history.trials() {
            if t.state == TrialState::Waiting {
                study.waiting.push_back(t.id);
            }
        }
        study.sim_seconds = charged_seconds(&study.history);
        study.rebuild_trajectory();
        study.created_at = record.created_at;
        study.durable = Some(Durable {
            store,
            study: record.id,
        });
        Ok(study)
    }

    /// Rebuilds what a loaded study derives from its history: the incumbent trajectory and
    /// the current run of consecutive failures.
    fn rebuild_trajectory(&mut self) {
        let finished = finished_in_order(&self.history);
        self.consecutive_failures = trailing_failures(&finished);
        let mut best: Option<&Trial> = None;
        let mut sim = 0.0;
        let evaluated = finished.into_iter().filter(|t| !t.is_screened());
        for (n, t) in evaluated.enumerate() {
            sim += t.cost_seconds;
            if t.score.is_some() && best.is_none_or(|b| t.score > b.score) {
                best = Some(t);
            }
            if let Some(b) = best {
                self.trajectory.push(TrajectoryPoint {
                    trials: n as u64 + 1,
                    sim_seconds: sim,
                    incumbent: b.id,
                    incumbent_metrics: b.metrics.clone(),
                });
            }
        }
    }

    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    fn budget_reached(&self) -> Option<StopReason> {
        budget_reached(
            &self.experiment.config,
            &self.history,
            self.sim_seconds,
            crate::launch::unix_now() - self.created_at,
            self.consecutive_failures,
        )
    }

    /// A re-queued trial, now RUNNING and persisted, if any is waiting.
    pub(crate) fn next_waiting(&mut self) -> Result<Option<Trial>, RunError> {
        let Some(id) = self.waiting.pop_front() else {
            return Ok(None);
        };
        let mut t = self
            .history
            .get(id)
            .expect("queued trials are in the history")
            .clone();
        t.state = TrialState::Running;
        t.attempts += 1;
        t.worker = Some(self.worker.clone());
        t.started_at = Some(Utc::now());
        self.history.record(t.clone());
        if let Some(d) = &mut self.durable {
            d.store.update_trial(d.study, &t, None)?;
        }
        Ok(Some(t))
    }

    /// Records a promoted trial (RUNNING again) and persists it.
    fn start_promoted(&mut self, p: Promotion) -> Result<Option<Trial>, RunError> {
        let Some(t) = promoted(&self.experiment, p, &self.history, &self.worker)? else {
            return Ok(None);
        };
        self.history.record(t.clone());
        if let Some(d) = &mut self.durable {
            d.store.update_trial(d.study, &t, None)?;
        }
        Ok(Some(t))
    }

    /// Whether a trial is being evaluated now.
    fn in_flight(&self) -> bool {
        self.history
            .trials()
            .iter()
            .any(|t| t.state == TrialState::Running)
    }

    /// The next trial to run, now RUNNING and persisted: a waiting one first, then a
    /// promotion the scheduler asks for, else a new proposal; `Wait` when the strategy has
    /// nothing new but trials still run (their results may allow a promotion), `Done` when
    /// no new trial should start.
    pub(crate) fn next_trial(&mut self) -> Result<Next, RunError> {
        if let Some(t) = self.next_waiting()? {
            return Ok(Next::Run(Box::new(t)));
        }
        if let Some(reason) = self.budget_reached() {
            return Ok(Next::Done(reason));
        }
        if let Admission::Promote(p) = self.scheduler.next(&self.history) {
            if let Some(t) = self.start_promoted(p)? {
                return Ok(Next::Run(Box::new(t)));
            }
        }
        let asked = Instant::now();
        let durable = &mut self.durable;
        let proposal = ask_feasible(
            &self.experiment,
            self.strategy.as_mut(),
            &mut self.history,
            &self.worker,
            &mut |t, state| match durable {
                Some(d) => Ok(d.store.add_trial(d.study, t, state)?),
                None => Ok(()),
            },
        )?;
        self.ask_seconds.push(asked.elapsed().as_secs_f64());
        let proposal = match proposal {
            Ok(p) => p,
            Err(StrategyError::Exhausted(detail)) => {
                if let Some(p) = self.scheduler.exhausted(&self.history) {
                    if let Some(t) = self.start_promoted(p)? {
                        return Ok(Next::Run(Box::new(t)));
                    }
                }
                return Ok(if self.in_flight() {
                    Next::Wait
                } else {
                    Next::Done(StopReason::Exhausted { detail })
                });
            }
            Err(e) => return Err(e.into()),
        };
        let t = schedule_trial(
            self.scheduler.as_mut(),
            &self.history,
            proposal,
            self.experiment.space.as_ref(),
            &self.worker,
        );
        self.history.record(t.clone());
        if let Some(d) = &mut self.durable {
            d.store.add_trial(d.study, &t, &self.strategy.state())?;
        }
        Ok(Next::Run(Box::new(t)))
    }

    /// Records a trial evaluated outside the loop (a one-shot search's architecture) as
    /// COMPLETE or FAILED by its metrics: scored, checked against the constraints, told and
    /// stored like an evaluated trial. It is stored finished at once, so a kill never leaves
    /// it RUNNING for a resume to re-queue.
    #[cfg_attr(not(feature = "train"), allow(dead_code))]
    pub(crate) fn record_evaluated(
        &mut self,
        proposal: Proposal,
        metrics: Metrics,
        attrs: serde_json::Map<String, serde_json::Value>,
        cost_seconds: f64,
        observer: &mut dyn FnMut(Event),
    ) -> Result<(), RunError> {
        let mut t = start_trial(
            self.history.next_id(),
            proposal,
            self.experiment.space.as_ref(),
            &self.worker,
        );
        t.attrs.extend(attrs);
        t.finished_at = Some(Utc::now());
        apply_outcome(&self.experiment, &mut t, Ok(metrics), cost_seconds);
        t.attempts = 1;
        self.sim_seconds += t.cost_seconds;
        self.consecutive_failures = next_failure_streak(self.consecutive_failures, t.state);
        self.strategy.tell(&t);
        self.history.record(t.clone());
        if let Some(d) = &mut self.durable {
            d.store.add_trial(d.study, &t, &self.strategy.state())?;
        }
        self.announce(&t, observer);
        Ok(())
    }

    /// Queues a trial that the loop evaluates before asking for anything new (a one-shot
    /// search's finalists): WAITING, and stored at once, so that a resumed study runs it.
    /// Returns its id.
    #[cfg_attr(not(feature = "train"), allow(dead_code))]
    pub(crate) fn enqueue(
        &mut self,
        proposal: Proposal,
        attrs: serde_json::Map<String, serde_json::Value>,
    ) -> Result<u64, RunError> {
        let hash = self.experiment.space.canonical_hash(&proposal.arch);
        let mut t = Trial::new(
            self.history.next_id(),
            proposal.arch,
            hash,
            proposal.fidelity,
        );
        if let Some(inherit) = &proposal.inherit {
            t.attrs.insert(
                INHERIT_ATTR.into(),
                serde_json::to_value(inherit).expect("plain data serialises"),
            );
        }
        t.attrs.extend(attrs);
        let id = t.id;
        self.history.record(t.clone());
        if let Some(d) = &mut self.durable {
            d.store.add_trial(d.study, &t, &self.strategy.state())?;
        }
        self.waiting.push_back(id);
        Ok(id)
    }

    /// Records an evaluated trial: retried, or told and persisted with the strategy state.
    pub(crate) fn finish_trial(
        &mut self,
        mut trial: Trial,
        observer: &mut dyn FnMut(Event),
    ) -> Result<(), RunError> {
        let kept = how_kept(&self.experiment.config.study, &mut trial);
        let charged = newly_charged(&mut trial);
        // A failed attempt that will be retried is not charged; on simulated workers the
        // executor keeps the clock.
        if !self.simulated && kept != Kept::Retried {
            self.sim_seconds += charged;
        }
        if kept != Kept::Told {
            if kept == Kept::Retried {
                self.waiting.push_back(trial.id);
            }
            self.history.record(trial.clone());
            if let Some(d) = &mut self.durable {
                d.store.update_trial(d.study, &trial, None)?;
            }
            if kept == Kept::Paused {
                self.bound_paused_checkpoints()?;
            }
            return Ok(());
        }
        self.consecutive_failures = next_failure_streak(self.consecutive_failures, trial.state);
        self.strategy.tell(&trial);
        let parents_kept = self.strategy.parents_kept();
        let remove_folder =
            crate::checkpoints::mark_finished(&self.experiment, &mut trial, parents_kept);
        self.history.record(trial.clone());
        if let Some(d) = &mut self.durable {
            d.store
                .update_trial(d.study, &trial, Some(&self.strategy.state()))?;
        }
        if remove_folder {
            crate::checkpoints::remove_folder(&self.experiment, trial.id)?;
        }
        if parents_kept > 0 {
            crate::checkpoints::bound_parents(&self.experiment, &self.history, parents_kept)?;
        }
        self.announce(&trial, observer);
        Ok(())
    }

    /// Extends the incumbent trajectory by a trial just told and stored, and shows it.
    fn announce(&mut self, trial: &Trial, observer: &mut dyn FnMut(Event)) {
        let finished = self.trajectory.last().map_or(0, |p| p.trials) + 1;
        let new_best = trial.state == TrialState::Complete
            && self.history.best().map(|b| b.id) == Some(trial.id);
        if let Some(best) = self.history.best() {
            self.trajectory.push(TrajectoryPoint {
                trials: finished,
                sim_seconds: self.sim_seconds,
                incumbent: best.id,
                incumbent_metrics: best.metrics.clone(),
            });
        }
        observer(Event::TrialFinished {
            trial,
            new_best,
            sim_seconds: self.sim_seconds,
            trials: self.history.len() as u64,
        });
    }

    /// Applies `scheduler.max_paused_checkpoints` after a trial paused, storing the trials
    /// whose checkpoints it dropped.
    fn bound_paused_checkpoints(&mut self) -> Result<(), RunError> {
        let dropped = crate::checkpoints::bound_paused(
            &self.experiment,
            self.scheduler.as_ref(),
            &mut self.history,
        )?;
        if let Some(d) = &mut self.durable {
            for t in &dropped {
                d.store.update_trial(d.study, t, None)?;
            }
        }
        Ok(())
    }

    /// The next trial to evaluate outside Archer (RUNNING, and persisted when the study is
    /// durable), or why the study should stop: the ask half of driving a study from the
    /// caller's own loop (an experiment with `evaluator.kind = "external"`, or any other).
    /// Trials re-queued after a crash or a retry come first.
    pub fn ask(&mut self) -> Result<Result<Trial, StopReason>, RunError> {
        Ok(match self.next_trial()? {
            Next::Run(t) => Ok(*t),
            Next::Done(reason) => Err(reason),
            Next::Wait => Err(StopReason::Exhausted {
                detail: "the strategy has nothing new until the trials handed out are told".into(),
            }),
        })
    }

    /// Reports the outcome of trial `id`, which [`Study::ask`] handed out: its metrics, or
    /// why its evaluation failed. It is scored on every objective and checked against the
    /// constraints exactly as an evaluator's result would be, then retried or told to the
    /// strategy and persisted. Fails if `id` is not a RUNNING trial of this study.
    pub fn tell(&mut self, id: u64, outcome: Result<Metrics, String>) -> Result<(), RunError> {
        let mut trial = match self.history.get(id) {
            Some(t) if t.state == TrialState::Running => t.clone(),
            Some(t) => {
                return Err(RunError::Tell(format!(
                    "trial {id} is {}, not RUNNING",
                    t.state.as_str()
                )))
            }
            None => return Err(RunError::Tell(format!("no trial {id} in this study"))),
        };
        trial.finished_at = Some(Utc::now());
        apply_outcome(&self.experiment, &mut trial, outcome, 0.0);
        self.finish_trial(trial, &mut |_| {})
    }

    /// Ends a study driven by [`Study::ask`]/[`Study::tell`]: records why it stopped and
    /// writes the exports.
    pub fn finish(
        &mut self,
        recorder: &mut dyn Recorder,
        stop: StopReason,
    ) -> Result<StudySummary, RunError> {
        if let Some(d) = &mut self.durable {
            d.store.finish_study(d.study, &stop.to_string())?;
        }
        let wall = crate::launch::unix_now() - self.created_at;
        self.record_end(recorder, stop, wall)
    }

    /// Writes the exports of a study that ended elsewhere (distributed workers), running
    /// nothing.
    pub fn export(
        &mut self,
        recorder: &mut dyn Recorder,
        stop: StopReason,
    ) -> Result<StudySummary, RunError> {
        self.record_end(recorder, stop, 0.0)
    }

    fn record_end(
        &mut self,
        recorder: &mut dyn Recorder,
        stop: StopReason,
        wall_seconds: f64,
    ) -> Result<StudySummary, RunError> {
        let summary = self.summary(stop, wall_seconds);
        recorder.end(
            &summary,
            &self.history,
            &self.strategy.state(),
            &self.experiment,
        )?;
        Ok(summary)
    }

    fn summary(&mut self, stop: StopReason, wall_seconds: f64) -> StudySummary {
        StudySummary {
            name: self.experiment.config.study.name.clone(),
            seed: self.experiment.config.study.seed,
            strategy: archer_predict::strategy_label(&self.experiment.config.strategy),
            stop,
            trials: self.history.len() as u64,
            complete: self.history.count(TrialState::Complete) as u64,
            failed: self.history.count(TrialState::Failed) as u64,
            sim_seconds: self.sim_seconds,
            wall_seconds,
            best: self.history.best().cloned(),
            pareto_front: if self.experiment.objectives.len() > 1 {
                self.history.pareto_front().into_iter().cloned().collect()
            } else {
                Vec::new()
            },
            trajectory: std::mem::take(&mut self.trajectory),
            ask_seconds: std::mem::take(&mut self.ask_seconds),
        }
    }

    /// Runs until a budget is reached or the strategy is exhausted.
    pub fn run(
        &mut self,
        recorder: &mut dyn Recorder,
        observer: &mut dyn FnMut(Event),
    ) -> Result<StudySummary, RunError> {
        let started = Instant::now();
        recorder.begin(&self.experiment)?;
        #[cfg(feature = "train")]
        crate::oneshot::one_shot_phase(self, observer)?;
        let workers = self.experiment.config.study.workers.max(1);
        let stop = if workers == 1 {
            self.run_inline(observer)?
        } else if self.experiment.evaluator.simulated_clock() {
            crate::simulated::run(self, workers, observer)?
        } else {
            self.run_pool(workers, observer)?
        };
        if let Some(d) = &mut self.durable {
            d.store.finish_study(d.study, &stop.to_string())?;
        }
        self.record_end(recorder, stop, started.elapsed().as_secs_f64())
    }

    /// One trial at a time, in this thread: deterministic.
    fn run_inline(&mut self, observer: &mut dyn FnMut(Event)) -> Result<StopReason, RunError> {
        drive(&mut InlineTurn {
            study: self,
            observer,
        })
    }

    /// `workers` evaluations at once; each result is told as it arrives and the freed worker
    /// gets the next proposal at once (asynchronous, no batches). Each intermediate report
    /// comes to this thread, which answers it as the in-line loop does (store, scheduler)
    /// while the reporting evaluation waits.
    fn run_pool(
        &mut self,
        workers: usize,
        observer: &mut dyn FnMut(Event),
    ) -> Result<StopReason, RunError> {
        let (job_tx, job_rx) = mpsc::channel::<(Trial, u64)>();
        // Each in-flight trial as it started, which the scheduler judges its reports by.
        let mut started: std::collections::HashMap<u64, Trial> = Default::default();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<FromPool>();
        let experiment = self.experiment.clone();
        let deadline = WallDeadline::of(&self.experiment, self.created_at);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let (job_rx, done_tx, experiment) = (job_rx.clone(), done_tx.clone(), &experiment);
                scope.spawn(move || loop {
                    let job = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((mut trial, seed))) = job else {
                        break;
                    };
                    let id = trial.id;
                    let (reply_tx, reply_rx) = mpsc::channel();
                    let reports = done_tx.clone();
                    evaluate_answered(experiment, &mut trial, seed, &mut move |step, value| {
                        let asked = reports.send(FromPool::Report {
                            id,
                            step,
                            value,
                            reply: reply_tx.clone(),
                        });
                        // A study that stopped (an error) answers nothing: stop too.
                        let gone = || Verdict::Stop(Some("the study stopped".into()));
                        match asked {
                            Ok(()) => reply_rx.recv().unwrap_or_else(|_| gone()),
                            Err(_) => gone(),
                        }
                    });
                    if done_tx.send(FromPool::Done(Box::new(trial))).is_err() {
                        break;
                    }
                });
            }
            let result = (|| {
                let mut in_flight = 0usize;
                // Once set, no new proposals; waiting (retried) trials still run.
                let mut stop: Option<StopReason> = None;
                loop {
                    while in_flight < workers {
                        let next = match stop {
                            Some(_) => self.next_waiting()?,
                            None => match self.next_trial()? {
                                Next::Run(t) => Some(*t),
                                Next::Wait => None,
                                Next::Done(reason) => {
                                    stop = Some(reason);
                                    None
                                }
                            },
                        };
                        let Some(t) = next else { break };
                        let seed = self.trial_seed(t.id);
                        started.insert(t.id, t.clone());
                        job_tx.send((t, seed)).expect("workers outlive the loop");
                        in_flight += 1;
                    }
                    if in_flight == 0 {
                        return Ok(stop.unwrap_or_else(|| StopReason::Exhausted {
                            detail: "the scheduler waits for trials and none runs".into(),
                        }));
                    }
                    match done_rx.recv().expect("a worker holds each in-flight trial") {
                        FromPool::Report {
                            id,
                            step,
                            value,
                            reply,
                        } => {
                            let verdict = match started.get(&id) {
                                Some(started) => local_sink(
                                    &mut self.durable,
                                    &mut self.scheduler,
                                    &mut self.history,
                                    deadline,
                                )
                                .report(started, step, value),
                                None => Verdict::Continue,
                            };
                            // The evaluation waits for this answer; if it is gone, so be it.
                            let _ = reply.send(verdict);
                        }
                        FromPool::Done(trial) => {
                            in_flight -= 1;
                            started.remove(&trial.id);
                            self.finish_trial(*trial, observer)?;
                        }
                    }
                }
            })();
            drop(job_tx);
            result
        })
    }

    pub(crate) fn trial_seed(&self, id: u64) -> u64 {
        trial_seed(self.experiment.config.study.seed, id)
    }
}

/// The in-process study as a coordination of the study loop, one trial at a time.
struct InlineTurn<'a> {
    study: &'a mut Study,
    observer: &'a mut dyn FnMut(Event),
}

impl Coordination for InlineTurn<'_> {
    fn next(&mut self) -> Result<Next, RunError> {
        Ok(match self.study.next_trial()? {
            // Nothing runs beside the in-line loop, so nothing could end the wait.
            Next::Wait => Next::Done(StopReason::Exhausted {
                detail: "the scheduler waits for trials and none runs".into(),
            }),
            next => next,
        })
    }

    fn run(&mut self, mut trial: Trial) -> Result<(), RunError> {
        let study = &mut *self.study;
        let seed = study.trial_seed(trial.id);
        let started = trial.clone();
        let deadline = WallDeadline::of(&study.experiment, study.created_at);
        let mut sink = local_sink(
            &mut study.durable,
            &mut study.scheduler,
            &mut study.history,
            deadline,
        );
        evaluate_answered(&study.experiment, &mut trial, seed, &mut |step, value| {
            sink.report(&started, step, value)
        });
        study.finish_trial(trial, self.observer)
    }
}

/// The report sink of this process's study: its store when durable, no lease to lose.
pub(crate) fn local_sink<'a>(
    durable: &'a mut Option<Durable>,
    scheduler: &'a mut Box<dyn Scheduler>,
    history: &'a mut History,
    wall_deadline: Option<WallDeadline>,
) -> ReportSink<'a> {
    ReportSink {
        store: durable.as_mut().map(|d| (d.store.as_mut(), d.study)),
        lost: None,
        scheduler: scheduler.as_mut(),
        history,
        refresh: None,
        wall_deadline,
    }
}

/// What a pool thread sends the coordinating thread.
enum FromPool {
    /// An intermediate report of trial `id`, to be answered on `reply`.
    Report {
        id: u64,
        step: u32,
        value: f64,
        reply: mpsc::Sender<Verdict>,
    },
    Done(Box<Trial>),
}

/// Finished trials in the order they finished (ties by id).
pub(crate) fn finished_in_order(history: &History) -> Vec<&Trial> {
    let mut finished: Vec<&Trial> = history
        .trials()
        .iter()
        .filter(|t| t.state.is_finished())
        .collect();
    finished.sort_by(|a, b| a.finished_at.cmp(&b.finished_at).then(a.id.cmp(&b.id)));
    finished
}

/// The retry rule of both coordinations (this study and the distributed worker): a FAILED
/// evaluation with retries left under `study.retry_failed` goes back to WAITING, still
/// naming the worker of the failed attempt (the store lets only the holder change a running
/// trial; the next claim names the next one). True when the trial is to be retried; else it
/// is final and is told.
pub(crate) fn retry_if_allowed(study: &crate::StudySection, trial: &mut Trial) -> bool {
    if trial.state == TrialState::Failed && trial.attempts <= study.retry_failed {
        trial.state = TrialState::Waiting;
        return true;
    }
    false
}

/// How an evaluated trial is kept, in every coordination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// FAILED with retries left: back to WAITING, not told.
    Retried,
    /// PAUSED by the scheduler: kept for a promotion, not told.
    Paused,
    /// Final for now (COMPLETE, PRUNED or FAILED): told to the strategy and stored with the
    /// strategy's state after that tell.
    Told,
}

/// The one rule for what happens to an evaluated trial (the retry rule first, see
/// [`retry_if_allowed`]); the caller stores it accordingly.
pub(crate) fn how_kept(study: &crate::StudySection, trial: &mut Trial) -> Kept {
    if retry_if_allowed(study, trial) {
        Kept::Retried
    } else if trial.state == TrialState::Paused {
        Kept::Paused
    } else {
        Kept::Told
    }
}

/// The run of consecutive failures after a trial finishes in `state`: a COMPLETE trial ends
/// it, a FAILED one extends it, and a PRUNED one (the scheduler's choice, not a failure)
/// does neither, as [`trailing_failures`] counts after a resume.
pub(crate) fn next_failure_streak(streak: u64, state: TrialState) -> u64 {
    match state {
        TrialState::Complete => 0,
        TrialState::Failed => streak + 1,
        _ => streak,
    }
}

/// How many of the last finished trials failed in a row; PRUNED trials in between neither
/// count nor break the run, as in the live loop.
pub(crate) fn trailing_failures(finished: &[&Trial]) -> u64 {
    finished
        .iter()
        .rev()
        .filter(|t| t.state != TrialState::Pruned)
        .take_while(|t| t.state == TrialState::Failed)
        .count() as u64
}

/// Proposals in a row that may break constraints known before evaluation before the study
/// gives up on finding a feasible one.
const MAX_SCREENED_IN_A_ROW: usize = 10_000;

/// Asks `strategy` until it proposes something worth evaluating. A proposal that breaks a
/// constraint on metrics known before evaluation ([`archer_eval::Evaluator::known_before`])
/// is recorded at once as an infeasible COMPLETE trial that cost nothing: added to
/// `history`, told to the strategy (which learns from its violation), and handed to
/// `record` with the strategy state after that tell. Used by both coordinations (the
/// in-process study and the distributed worker).
pub(crate) fn ask_feasible(
    experiment: &Experiment,
    strategy: &mut dyn Strategy,
    history: &mut History,
    worker: &str,
    record: &mut dyn FnMut(&Trial, &serde_json::Value) -> Result<(), RunError>,
) -> Result<Result<Proposal, StrategyError>, RunError> {
    for _ in 0..MAX_SCREENED_IN_A_ROW {
        let proposal = match strategy.ask(history) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let Some(trial) = screen(experiment, history.next_id(), &proposal, worker) else {
            return Ok(Ok(proposal));
        };
        strategy.tell(&trial);
        history.record(trial.clone());
        record(&trial, &strategy.state())?;
    }
    let limits: Vec<String> = experiment
        .constraints
        .iter()
        .map(Constraint::describe)
        .collect();
    Ok(Err(StrategyError::Exhausted(format!(
        "{MAX_SCREENED_IN_A_ROW} proposals in a row broke the constraints known before evaluation ({})",
        limits.join(", ")
    ))))
}

/// The infeasible, already finished trial `proposal` becomes when a constraint on a metric
/// known before evaluation rules it out; `None` when nothing known rules it out.
fn screen(experiment: &Experiment, id: u64, proposal: &Proposal, worker: &str) -> Option<Trial> {
    if experiment.constraints.is_empty() {
        return None;
    }
    let known = experiment.evaluator.known_before(&proposal.arch);
    let violation: f64 = experiment
        .constraints
        .iter()
        .filter_map(|c| c.violation(&known))
        .sum();
    if violation <= 0.0 {
        return None;
    }
    let mut t = start_trial(id, proposal.clone(), experiment.space.as_ref(), worker);
    t.attempts = 0;
    t.state = TrialState::Complete;
    t.scores = scores(&experiment.objectives, &known).unwrap_or_default();
    t.metrics = known;
    t.feasible = false;
    t.violation = violation;
    t.finished_at = t.started_at;
    t.attrs
        .insert(SCREENED_ATTR.into(), serde_json::Value::Bool(true));
    Some(t)
}

/// The next trial of `history` for `proposal`, at the fidelity `scheduler` gives it: RUNNING,
/// first attempt, held by `worker`. Both coordinations start their trials here.
pub(crate) fn schedule_trial(
    scheduler: &mut dyn Scheduler,
    history: &History,
    mut proposal: Proposal,
    space: &dyn archer_space::SearchSpace,
    worker: &str,
) -> Trial {
    proposal.fidelity = scheduler.fidelity(&proposal, history);
    let attrs = scheduler.new_trial_attrs(history);
    let mut t = start_trial(history.next_id(), proposal, space, worker);
    t.attrs.extend(attrs);
    t
}

/// A new RUNNING trial (first attempt, held by `worker`) for a proposal.
pub(crate) fn start_trial(
    id: u64,
    proposal: archer_strategy::Proposal,
    space: &dyn archer_space::SearchSpace,
    worker: &str,
) -> Trial {
    let hash = space.canonical_hash(&proposal.arch);
    let mut t = Trial::new(id, proposal.arch, hash, proposal.fidelity);
    if let Some(inherit) = &proposal.inherit {
        t.attrs.insert(
            INHERIT_ATTR.into(),
            serde_json::to_value(inherit).expect("plain data serialises"),
        );
    }
    t.state = TrialState::Running;
    t.attempts = 1;
    t.worker = Some(worker.to_string());
    t.started_at = Some(Utc::now());
    t
}

/// Whether a study with this history should start no new trial, and why.
pub(crate) fn budget_reached(
    config: &crate::ExperimentConfig,
    history: &History,
    sim_seconds: f64,
    elapsed_seconds: f64,
    consecutive_failures: u64,
) -> Option<StopReason> {
    let b = &config.budget;
    // Proposals rejected before evaluation cost nothing and are not trials of the budget.
    if b.trials.is_some_and(|t| history.evaluated() as u64 >= t) {
        return Some(StopReason::TrialBudget);
    }
    if b.sim_seconds.is_some_and(|s| sim_seconds >= s) {
        return Some(StopReason::SimBudget);
    }
    if b.wall_seconds.is_some_and(|s| elapsed_seconds >= s) {
        return Some(StopReason::WallBudget);
    }
    if consecutive_failures >= config.study.max_consecutive_failures {
        let last_error = history
            .trials()
            .iter()
            .rev()
            .find_map(|t| t.error.clone())
            .unwrap_or_default();
        return Some(StopReason::TooManyFailures {
            count: consecutive_failures,
            last_error,
        });
    }
    None
}

/// The evaluator seed of trial `id` in a study seeded with `seed`.
pub(crate) fn trial_seed(seed: u64, id: u64) -> u64 {
    Rng::derive(seed ^ EVAL_STREAM, id).next_u64()
}

/// The folder where trial `id` of `experiment` keeps its checkpoint: the trial's own folder
/// in the experiment folder (`trials/trial-N/checkpoint`, where the command evaluator keeps
/// it too); `None` for a study without a folder.
pub(crate) fn checkpoint_dir(experiment: &Experiment, id: u64) -> Option<std::path::PathBuf> {
    let output = experiment.config.study.output.as_ref()?;
    Some(
        output
            .join("trials")
            .join(format!("trial-{id}"))
            .join("checkpoint"),
    )
}

/// The trial attribute counting the steps (reports) its evaluations ran, over all of them:
/// a promoted trial that continues adds only its new steps; one trained again from scratch
/// adds them all again.
pub const STEPS_RUN_ATTR: &str = "steps_run";

/// The trial attribute naming the trained parent a trial starts from (network morphism):
/// an [`archer_strategy::Inheritance`] as JSON, kept in the store so that resumed studies and
/// other workers evaluate the trial the same way.
pub const INHERIT_ATTR: &str = "inherit";

/// The trial attribute that records where a trial's checkpoint folder is.
pub const CHECKPOINT_ATTR: &str = "checkpoint";

/// Evaluates one trial of `experiment` in place: COMPLETE with one score per objective and
/// its constraint violation; PRUNED (charged what it used) when a pruner stopped it; FAILED
/// on an evaluator error or panic, or when an objective or a constraint's metric is missing.
/// A promoted trial is continued from the step it paused at. Returns the seconds charged
/// when each report was made.
pub(crate) fn evaluate(
    experiment: &Experiment,
    trial: &mut Trial,
    seed: u64,
    pruner: &mut (dyn FnMut(u32, f64) -> Report + Send),
) -> Vec<f64> {
    let evaluator: &dyn Evaluator = experiment.evaluator.as_ref();
    let mut ctx = TrialCtx::new(trial.id, seed)
        .with_pruner(pruner)
        .with_constraints(experiment.constraints.clone());
    if let Some(step) = resumed_from_step(trial) {
        ctx = ctx.with_resume_step(step);
    }
    if let Some(dir) = checkpoint_dir(experiment, trial.id) {
        trial.attrs.insert(
            CHECKPOINT_ATTR.into(),
            serde_json::json!(dir.to_string_lossy()),
        );
        ctx = ctx.with_checkpoint_dir(dir);
    }
    if let Some(inherited) = inheritance(experiment, trial) {
        ctx = ctx.with_inheritance(inherited);
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        evaluator.evaluate(&trial.arch, &trial.fidelity, &mut ctx)
    }));
    let parts = ctx.into_parts();
    let charged = parts.charged_seconds;
    let ran = trial
        .attrs
        .get(STEPS_RUN_ATTR)
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    trial.attrs.insert(
        STEPS_RUN_ATTR.into(),
        serde_json::json!(ran + parts.intermediate.len() as u64),
    );
    trial.intermediate = parts.intermediate;
    trial.attrs.extend(parts.attrs);
    trial.finished_at = Some(Utc::now());
    let outcome = match outcome {
        Ok(Ok(metrics)) => Ok(metrics),
        Ok(Err(archer_eval::EvalError::Pruned { step })) => {
            trial.state = TrialState::Pruned;
            trial.cost_seconds = charged;
            trial.error = Some(format!("pruned after step {step}"));
            if let Some(why) = parts.infeasible {
                // A constraint broken by a metric measured during training: known
                // infeasible, with what was measured.
                trial.error = Some(format!("stopped after step {step}: infeasible: {why}"));
                trial.violation = measured_violation(&experiment.constraints, &parts.measured);
                trial.feasible = false;
                trial.metrics = parts.measured;
            }
            return parts.report_seconds;
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!("evaluator panicked: {}", panic_message(&panic))),
    };
    // What was measured during the run and not in the final result is kept with it.
    let outcome = outcome.map(|mut metrics| {
        for (name, value) in parts.measured.iter() {
            if metrics.get(name).is_none() {
                metrics.insert(name, value);
            }
        }
        metrics
    });
    apply_outcome(experiment, trial, outcome, charged);
    parts.report_seconds
}

/// The parent `trial` inherits its weights from, with where the parent's checkpoint is; `None`
/// for a trial trained from scratch or a study without a folder.
fn inheritance(experiment: &Experiment, trial: &Trial) -> Option<archer_core::Inherited> {
    let inherit: archer_strategy::Inheritance =
        serde_json::from_value(trial.attrs.get(INHERIT_ATTR)?.clone()).ok()?;
    Some(archer_core::Inherited {
        parent: inherit.parent,
        checkpoint_dir: checkpoint_dir(experiment, inherit.parent)?,
        arch: inherit.parent_arch,
    })
}

/// The study's answer to one intermediate report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verdict {
    Continue,
    /// Stop the evaluation and keep the trial PAUSED (the scheduler's decision).
    Pause,
    /// Stop the evaluation and keep the trial PAUSED, marked `stopped_by_budget`: the
    /// study's wall-clock budget ran out while it trained.
    PauseAtBudget,
    /// Stop the evaluation (PRUNED); a reason other than the scheduler's decision becomes
    /// the trial's error.
    Stop(Option<String>),
}

/// What one intermediate report does, in every coordination (in-line, thread pool,
/// distributed worker): it is written to the store at once, so a reader sees the curve in
/// progress; a write the store refuses, or a lease the heartbeat found lost, stops the
/// evaluation with the reason; otherwise the scheduler decides.
pub(crate) struct ReportSink<'a> {
    pub store: Option<(&'a mut (dyn Store + 'static), StudyId)>,
    pub lost: Option<&'a std::sync::atomic::AtomicBool>,
    pub scheduler: &'a mut (dyn Scheduler + 'static),
    /// The study's trials as this coordination knows them; each report is added to its
    /// trial's entry before the scheduler decides.
    pub history: &'a mut History,
    /// A distributed worker reads the other workers' changes (their reports at the same
    /// step) from the store before each decision: the change sequence its history is
    /// current to, and the space to check them against.
    pub refresh: Option<(&'a mut i64, &'a dyn archer_space::SearchSpace)>,
    /// Where `budget.wall_seconds` ends: a trial that reports after it is paused there
    /// instead of running on past the budget.
    pub wall_deadline: Option<WallDeadline>,
}

/// The end of a study's wall-clock budget, as a report sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WallDeadline {
    /// Unix seconds: the study's creation plus `budget.wall_seconds`.
    pub at: f64,
    /// The evaluator's full steps, if it declares them: a trial's report at its last step
    /// is never cut (what remains is its final result).
    pub full_steps: Option<u32>,
}

impl WallDeadline {
    /// The deadline of `experiment` for a study created at `created_at` (unix seconds), if
    /// its budget has wall seconds.
    pub(crate) fn of(experiment: &Experiment, created_at: f64) -> Option<Self> {
        experiment
            .config
            .budget
            .wall_seconds
            .map(|seconds| WallDeadline {
                at: created_at + seconds,
                full_steps: experiment.evaluator.full_steps(),
            })
    }

    /// Whether `trial`'s report at `step` comes after the deadline and before its last step.
    fn cuts(&self, trial: &Trial, step: u32) -> bool {
        let last = trial.fidelity.epochs.or(self.full_steps);
        crate::launch::unix_now() >= self.at && last.is_none_or(|last| step < last)
    }
}

impl ReportSink<'_> {
    /// `trial`: as it started (who holds it, which attempt, the steps it had reached).
    /// The value is written to the store once the scheduler let the trial go on; a pause or
    /// stop writes it with the trial's result, so a stored value always means "decided,
    /// and continued".
    pub(crate) fn report(&mut self, trial: &Trial, step: u32, value: f64) -> Verdict {
        if self
            .lost
            .is_some_and(|l| l.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Verdict::Stop(Some(format!(
                "stopped at step {step}: this worker no longer holds the trial"
            )));
        }
        if let (Some((seq, space)), Some((store, study))) =
            (self.refresh.as_mut(), self.store.as_mut())
        {
            match crate::worker::read_changes(*store, *study, *space, self.history, seq) {
                // The server is away: the decision uses what this worker last saw.
                Ok(()) | Err(archer_store::StoreError::Disconnected { .. }) => {}
                Err(e) => {
                    return Verdict::Stop(Some(format!(
                        "stopped at step {step}: reading the other trials failed: {e}"
                    )))
                }
            }
        }
        record_report(self.history, trial, step, value);
        let verdict = match self.scheduler.decide(trial, step, value, self.history) {
            Decision::Continue => Verdict::Continue,
            Decision::Pause => return Verdict::Pause,
            Decision::Stop => return Verdict::Stop(None),
        };
        // The scheduler would go on, but the wall-clock budget is spent: the trial pauses
        // here (its value is written with it), as a simulated budget pauses it.
        if self.wall_deadline.is_some_and(|d| d.cuts(trial, step)) {
            return Verdict::PauseAtBudget;
        }
        if let Some((store, study)) = self.store.as_mut() {
            match store.report_intermediate(*study, trial, step, value) {
                // The server is away: the value is kept in the trial and written with its
                // result; the evaluation goes on.
                Ok(()) | Err(archer_store::StoreError::Disconnected { .. }) => {}
                Err(e) => {
                    return Verdict::Stop(Some(format!(
                        "stopped at step {step}: the store refused its intermediate value: {e}"
                    )))
                }
            }
        }
        verdict
    }
}

/// Adds `(step, value)` to the entry of `trial` in `history` (replacing an earlier value
/// at that step), keeping its values in step order.
pub(crate) fn record_report(history: &mut History, trial: &Trial, step: u32, value: f64) {
    let mut t = history
        .get(trial.id)
        .cloned()
        .unwrap_or_else(|| trial.clone());
    merge_step(&mut t.intermediate, step, value);
    history.record(t);
}

fn merge_step(values: &mut Vec<(u32, f64)>, step: u32, value: f64) {
    match values.binary_search_by_key(&step, |(s, _)| *s) {
        Ok(i) => values[i].1 = value,
        Err(i) => values.insert(i, (step, value)),
    }
}

/// Evaluates `trial` (see [`evaluate`]) with every intermediate report answered by
/// `answer`; a stop's reason becomes the PRUNED trial's error, and a pause leaves the trial
/// PAUSED. A promoted trial (see [`promote`]) keeps its earlier intermediate values (the new
/// evaluation's win at the same step) and its cost adds up.
pub(crate) fn evaluate_answered(
    experiment: &Experiment,
    trial: &mut Trial,
    seed: u64,
    answer: &mut (dyn FnMut(u32, f64) -> Verdict + Send),
) -> Vec<f64> {
    let mut reason = None;
    let mut paused = false;
    let mut by_budget = false;
    let charged_before = resumed_cost(trial);
    let earlier = std::mem::take(&mut trial.intermediate);
    let report_seconds = evaluate(experiment, trial, seed, &mut |step, value| match answer(
        step, value,
    ) {
        Verdict::Continue => Report::Continue,
        Verdict::Pause => {
            paused = true;
            Report::Prune
        }
        Verdict::PauseAtBudget => {
            paused = true;
            by_budget = true;
            Report::Prune
        }
        Verdict::Stop(why) => {
            reason = why;
            Report::Prune
        }
    });
    if trial.state == TrialState::Pruned {
        if paused {
            trial.state = TrialState::Paused;
            trial.error = None;
            if by_budget {
                trial.attrs.insert(
                    crate::simulated::STOPPED_BY_BUDGET_ATTR.into(),
                    serde_json::Value::Bool(true),
                );
            }
        } else if let Some(reason) = reason {
            trial.error = Some(reason);
        }
    }
    if let Some(before) = charged_before {
        trial.cost_seconds += before;
    }
    // The steps of earlier evaluations are kept (a promoted trial's, or those of an attempt
    // a crash cut short); this evaluation's win at the same step.
    let mut steps = earlier;
    for (step, value) in std::mem::take(&mut trial.intermediate) {
        merge_step(&mut steps, step, value);
    }
    trial.intermediate = steps;
    report_seconds
}

/// The trial attribute a promotion sets: the simulated seconds charged before it resumed.
pub(crate) const RESUMED_AFTER_ATTR: &str = "resumed_after_seconds";

/// The trial attribute set on a promoted trial whose checkpoint the bound on kept
/// checkpoints had dropped: it trained again from scratch.
pub const RESTARTED_FROM_SCRATCH_ATTR: &str = "restarted_from_scratch";

/// The trial attribute a promotion that continues a trial sets: the step it paused at,
/// which its evaluation continues from.
pub const RESUMED_FROM_STEP_ATTR: &str = "resumed_from_step";

pub use archer_core::PROMOTIONS_ATTR;

/// What a promoted trial had cost before it resumed, if it was promoted.
fn resumed_cost(trial: &Trial) -> Option<f64> {
    trial.attrs.get(RESUMED_AFTER_ATTR).and_then(|v| v.as_f64())
}

/// The step a promoted trial continues from, if it continues (not from scratch).
pub(crate) fn resumed_from_step(trial: &Trial) -> Option<u32> {
    trial
        .attrs
        .get(RESUMED_FROM_STEP_ATTR)
        .and_then(|v| v.as_u64())
        .map(|v| v as u32)
}

/// The simulated seconds this evaluation of `trial` added: all of its cost, or for a
/// promoted trial what came after it resumed. Clears the promotion marks.
pub(crate) fn newly_charged(trial: &mut Trial) -> f64 {
    let before = resumed_cost(trial).unwrap_or(0.0);
    trial.attrs.remove(RESUMED_AFTER_ATTR);
    trial.attrs.remove(RESUMED_FROM_STEP_ATTR);
    trial.cost_seconds - before
}

/// The paused trial of promotion `p`, RUNNING again under `worker` at its new fidelity and
/// marked with what it had cost and where it continues from (not yet persisted); `None`
/// if that trial is not PAUSED. A promotion from scratch removes the trial's checkpoint
/// first, so that its evaluation cannot continue from it (a folder that cannot be removed
/// is an error).
pub(crate) fn promoted(
    experiment: &Experiment,
    p: Promotion,
    history: &History,
    worker: &str,
) -> Result<Option<Trial>, RunError> {
    let Some(paused) = history
        .get(p.trial)
        .filter(|t| t.state == TrialState::Paused)
    else {
        return Ok(None);
    };
    let mut t = paused.clone();
    t.state = TrialState::Running;
    t.fidelity = p.fidelity;
    t.attempts += 1;
    t.worker = Some(worker.to_string());
    t.started_at = Some(Utc::now());
    t.finished_at = None;
    t.attrs
        .insert(RESUMED_AFTER_ATTR.into(), serde_json::json!(t.cost_seconds));
    let promotions = t.promotions();
    t.attrs
        .insert(PROMOTIONS_ATTR.into(), serde_json::json!(promotions + 1));
    let paused_at = t.intermediate.iter().map(|(s, _)| *s).max().unwrap_or(0);
    let mut steps = t
        .attrs
        .get(archer_core::PROMOTED_AT_ATTR)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    steps.push(serde_json::json!(paused_at));
    t.attrs.insert(
        archer_core::PROMOTED_AT_ATTR.into(),
        serde_json::Value::Array(steps),
    );
    if p.from_scratch {
        // Usually there is nothing to remove (tables keep no files).
        if crate::checkpoints::remove_folder(experiment, t.id)? {
            t.attrs.insert(
                crate::checkpoints::CHECKPOINT_REMOVED_ATTR.into(),
                serde_json::Value::Bool(true),
            );
        }
    } else if t
        .attrs
        .contains_key(crate::checkpoints::CHECKPOINT_DROPPED_ATTR)
    {
        // Its checkpoint was dropped by the bound on kept checkpoints: it trains again from
        // scratch and is charged every step again.
        t.attrs.insert(
            RESTARTED_FROM_SCRATCH_ATTR.into(),
            serde_json::Value::Bool(true),
        );
    } else {
        t.attrs
            .insert(RESUMED_FROM_STEP_ATTR.into(), serde_json::json!(paused_at));
    }
    Ok(Some(t))
}

/// Simulated seconds charged so far: every finished or paused trial's cost.
pub(crate) fn charged_seconds(history: &History) -> f64 {
    history
        .trials()
        .iter()
        .filter(|t| t.state.is_finished() || t.state == TrialState::Paused)
        .map(|t| t.cost_seconds)
        .sum()
}

/// Records an evaluation's outcome in `trial`: COMPLETE with its scores and violation, or
/// FAILED with the reason (also when an objective or a constrained metric is missing).
/// `charged`: simulated seconds when the metrics do not report `sim_seconds`.
fn apply_outcome(
    experiment: &Experiment,
    trial: &mut Trial,
    outcome: Result<Metrics, String>,
    charged: f64,
) {
    let result =
        outcome.and_then(|metrics| judge(&experiment.objectives, &experiment.constraints, metrics));
    match result {
        Ok((metrics, scores, violation)) => {
            trial.cost_seconds = metrics.get(metric::SIM_SECONDS).unwrap_or(charged);
            trial.metrics = metrics;
            trial.feasible = violation <= 0.0;
            trial.violation = violation;
            trial.score = trial.feasible.then(|| scores[0]);
            trial.scores = scores;
            trial.error = None;
            trial.state = TrialState::Complete;
        }
        Err(e) => {
            trial.state = TrialState::Failed;
            trial.error = Some(e);
        }
    }
}

/// A result's oriented scores and total violation, or why it cannot be used.
fn judge(
    objectives: &[Objective],
    constraints: &[Constraint],
    metrics: Metrics,
) -> Result<(Metrics, Vec<f64>, f64), String> {
    let scores = scores(objectives, &metrics)
        .map_err(|m| format!("evaluator reported no finite value for the objective {m:?}"))?;
    let violation = total_violation(constraints, &metrics)
        .map_err(|m| format!("evaluator reported no value for the constrained metric {m:?}"))?;
    Ok((metrics, scores, violation))
}

/// The total violation of the constraints whose metrics were measured (the others are not
/// known yet).
fn measured_violation(constraints: &[Constraint], measured: &Metrics) -> f64 {
    constraints
        .iter()
        .filter_map(|c| c.violation(measured))
        .sum()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}
