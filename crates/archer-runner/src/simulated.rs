//! Simulated workers: a discrete-event executor that runs a study on a tabular benchmark as
//! `workers` parallel workers would, on the simulated clock, in milliseconds (as Syne Tune's
//! simulator backend does).
//!
//! Each worker holds one trial. When a trial starts, its evaluation is looked up at once
//! (every report answered "continue"), which gives each report's moment: the start time
//! plus the seconds charged before it. Events (a report, or the end of an evaluation) are
//! then taken in time order, ties by worker number; at a report the scheduler decides with
//! the history as it stands at that moment, and a pause or stop ends the trial there (its
//! evaluation is replayed up to that report, so it is charged what it used). A freed worker
//! takes the next trial at once. Nothing depends on threads or wall time, so a run is a
//! function of its seed.
//!
//! The simulated-time budget is a hard stop here, as in Syne Tune's simulator: no event
//! after it is taken, and the trials still running then are PAUSED after their last report
//! (marked `stopped_by_budget`), so every method is compared at the same simulated time.
//!
//! Durable: each trial records the worker and the moment it started (`sim_worker`,
//! `sim_started_at`) and the moment it ended (`sim_finished_at`), and a report is stored
//! only once the scheduler let the trial go on. A study killed at any moment and resumed
//! restarts each trial that was running on its worker at its start time, skips deciding the
//! reports it had already stored, and so takes exactly the decisions of an uninterrupted run.

use archer_core::{History, Trial, TrialState};
use chrono::Utc;

use crate::coordination::Next;
use crate::study::{evaluate_answered, local_sink, Event, StopReason, Study, Verdict};
use crate::RunError;

/// The simulated worker that runs (or ran) a trial; removed when the trial ends.
pub const SIM_WORKER_ATTR: &str = "sim_worker";
/// The simulated moment the trial's current evaluation started.
pub const SIM_STARTED_ATTR: &str = "sim_started_at";
/// The simulated moment the trial's last evaluation ended.
pub const SIM_FINISHED_ATTR: &str = "sim_finished_at";

/// One simulated worker's trial in flight.
struct Busy {
    /// The trial as it started (RUNNING, persisted).
    started: Trial,
    /// When it started on the simulated clock.
    at: f64,
    seed: u64,
    /// Its evaluation run to the end, every report continued.
    whole: Trial,
    /// Each report of this evaluation: step, value, seconds charged before it.
    reports: Vec<(u32, f64, f64)>,
    /// Reports taken so far.
    taken: usize,
    /// Reports up to this step were decided (and continued) before the study was resumed.
    decided_through: u32,
    /// Seconds the whole evaluation takes.
    duration: f64,
}

impl Busy {
    fn next_event(&self) -> f64 {
        match self.reports.get(self.taken) {
            Some(&(_, _, seconds)) => self.at + seconds,
            None => self.at + self.duration,
        }
    }
}

/// Runs `study` on `workers` simulated workers until it stops.
pub(crate) fn run(
    study: &mut Study,
    workers: usize,
    observer: &mut dyn FnMut(Event),
) -> Result<StopReason, RunError> {
    // The study's `sim_seconds` is the clock from here on.
    study.simulated = true;
    study.sim_seconds = restored_clock(&study.history);
    let mut slots: Vec<Option<Busy>> = (0..workers).map(|_| None).collect();
    restart_interrupted(study, &mut slots)?;
    let mut stop: Option<StopReason> = None;
    let budget = study.experiment.config.budget.sim_seconds;
    loop {
        fill(study, &mut slots, &mut stop)?;
        let next = slots
            .iter()
            .enumerate()
            .filter_map(|(w, s)| s.as_ref().map(|b| (w, b.next_event())))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let Some((w, time)) = next else {
            return Ok(stop.unwrap_or_else(|| StopReason::Exhausted {
                detail: "the scheduler waits for trials and none runs".into(),
            }));
        };
        if let Some(limit) = budget.filter(|&b| time > b) {
            study.sim_seconds = study.sim_seconds.max(limit);
            stop_at_budget(study, &mut slots, observer)?;
            return Ok(StopReason::SimBudget);
        }
        study.sim_seconds = study.sim_seconds.max(time);
        let busy = slots[w].as_mut().expect("chosen among the busy");
        let ended = match busy.reports.get(busy.taken).copied() {
            Some((step, value, _)) => {
                busy.taken += 1;
                let verdict = if step <= busy.decided_through {
                    Verdict::Continue
                } else {
                    // The simulated clock's budget pauses trials itself (stop_at_budget);
                    // decisions never depend on the wall clock.
                    local_sink(
                        &mut study.durable,
                        &mut study.scheduler,
                        &mut study.history,
                        None,
                    )
                    .report(&busy.started, step, value)
                };
                match verdict {
                    Verdict::Continue => None,
                    verdict => Some(cut(study, busy, verdict)),
                }
            }
            None => Some(busy.whole.clone()),
        };
        if let Some(mut trial) = ended {
            slots[w] = None;
            trial.attrs.remove(SIM_WORKER_ATTR);
            trial.attrs.insert(
                SIM_FINISHED_ATTR.into(),
                serde_json::json!(study.sim_seconds),
            );
            study.finish_trial(trial, observer)?;
        }
    }
}

