//! Checkpoint disk use under ASHA with promotion, through the command evaluator and a real
//! program that keeps its own checkpoint: finished trials' folders are removed, at most
//! `scheduler.max_paused_checkpoints` paused trials keep theirs, and a trial whose
//! checkpoint was dropped trains again from scratch when promoted, which is recorded.

mod common;

use std::path::Path;

use archer_core::{History, TrialState};
use archer_runner::{
    ExperimentConfig, NullRecorder, Study, CHECKPOINT_DROPPED_ATTR, CHECKPOINT_REMOVED_ATTR,
    RESTARTED_FROM_SCRATCH_ATTR, RESUMED_FROM_STEP_ATTR, STEPS_RUN_ATTR,
};

/// A 9-epoch "training" whose value at epoch e is 10·width + e. It saves the epoch it
/// reached in its checkpoint folder before reporting it, continues after a saved epoch,
/// and logs where it started.
const TRAIN: &str = r#"#!/usr/bin/env bash
trial=$(cat "$ARCHER_TRIAL")
width=$(echo "$trial" | sed -n 's/.*"width": \([0-9]*\).*/\1/p')
dir=$(echo "$trial" | sed -n 's/.*"checkpoint_dir": "\(.*\)".*/\1/p')
start=0
[ -f "$dir/epoch" ] && start=$(cat "$dir/epoch")
echo "start $start" >&2
for e in $(seq $((start + 1)) 9); do
  echo "$e" > "$dir/epoch"
  echo "{\"step\": $e, \"valid_acc\": $((width * 10 + e))}"
  sleep 0.05
done
echo "{\"final\": {\"valid_acc\": $((width * 10 + 9))}}"
"#;

fn setup(dir: &Path, keep: usize) -> ExperimentConfig {
    let text = format!(
        r#"[study]
name = "bound"
seed = 3

[space]
file = "space.toml"

[strategy]
name = "random"

[scheduler]
kind = "asha"
min_resource = 1
max_resource = 9
max_paused_checkpoints = {keep}

[evaluator]
kind = "command"
command = ["./train.sh"]
grace_seconds = 1

[objective]
metric = "valid_acc"

[budget]
trials = 24
"#
    );
    common::command_experiment(dir, TRAIN, &text)
}

fn run(dir: &Path, keep: usize) -> History {
    let mut study = Study::new(setup(dir, keep).validate().unwrap()).unwrap();
    study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    study.history().clone()
}

fn folder(dir: &Path, id: u64) -> std::path::PathBuf {
    dir.join(format!("run/trials/trial-{id}/checkpoint"))
}

fn starts(dir: &Path, id: u64) -> Vec<u32> {
    let log = std::fs::read_to_string(dir.join(format!("run/trials/trial-{id}/log.txt")))
        .unwrap_or_default();
    log.lines()
        .filter_map(|l| l.strip_prefix("start ")?.trim().parse().ok())
        .collect()
}

#[test]
fn at_most_k_paused_trials_keep_checkpoints_and_finished_ones_keep_none() {
    let dir = tempfile::tempdir().unwrap();
    let h = run(dir.path(), 2);
    let trials = h.trials();
    let paused: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Paused)
        .collect();
    let kept = paused
        .iter()
        .filter(|t| folder(dir.path(), t.id).is_dir())
        .count();
    assert!(paused.len() > 2, "only {} paused", paused.len());
    assert!(kept <= 2, "{kept} paused trials keep a checkpoint");
    let dropped: Vec<_> = trials
        .iter()
        .filter(|t| t.attrs.contains_key(CHECKPOINT_DROPPED_ATTR))
        .collect();
    assert!(dropped.len() >= paused.len() - 2);
    for t in trials.iter().filter(|t| t.state.is_finished()) {
        assert!(
            !folder(dir.path(), t.id).exists(),
            "trial {} kept its folder",
            t.id
        );
        assert_eq!(
            t.attrs.get(CHECKPOINT_REMOVED_ATTR),
            Some(&serde_json::Value::Bool(true))
        );
    }
    // Promoted trials that kept their checkpoint continued from it: no epoch twice.
    for t in trials.iter().filter(|t| t.promotions() > 0) {
        if !t.attrs.contains_key(RESTARTED_FROM_SCRATCH_ATTR) {
            let top = t.intermediate.iter().map(|(s, _)| *s).max().unwrap();
            assert_eq!(
                t.attrs[STEPS_RUN_ATTR],
                serde_json::json!(top),
                "trial {}",
                t.id
            );
        }
    }
}

#[test]
fn a_promoted_trial_whose_checkpoint_was_dropped_trains_again_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let h = run(dir.path(), 0);
    let promoted: Vec<_> = h.trials().iter().filter(|t| t.promotions() > 0).collect();
    assert!(!promoted.is_empty(), "nothing was promoted");
    for t in promoted {
        assert_eq!(
            t.attrs.get(RESTARTED_FROM_SCRATCH_ATTR),
            Some(&serde_json::Value::Bool(true)),
            "trial {}",
            t.id
        );
        assert!(!t.attrs.contains_key(RESUMED_FROM_STEP_ATTR));
        // Every run of its program started at epoch 0, and every step was charged again.
        let runs = starts(dir.path(), t.id);
        assert_eq!(runs.len() as u32, t.promotions() + 1, "trial {}", t.id);
        assert!(runs.iter().all(|&s| s == 0), "trial {}: {runs:?}", t.id);
        let top = t.intermediate.iter().map(|(s, _)| *s).max().unwrap() as u64;
        assert!(
            t.attrs[STEPS_RUN_ATTR].as_u64().unwrap() > top,
            "trial {}",
            t.id
        );
    }
}
