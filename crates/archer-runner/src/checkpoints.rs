//! What happens to trials' checkpoint folders once a trial's evaluation ends: a finished
//! trial's is removed (nothing continues it: retraining starts from scratch), and with
//! `scheduler.max_paused_checkpoints = k` at most k PAUSED trials keep theirs, the least
//! promising (as the scheduler ranks them) losing theirs first. Every coordination calls
//! this after it stored an evaluated trial; a trial whose process is killed mid-evaluation
//! keeps its folder, since its next attempt continues from it. A strategy whose proposals
//! inherit trained weights (network morphism) keeps the final checkpoints of its best
//! COMPLETE trials ([`archer_strategy::Strategy::parents_kept`]); the in-process study keeps
//! them, a distributed worker does not (its children then train from scratch and say so).

use archer_core::{History, Trial, TrialState};
use archer_schedule::Scheduler;

use crate::study::checkpoint_dir;
use crate::{Experiment, RunError};

/// The attribute set on a trial whose folder was removed because it finished.
pub const CHECKPOINT_REMOVED_ATTR: &str = "checkpoint_removed";

/// The attribute set on a PAUSED trial whose checkpoint the bound dropped: the value is how
/// many paused checkpoints the bound keeps. Promoted later, the trial trains again from
/// scratch (the `train` evaluator then records `checkpoint_missing`, and `steps_run`
/// counts every step again).
pub const CHECKPOINT_DROPPED_ATTR: &str = "checkpoint_dropped";

/// Marks `trial`, about to be stored as COMPLETE, PRUNED or FAILED for good, with
/// [`CHECKPOINT_REMOVED_ATTR`] when it has a checkpoint folder; the caller stores it, then
/// calls [`remove_folder`] (so a kill in between leaves a folder too many, never a
/// stored trial that lost its folder before its result was kept). True when marked. With
/// `parents_kept` above 0 a COMPLETE trial keeps its folder for now ([`bound_parents`]
/// decides later).
pub(crate) fn mark_finished(
    experiment: &Experiment,
    trial: &mut Trial,
    parents_kept: usize,
) -> bool {
    if !(trial.state.is_finished() && has_folder(experiment, trial.id)) {
        return false;
    }
    if parents_kept > 0 && trial.state == TrialState::Complete {
        return false;
    }
    trial.attrs.insert(
        CHECKPOINT_REMOVED_ATTR.into(),
        serde_json::Value::Bool(true),
    );
    true
}

/// Applies `scheduler.max_paused_checkpoints` to `history`: while more PAUSED trials than
/// the bound have a checkpoint folder on this machine, the least promising one's is removed
/// and the trial marked with [`CHECKPOINT_DROPPED_ATTR`]. Returns the marked trials, as
/// recorded in `history`, for the caller to store.
pub(crate) fn bound_paused(
    experiment: &Experiment,
    scheduler: &dyn Scheduler,
    history: &mut History,
) -> Result<Vec<Trial>, RunError> {
    let Some(keep) = experiment.config.scheduler.max_paused_checkpoints else {
        return Ok(Vec::new());
    };
    let kept: Vec<u64> = history
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Paused && has_folder(experiment, t.id))
        .map(|t| t.id)
        .collect();
    if kept.len() <= keep {
        return Ok(Vec::new());
    }
    let excess = kept.len() - keep;
    let order: Vec<u64> = scheduler
        .paused_by_promise(history)
        .into_iter()
        .filter(|id| kept.contains(id))
        .take(excess)
        .collect();
    let mut dropped = Vec::with_capacity(order.len());
    for id in order {
        remove_folder(experiment, id)?;
        let mut t = history
            .get(id)
            .expect("ranked trials are in the history")
            .clone();
        t.attrs
            .insert(CHECKPOINT_DROPPED_ATTR.into(), serde_json::json!(keep));
        history.record(t.clone());
        dropped.push(t);
    }
    Ok(dropped)
}

/// Keeps the final checkpoints of the best `keep` COMPLETE trials of `history` (feasible
/// first, then by score) and removes every other COMPLETE trial's folder. Nothing is
/// recorded on those trials (the store keeps finished trials as they were); a child whose
/// parent's folder is gone trains from scratch and records `inherit_missing`.
pub(crate) fn bound_parents(
    experiment: &Experiment,
    history: &History,
    keep: usize,
) -> Result<(), RunError> {
    let mut kept: Vec<&Trial> = history
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Complete && has_folder(experiment, t.id))
        .collect();
    if kept.len() <= keep {
        return Ok(());
    }
    kept.sort_by(|a, b| {
        let key = |t: &Trial| (t.feasible, t.score.unwrap_or(f64::NEG_INFINITY));
        let (fa, sa) = key(a);
        let (fb, sb) = key(b);
        fb.cmp(&fa).then(sb.total_cmp(&sa)).then(a.id.cmp(&b.id))
    });
    for t in &kept[keep..] {
        remove_folder(experiment, t.id)?;
    }
    Ok(())
}

fn has_folder(experiment: &Experiment, id: u64) -> bool {
    checkpoint_dir(experiment, id).is_some_and(|d| d.is_dir())
}

/// Removes trial `id`'s checkpoint folder: `Ok(false)` when there is none (or the study
/// keeps no files); a folder that exists and cannot be removed is an error.
pub(crate) fn remove_folder(experiment: &Experiment, id: u64) -> Result<bool, RunError> {
    let Some(dir) = checkpoint_dir(experiment, id) else {
        return Ok(false);
    };
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(RunError::io(&dir, e)),
    }
}
