//! The command evaluator with real processes: a good run, a crash, a malformed line, a hang
//! past the time limit, a memory limit, a missing or non-executable program, and a pruned
//! trial stopped within the grace period (one that obeys SIGTERM, one that ignores it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archer_core::{Direction, Fidelity, MetricSpec, Report, TrialCtx};
use archer_eval::{CommandEvaluator, CommandSettings, EvalError, Evaluator};
use archer_space::{SearchSpace, SpaceBuilder};

fn space() -> Arc<dyn SearchSpace> {
    Arc::new(
        SpaceBuilder::new("tiny", 1)
            .choice("op", ["conv", "pool"])
            .float("lr", 1e-3, 1e-1, true)
            .build()
            .unwrap(),
    )
}

fn told() -> Vec<MetricSpec> {
    vec![MetricSpec::new(
        "valid_acc",
        Direction::Maximize,
        false,
        "objective",
    )]
}

/// A folder with `name` holding `script` (a bash script, made executable).
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn settings(dir: &Path, command: &[&str]) -> CommandSettings {
    CommandSettings {
        command: command.iter().map(|s| s.to_string()).collect(),
        workdir: Some(dir.to_path_buf()),
        trials_dir: None,
        time_limit_seconds: 30.0,
        memory_limit_mib: None,
        grace_seconds: 2.0,
        held_out: vec!["test_acc".into()],
        env: Default::default(),
    }
}

fn evaluator(s: CommandSettings) -> Result<CommandEvaluator, EvalError> {
    let dir = s.workdir.clone().unwrap().join("trials");
    CommandEvaluator::new(s, space(), told(), &dir)
}

fn run(e: &CommandEvaluator, ctx: &mut TrialCtx) -> Result<archer_core::Metrics, EvalError> {
    let space = space();
    let arch = space.parse(r#"{"op":"conv","lr":0.01}"#).unwrap();
    e.evaluate(&arch, &Fidelity::full(), ctx)
}

fn training_error(r: Result<archer_core::Metrics, EvalError>) -> String {
    match r {
        Err(EvalError::Training(m)) => m,
        other => panic!("expected a training failure, got {other:?}"),
    }
}

#[test]
fn a_good_run_gets_the_trial_and_reports_steps_and_a_final_result() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "train.sh",
        r#"stdin=$(cat)
trial=$(cat "$ARCHER_TRIAL")
[ "$stdin" = "$trial" ] || { echo "stdin and the trial file differ" >&2; exit 9; }
echo "$trial" | grep -q '"op": "conv"' || { echo "no labelled arch" >&2; exit 8; }
echo "$trial" | grep -q '"seed": 77' || { echo "no seed" >&2; exit 7; }
dir=$(echo "$trial" | sed -n 's/.*"checkpoint_dir": "\(.*\)".*/\1/p')
[ -d "$dir" ] || { echo "no checkpoint dir $dir" >&2; exit 6; }
echo "loading data"
echo '{"step": 1, "valid_acc": 50.0}'
echo '{"step": 2, "valid_acc": 60.5}'
echo '{"final": {"valid_acc": 61.0, "test_acc": 59.0, "params_m": 0.5}}'"#,
    );
    let e = evaluator(settings(dir.path(), &["./train.sh"])).unwrap();
    let mut ctx = TrialCtx::new(4, 77);
    let m = run(&e, &mut ctx).unwrap();
    assert_eq!(m.get("valid_acc"), Some(61.0));
    assert_eq!(m.get("test_acc"), Some(59.0));
    assert!(m.get("train_seconds").is_some());
    assert_eq!(ctx.intermediate(), &[(1, 50.0), (2, 60.5)]);
    let log = std::fs::read_to_string(e.trial_dir(4).join("log.txt")).unwrap();
    assert!(log.contains("loading data"), "{log}");
    assert!(e
        .metrics()
        .iter()
        .any(|s| s.name == "test_acc" && s.held_out));
}

