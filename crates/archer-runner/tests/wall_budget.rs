//! The wall-clock budget is a stop, not only a bar to new trials: a trial still training
//! when `budget.wall_seconds` runs out is paused at its next report, marked
//! `stopped_by_budget`, as a simulated budget pauses it. A comparison "at equal wall-clock"
//! then means equal wall-clock.

mod common;

use std::path::Path;

use archer_core::{History, TrialState};
use archer_runner::{NullRecorder, Study, STOPPED_BY_BUDGET_ATTR};

/// A 40-step "training", 0.1 s a step: 4 s per trial, far beyond the budget.
const TRAIN: &str = r#"#!/usr/bin/env bash
for e in $(seq 1 40); do
  echo "{\"step\": $e, \"valid_acc\": $e}"
  sleep 0.1
done
echo "{\"final\": {\"valid_acc\": 40}}"
"#;

fn run(dir: &Path, workers: usize) -> History {
    let text = format!(
        "[study]\nname = \"wall\"\nseed = 1\nworkers = {workers}\n\n[space]\nfile = \"space.toml\"\n\n\
         [strategy]\nname = \"random\"\n\n[evaluator]\nkind = \"command\"\ncommand = [\"./train.sh\"]\n\
         grace_seconds = 1\n\n[objective]\nmetric = \"valid_acc\"\n\n[budget]\nwall_seconds = 1.0\n"
    );
    let c = common::command_experiment(dir, TRAIN, &text);
    let mut study = Study::new(c.validate().unwrap()).unwrap();
    study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    study.history().clone()
}

fn assert_cut_at_the_budget(h: &History, workers: usize) {
    assert_eq!(h.trials().len(), workers, "{:?}", h.trials());
    for t in h.trials() {
        assert_eq!(t.state, TrialState::Paused, "trial {}: {:?}", t.id, t.error);
        assert_eq!(
            t.attrs.get(STOPPED_BY_BUDGET_ATTR),
            Some(&serde_json::Value::Bool(true)),
            "trial {}",
            t.id
        );
        // Cut well before its 40th step (1 s of budget, 0.1 s a step), with its values kept.
        let steps = t.intermediate.len();
        assert!((1..40).contains(&steps), "trial {}: {steps} steps", t.id);
        assert!(t.cost_seconds > 0.0, "trial {} charged nothing", t.id);
    }
}

#[test]
fn a_trial_running_when_the_wall_budget_ends_is_paused_there() {
    let dir = tempfile::tempdir().unwrap();
    let h = run(dir.path(), 1);
    assert_cut_at_the_budget(&h, 1);
}

#[test]
fn every_trial_in_flight_on_a_thread_pool_is_paused_at_the_wall_budget() {
    let dir = tempfile::tempdir().unwrap();
    let h = run(dir.path(), 2);
    assert_cut_at_the_budget(&h, 2);
}