/// The clock reached the simulated-time budget: every trial still running stops where it
/// is, PAUSED after its last report (charged up to it), marked `stopped_by_budget`.
fn stop_at_budget(
    study: &mut Study,
    slots: &mut [Option<Busy>],
    observer: &mut dyn FnMut(Event),
) -> Result<(), RunError> {
    for slot in slots.iter_mut() {
        let Some(busy) = slot.take() else { continue };
        let mut trial = if busy.taken > 0 {
            cut(study, &busy, Verdict::Pause)
        } else {
            let mut t = busy.started.clone();
            t.state = TrialState::Paused;
            t.finished_at = Some(Utc::now());
            t
        };
        trial.attrs.remove(SIM_WORKER_ATTR);
        trial.attrs.insert(
            SIM_FINISHED_ATTR.into(),
            serde_json::json!(study.sim_seconds),
        );
        trial
            .attrs
            .insert(STOPPED_BY_BUDGET_ATTR.into(), serde_json::Value::Bool(true));
        study.finish_trial(trial, observer)?;
    }
    Ok(())
}

/// Marks a trial a budget stopped while it ran (it is PAUSED): the simulated-time budget on
/// simulated workers, the wall-clock budget on real ones.
pub const STOPPED_BY_BUDGET_ATTR: &str = "stopped_by_budget";

/// The simulated clock of a stored study: the last moment any of its trials started or
/// ended (0 for a new study).
fn restored_clock(history: &History) -> f64 {
    history
        .trials()
        .iter()
        .flat_map(|t| [SIM_STARTED_ATTR, SIM_FINISHED_ATTR].map(|k| t.attrs.get(k)))
        .filter_map(|v| v.and_then(|v| v.as_f64()))
        .fold(0.0, f64::max)
}

/// Starts trials on the idle workers, in worker order, until one is refused.
fn fill(
    study: &mut Study,
    slots: &mut [Option<Busy>],
    stop: &mut Option<StopReason>,
) -> Result<(), RunError> {
    for (w, slot) in slots.iter_mut().enumerate() {
        if slot.is_some() {
            continue;
        }
        let next = match stop {
            // Trials to retry still run after the budget, as in the other coordinations.
            Some(_) => study.next_waiting()?.map(|t| Next::Run(Box::new(t))),
            None => Some(study.next_trial()?),
        };
        match next {
            Some(Next::Run(t)) => {
                let now = study.sim_seconds;
                *slot = Some(start(study, *t, w, now, 0)?)
            }
            Some(Next::Done(reason)) => {
                *stop = Some(reason);
                return Ok(());
            }
            Some(Next::Wait) | None => return Ok(()),
        }
    }
    Ok(())
}

/// Trials that were running on a simulated worker when the study was stopped (re-queued by
/// the resume) start again on that worker, at the moment they had started.
fn restart_interrupted(study: &mut Study, slots: &mut [Option<Busy>]) -> Result<(), RunError> {
    let queued: Vec<u64> = study.waiting.iter().copied().collect();
    for id in queued {
        let Some(t) = study.history.get(id) else {
            continue;
        };
        let worker = t.attrs.get(SIM_WORKER_ATTR).and_then(|v| v.as_u64());
        let at = t.attrs.get(SIM_STARTED_ATTR).and_then(|v| v.as_f64());
        let (Some(w), Some(at)) = (worker.map(|w| w as usize), at) else {
            continue;
        };
        if w >= slots.len() || slots[w].is_some() {
            continue;
        }
        let decided = t.intermediate.iter().map(|(s, _)| *s).max().unwrap_or(0);
        study.waiting.retain(|&q| q != id);
        let mut t = t.clone();
        t.state = TrialState::Running;
        t.attempts += 1;
        t.worker = Some(study.worker.clone());
        t.started_at = Some(Utc::now());
        slots[w] = Some(start(study, t, w, at, decided)?);
    }
    Ok(())
}

/// Starts `trial` (RUNNING) on worker `w` at `at`: records where and when, and looks its
/// evaluation up.
fn start(
    study: &mut Study,
    mut trial: Trial,
    w: usize,
    at: f64,
    decided_through: u32,
) -> Result<Busy, RunError> {
    trial
        .attrs
        .insert(SIM_WORKER_ATTR.into(), serde_json::json!(w));
    trial
        .attrs
        .insert(SIM_STARTED_ATTR.into(), serde_json::json!(at));
    study.history.record(trial.clone());
    if let Some(d) = &mut study.durable {
        d.store.update_trial(d.study, &trial, None)?;
    }
    let seed = study.trial_seed(trial.id);
    let mut whole = trial.clone();
    let mut seen = Vec::new();
    let seconds = evaluate_answered(&study.experiment, &mut whole, seed, &mut |step, value| {
        seen.push((step, value));
        Verdict::Continue
    });
    // A promoted trial's cost so far is in both; the difference is this evaluation.
    let duration = whole.cost_seconds - trial.cost_seconds;
    let reports = seen
        .into_iter()
        .zip(seconds)
        .map(|((step, value), s)| (step, value, s))
        .collect();
    Ok(Busy {
        started: trial,
        at,
        seed,
        whole,
        reports,
        taken: 0,
        decided_through,
        duration: duration.max(0.0),
    })
}

/// The trial of `busy` ended by `verdict` at its latest report: its evaluation replayed
/// with that answer there, so it is charged, and records, what it used up to that report.
fn cut(study: &Study, busy: &Busy, verdict: Verdict) -> Trial {
    let mut trial = busy.started.clone();
    let at = busy.taken;
    let mut n = 0usize;
    evaluate_answered(&study.experiment, &mut trial, busy.seed, &mut |_, _| {
        n += 1;
        if n == at {
            verdict.clone()
        } else {
            Verdict::Continue
        }
    });
    trial
}