#[test]
fn a_crash_fails_with_the_exit_status_and_the_end_of_stderr() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "crash.sh",
        "echo 'Traceback (most recent call last):' >&2\necho 'RuntimeError: CUDA out of memory' >&2\nexit 3",
    );
    let e = evaluator(settings(dir.path(), &["./crash.sh"])).unwrap();
    let m = training_error(run(&e, &mut TrialCtx::new(1, 0)));
    assert!(m.contains("exited with status 3"), "{m}");
    assert!(m.contains("RuntimeError: CUDA out of memory"), "{m}");
}

#[test]
fn a_malformed_report_fails_the_trial_and_stops_the_program() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "bad.sh",
        "echo '{\"step\": 1, \"valid_acc\": \"high\"}'\nsleep 20",
    );
    let e = evaluator(settings(dir.path(), &["./bad.sh"])).unwrap();
    let t = Instant::now();
    let m = training_error(run(&e, &mut TrialCtx::new(1, 0)));
    assert!(m.contains("malformed report"), "{m}");
    assert!(m.contains("not a finite number"), "{m}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_missing_final_report_or_objective_fails_the_trial() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "quiet.sh", "echo done");
    script(
        dir.path(),
        "other.sh",
        "echo '{\"final\": {\"loss\": 0.1}}'",
    );
    let e = evaluator(settings(dir.path(), &["./quiet.sh"])).unwrap();
    assert!(training_error(run(&e, &mut TrialCtx::new(1, 0))).contains("without a final report"));
    let e = evaluator(settings(dir.path(), &["./other.sh"])).unwrap();
    assert!(training_error(run(&e, &mut TrialCtx::new(2, 0))).contains("\"valid_acc\""));
}

#[test]
fn a_hang_past_the_time_limit_is_stopped_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "hang.sh", "echo started\nsleep 60");
    let mut s = settings(dir.path(), &["./hang.sh"]);
    s.time_limit_seconds = 1.0;
    let e = evaluator(s).unwrap();
    let t = Instant::now();
    let m = training_error(run(&e, &mut TrialCtx::new(1, 0)));
    assert!(m.contains("exceeded its time limit of 1 s"), "{m}");
    // Stopped by SIGTERM, well before the grace period runs out.
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn a_program_over_its_memory_limit_is_stopped_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    // Fills about 400 MiB of memory, then waits.
    script(
        dir.path(),
        "hog.sh",
        "python3 -c 'x = bytearray(400 * 2**20); import time; time.sleep(30)'",
    );
    let mut s = settings(dir.path(), &["./hog.sh"]);
    s.memory_limit_mib = Some(100);
    let e = evaluator(s).unwrap();
    let t = Instant::now();
    let m = training_error(run(&e, &mut TrialCtx::new(1, 0)));
    assert!(m.contains("over its memory limit of 100 MiB"), "{m}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_missing_or_non_executable_program_is_refused_before_any_trial() {
    let dir = tempfile::tempdir().unwrap();
    let err = |s| match evaluator(s) {
        Err(EvalError::InvalidSetting(m)) => m,
        other => panic!("expected a setting error, got {:?}", other.map(|_| ())),
    };
    let m = err(settings(dir.path(), &["no-such-program-archer", "x"]));
    assert!(
        m.contains("\"no-such-program-archer\" is not an executable on PATH"),
        "{m}"
    );
    let m = err(settings(dir.path(), &["./missing.sh"]));
    assert!(m.contains("missing.sh does not exist"), "{m}");
    std::fs::write(dir.path().join("plain.sh"), "echo hi").unwrap();
    let m = err(settings(dir.path(), &["./plain.sh"]));
    assert!(m.contains("is not an executable file"), "{m}");
}

/// A program that reports a step every 50 ms forever; with `ignore_term` it ignores SIGTERM.
fn pruned_after_step_3(ignore_term: bool) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let trap = if ignore_term { "trap '' TERM\n" } else { "" };
    script(
        dir.path(),
        "loop.sh",
        &format!(
            "{trap}echo $$ > pid\ni=0\nwhile true; do i=$((i+1)); echo \"{{\\\"step\\\": $i, \\\"valid_acc\\\": $i}}\"; sleep 0.05; done"
        ),
    );
    let e = evaluator(settings(dir.path(), &["./loop.sh"])).unwrap();
    let mut pruned_at = None;
    let result = {
        let mut ctx = TrialCtx::new(1, 0).with_pruner(|step, _| {
            if step >= 3 {
                pruned_at.get_or_insert(Instant::now());
                Report::Prune
            } else {
                Report::Continue
            }
        });
        run(&e, &mut ctx)
    };
    let stopped = pruned_at.expect("the pruner saw step 3").elapsed();
    assert!(
        matches!(result, Err(EvalError::Pruned { step: 3 })),
        "{result:?}"
    );
    let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the program still runs"
    );
    stopped
}

