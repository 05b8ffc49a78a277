//! A multi-fidelity study on simulated workers (ASHA with promotion, 4 workers, the
//! nb201-curves evaluator) killed with SIGKILL at random moments and resumed each time
//! makes exactly the decisions of an uninterrupted run with the same seed: the same trials,
//! paused, promoted and completed at the same rungs and the same simulated times. The
//! scheduler's state (rungs, pending promotions) lives in the store only.

use std::path::Path;
use std::time::Instant;

mod common;
use common::{count_rows, kill_repeatedly, repo, search_or_resume};

const KILLS: usize = 12;

fn config() -> String {
    let data = repo().join("data");
    format!(
        r#"[study]
name = "crash-asha"
seed = 21
workers = 4
max_attempts = {}

[space]
name = "nb201"

[strategy]
name = "random"

[scheduler]
kind = "asha"
type = "promotion"
eta = 3
min_resource = 1

[evaluator]
kind = "nb201-curves"
curves = "{}"
table = "{}"

[budget]
sim_seconds = 30000
"#,
        KILLS + 5,
        data.join("nas-bench-201-curves/nb201_cifar10valid_hp200_curves_200archs.csv.gz")
            .display(),
        data.join("nas-bench-201/nb201_results.csv.gz").display()
    )
}

/// Every trial's decisions from the final export: all of it but what names the process,
/// the folder or the wall clock (worker id, attempts, timestamps, checkpoint path).
fn decisions(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let t = v.as_object_mut().unwrap();
            for key in ["worker", "attempts", "started_at", "finished_at"] {
                t.remove(key);
            }
            if let Some(attrs) = t.get_mut("attrs").and_then(|a| a.as_object_mut()) {
                attrs.remove("checkpoint");
            }
            v
        })
        .collect()
}

/// Epoch reports stored so far: unlike the trial count, which stops growing once every
/// cell has been admitted, this grows until the study ends.
fn reports(dir: &Path) -> usize {
    count_rows(dir, "SELECT COUNT(*) FROM trial_values")
}

#[test]
fn a_killed_asha_study_on_simulated_workers_resumes_to_the_same_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("asha.toml");
    std::fs::write(&cfg, config()).unwrap();

    let reference = tmp.path().join("reference");
    let started = Instant::now();
    let o = search_or_resume(&cfg, &reference).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full_run = started.elapsed();
    let expected = decisions(&reference);
    let promoted = expected
        .iter()
        .filter(|t| t["attrs"]["promotions"].as_u64().unwrap_or(0) > 0)
        .count();
    let paused = expected.iter().filter(|t| t["state"] == "PAUSED").count();
    assert!(
        promoted > 10 && paused > 10,
        "{promoted} promoted, {paused} paused"
    );

    let crashed = tmp.path().join("crashed");
    // Start-up here is loading two tables: a quarter of the kills land inside it.
    // Nine kills in twelve land 1 to a fortieth of the reference's reports apart: about a
    // tenth of the run is done before the last resume.
    let spread = (reports(&reference) / 40).max(2);
    kill_repeatedly(&cfg, &crashed, KILLS, spread, full_run / 10, &reports);
    let (before, all) = (reports(&crashed), reports(&reference));
    assert!(
        before > 0 && before < all,
        "after {KILLS} kills {before} of {all} reports were stored"
    );
    let o = search_or_resume(&cfg, &crashed).output().unwrap();
    assert!(
        o.status.success(),
        "final resume: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = decisions(&crashed);
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(
            g, e,
            "trial {} decided differently after the kills",
            e["id"]
        );
    }
    eprintln!(
        "uninterrupted run {full_run:?}; {KILLS} kills; {before} of {all} reports stored before the last resume; {promoted} promoted"
    );
}
