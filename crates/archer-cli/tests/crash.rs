//! A search killed with SIGKILL at random moments, resumed each time, ends exactly as an
//! uninterrupted run with the same seed: the trials asked for, no duplicate, no loss. The
//! study is multi-objective (NSGA-II on accuracy and size) with a size limit that rejects
//! some proposals before evaluation, so every part of that path is resumed too.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod common;
use common::{count_rows, kill_repeatedly, repo, search_or_resume};

const TRIALS: usize = 3000;
const KILLS: usize = 20;

fn config() -> String {
    format!(
        r#"[study]
name = "crash"
seed = 11
# Every kill may land on the trial being evaluated; let it be re-run each time.
max_attempts = {}

[space]
name = "nb201"

[strategy]
name = "nsga2"

[[objective]]
metric = "valid_acc"

[[objective]]
metric = "params_m"
direction = "min"

[[constraint]]
metric = "params_m"
max = 1.4

[evaluator]
kind = "nb201"
table = "{}"

[budget]
trials = {TRIALS}
"#,
        KILLS + 5,
        repo()
            .join("data/nas-bench-201/nb201_results.csv.gz")
            .display()
    )
}

/// (id, state, arch choices, scores) of every trial, from the final export.
fn outcome(dir: &Path) -> Vec<(u64, String, Vec<u64>, String)> {
    std::fs::read_to_string(dir.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let choices = v["arch"]["choices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect();
            (
                v["id"].as_u64().unwrap(),
                v["state"].as_str().unwrap().to_string(),
                choices,
                format!("{} {} {}", v["scores"], v["feasible"], v["violation"]),
            )
        })
        .collect()
}

/// COMPLETE trials in the folder's store so far (0 before it exists).
fn completed(dir: &Path) -> usize {
    count_rows(dir, "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'")
}

#[test]
fn twenty_sigkills_then_resume_equal_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("crash.toml");
    std::fs::write(&cfg, config()).unwrap();

    let reference = tmp.path().join("reference");
    let started = Instant::now();
    let o = search_or_resume(&cfg, &reference).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full_run = started.elapsed();
    // Start-up (loading the table) measured alone: kills are start-up plus a part of the search.
    let started = Instant::now();
    assert!(Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(["validate", cfg.to_str().unwrap()])
        .output()
        .unwrap()
        .status
        .success());
    let startup = started.elapsed();
    let expected = outcome(&reference);
    // The budget counts evaluated trials; rejected proposals come on top.
    assert!(expected.len() >= TRIALS, "{} trials", expected.len());

    let crashed = tmp.path().join("crashed");
    kill_repeatedly(&cfg, &crashed, KILLS, TRIALS / 40, startup, &completed);
    // The kills really interrupted the search half-way.
    let o = Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(["status", crashed.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let done = status["complete"].as_u64().unwrap() as usize;
    assert!(
        done > 0 && done < TRIALS,
        "after {KILLS} kills {done} of {TRIALS} trials were complete"
    );
    assert!(status["stop_reason"].is_null());

    let o = search_or_resume(&cfg, &crashed).output().unwrap();
    assert!(
        o.status.success(),
        "final resume: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let got = outcome(&crashed);
    let ids: Vec<u64> = got.iter().map(|t| t.0).collect();
    assert_eq!(
        ids,
        (0..expected.len() as u64).collect::<Vec<_>>(),
        "no loss, no duplicate"
    );
    assert!(got.iter().all(|t| t.1 == "COMPLETE"));
    assert_eq!(got, expected, "same trials as the uninterrupted run");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(crashed.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["complete"].as_u64(), Some(expected.len() as u64));
    eprintln!("uninterrupted run {full_run:?} (start-up {startup:?}); {KILLS} kills; {done} of {TRIALS} complete before the last resume");
}

#[test]
fn resume_refuses_a_folder_in_use_and_a_non_experiment() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(["resume", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an experiment folder"));
}