#[test]
fn a_pruned_trial_is_stopped_within_the_grace_period() {
    // Obeys SIGTERM: gone at once.
    let quick = pruned_after_step_3(false);
    assert!(quick < Duration::from_millis(1000), "{quick:?}");
    // Ignores SIGTERM: SIGKILL when the 2 s grace period ends.
    let forced = pruned_after_step_3(true);
    assert!(forced >= Duration::from_millis(1900), "{forced:?}");
    assert!(forced < Duration::from_millis(3000), "{forced:?}");
}

#[test]
fn a_program_that_ignores_a_large_stdin_does_not_block_the_trial() {
    let dir = tempfile::tempdir().unwrap();
    // An option of 100,000 characters makes the trial JSON larger than a pipe's buffer.
    let long = "x".repeat(100_000);
    let space: Arc<dyn SearchSpace> = Arc::new(
        SpaceBuilder::new("big", 1)
            .choice("op", [long.as_str()])
            .build()
            .unwrap(),
    );
    script(
        dir.path(),
        "nostdin.sh",
        "exec < /dev/null\necho '{\"final\": {\"valid_acc\": 1.0}}'",
    );
    let s = settings(dir.path(), &["./nostdin.sh"]);
    let e = CommandEvaluator::new(s, space.clone(), told(), &dir.path().join("trials")).unwrap();
    let arch = space.sample(&mut archer_rng::Rng::seed_from(0)).unwrap();
    let t = Instant::now();
    let m = e
        .evaluate(&arch, &Fidelity::full(), &mut TrialCtx::new(0, 0))
        .unwrap();
    assert_eq!(m.get("valid_acc"), Some(1.0));
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn invalid_utf8_output_and_background_children_do_not_spoil_a_trial() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "messy.sh",
        "printf 'caf\\xe9 \\xff\\n'\nsleep 30 &\necho $! > bg\necho '{\"final\": {\"valid_acc\": 2.0}}'",
    );
    let e = evaluator(settings(dir.path(), &["./messy.sh"])).unwrap();
    let t = Instant::now();
    let m = run(&e, &mut TrialCtx::new(1, 0)).unwrap();
    assert_eq!(m.get("valid_acc"), Some(2.0));
    // The background sleep kept stdout open; the trial still ended at once, and took it along.
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let bg = std::fs::read_to_string(dir.path().join("bg")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", bg.trim())).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the background child survived: {stat}"
    );
}

#[test]
fn a_trial_folder_of_another_architecture_loses_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "ck.sh",
        "d=$(sed -n 's/.*\"checkpoint_dir\": \"\\(.*\\)\".*/\\1/p' \"$ARCHER_TRIAL\")\nn=$(ls \"$d\" | wc -l)\ntouch \"$d/model.pt\"\necho \"{\\\"final\\\": {\\\"valid_acc\\\": $n}}\"",
    );
    let e = evaluator(settings(dir.path(), &["./ck.sh"])).unwrap();
    let space = space();
    let a = space.parse(r#"{"op":"conv","lr":0.01}"#).unwrap();
    let b = space.parse(r#"{"op":"pool","lr":0.01}"#).unwrap();
    let eval = |arch| {
        e.evaluate(arch, &Fidelity::full(), &mut TrialCtx::new(7, 0))
            .unwrap()
    };
    assert_eq!(eval(&a).get("valid_acc"), Some(0.0));
    // The same architecture again (a resumed trial) finds its checkpoint ...
    assert_eq!(eval(&a).get("valid_acc"), Some(1.0));
    // ... another one under the same trial number does not.
    assert_eq!(eval(&b).get("valid_acc"), Some(0.0));
}
