//! Studies over a declared space with the command evaluator: failed commands become FAILED
//! trials with their reasons and the study goes on; several workers run commands at once.

use std::path::Path;
use std::time::Instant;

use archer_core::TrialState;
use archer_runner::{ExperimentConfig, NullRecorder, Study};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A space file, a training script and an experiment in `dir`; the script fails for op
/// `crash`, prints a malformed line for op `garbage`, and sleeps `sleep` seconds otherwise.
fn setup(dir: &Path, workers: usize, sleep: f64, trials: u64) -> ExperimentConfig {
    use std::os::unix::fs::PermissionsExt;
    write(
        dir,
        "space.toml",
        r#"name = "cmd"
version = 1
[[choice]]
name = "op"
options = ["good", "crash", "garbage", "better"]
[[int]]
name = "width"
low = 1
high = 8
"#,
    );
    write(
        dir,
        "train.sh",
        &format!(
            r#"#!/usr/bin/env bash
trial=$(cat "$ARCHER_TRIAL")
op=$(echo "$trial" | sed -n 's/.*"op": "\([a-z]*\)".*/\1/p')
width=$(echo "$trial" | sed -n 's/.*"width": \([0-9]*\).*/\1/p')
case "$op" in
  crash) echo "boom: op crash is not implemented" >&2; exit 2 ;;
  garbage) echo '{{"step": "one"}}' ;;
esac
sleep {sleep}
echo "{{\"step\": 1, \"valid_acc\": $width}}"
echo "{{\"final\": {{\"valid_acc\": $width}}}}"
"#
        ),
    );
    std::fs::set_permissions(dir.join("train.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!(
        r#"[study]
name = "cmd"
seed = 1
workers = {workers}
max_consecutive_failures = 100

[space]
file = "space.toml"

[strategy]
name = "random"

[evaluator]
kind = "command"
command = ["./train.sh"]
grace_seconds = 1

[objective]
metric = "valid_acc"

[budget]
trials = {trials}
"#
    );
    write(dir, "experiment.toml", &text);
    let mut c = ExperimentConfig::from_file(&dir.join("experiment.toml")).unwrap();
    c.study.output = Some(dir.join("run"));
    c
}

#[test]
fn failed_commands_are_failed_trials_with_reasons_and_the_study_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let e = setup(dir.path(), 1, 0.0, 24).validate().unwrap();
    let mut study = Study::new(e).unwrap();
    let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    assert_eq!(summary.trials, 24);
    let trials = study.history().trials();
    let failed: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .collect();
    let complete = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    assert!(
        !failed.is_empty() && complete > 0,
        "{} failed, {complete} complete",
        failed.len()
    );
    for t in &failed {
        let e = t.error.as_deref().unwrap_or("");
        assert!(
            (e.contains("exited with status 2") && e.contains("boom: op crash"))
                || e.contains("malformed report"),
            "{e}"
        );
    }
    let best = summary.best.unwrap();
    assert_eq!(best.metrics.get("valid_acc"), Some(8.0));
    // Each trial kept its files in the experiment folder.
    assert!(dir.path().join("run/trials/trial-0/trial.json").exists());
}

#[test]
fn several_workers_run_commands_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = setup(dir.path(), 4, 1.0, 8).validate().unwrap();
    let t = Instant::now();
    let summary = Study::new(e)
        .unwrap()
        .run(&mut NullRecorder, &mut |_| {})
        .unwrap();
    assert_eq!(summary.trials, 8);
    // 8 one-second trials on 4 workers: well under the 8 s they take one at a time.
    assert!(t.elapsed().as_secs_f64() < 6.0, "{:?}", t.elapsed());
}

#[test]
fn a_missing_program_is_refused_before_the_study_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = setup(dir.path(), 1, 0.0, 2);
    c.evaluator
        .settings
        .insert("command".into(), serde_json::json!(["./no-such-script.sh"]));
    let err = c.validate().err().expect("refused").to_string();
    assert!(err.contains("no-such-script.sh does not exist"), "{err}");
}
