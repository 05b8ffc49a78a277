//! A search killed with SIGKILL at random moments, resumed each time, ends exactly as an
//! uninterrupted run with the same seed: the trials asked for, no duplicate, no loss. The
//! study is multi-objective (NSGA-II on accuracy and size) with a size limit that rejects
//! some proposals before evaluation, so every part of that path is resumed too.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

mod common;
use common::repo;

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
    let db = dir.join("study.db");
    if !db.exists() {
        return 0;
    }
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(&db, flags)
        .and_then(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map_or(0, |n| n as usize)
}

fn command(cfg: &Path, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archer"));
    if dir.join("run.json").exists() {
        c.args(["resume", dir.to_str().unwrap(), "-q"]);
    } else {
        c.args([
            "search",
            cfg.to_str().unwrap(),
            "--output",
            dir.to_str().unwrap(),
            "-q",
        ]);
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

#[test]
fn twenty_sigkills_then_resume_equal_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("crash.toml");
    std::fs::write(&cfg, config()).unwrap();

    let reference = tmp.path().join("reference");
    let started = Instant::now();
    let o = command(&cfg, &reference).output().unwrap();
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
    // Three kills in four land once 1 to TRIALS/40 more trials have completed (read from the
    // study's SQLite file), so they always interrupt a search in progress whatever the
    // machine's speed; every fourth lands at a random moment of start-up.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kills = 0;
    while kills < KILLS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = command(&cfg, &crashed).spawn().unwrap();
        if kills % 4 == 3 {
            std::thread::sleep(startup.mul_f64((x % 1000) as f64 / 1000.0));
        } else {
            let target = completed(&crashed) + 1 + (x as usize % (TRIALS / 40));
            while completed(&crashed) < target && child.try_wait().unwrap().is_none() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(
                status.success(),
                "a run ended on its own with an error: {err}"
            );
            panic!("the search finished after {kills} kills; make it longer");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
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

    let o = command(&cfg, &crashed).output().unwrap();
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
    eprintln!("uninterrupted run {full_run:?} (start-up {startup:?}); {kills} kills; {done} of {TRIALS} complete before the last resume");
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
