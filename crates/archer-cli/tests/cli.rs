//! The `archer` binary end to end, on the repo's fixture and bundled data.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{archer, repo};

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// An experiment on the 729-cell fixture: the NB201 space restricted to its three ops.
fn fixture_config(strategy: &str, extra: &str) -> String {
    let table = repo().join("fixtures/nb201/nb201_results_3ops.csv.gz");
    format!(
        r#"[study]
name = "fixture-{strategy}"
seed = 7

[space]
name = "nb201"
ops = ["none", "skip_connect", "nor_conv_3x3"]

[strategy]
name = "{strategy}"

[evaluator]
kind = "nb201"
table = "{}"

[budget]
sim_seconds = 6000
{extra}"#,
        table.display()
    )
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

#[test]
fn search_writes_the_experiment_folder_and_prints_the_best() {
    let dir = tempfile::tempdir().unwrap();
    for strategy in ["random", "rea", "ls"] {
        let cfg = write(
            dir.path(),
            &format!("{strategy}.toml"),
            &fixture_config(strategy, ""),
        );
        let out = dir.path().join(format!("out-{strategy}"));
        let o = archer(
            &[
                "search",
                cfg.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("Best architecture"), "{stdout}");
        assert!(stdout.contains("test acc"), "{stdout}");
        for f in [
            "experiment.toml",
            "run.json",
            "trials.jsonl",
            "trials.csv",
            "best.json",
            "summary.json",
            "anytime.csv",
            "strategy_state.json",
        ] {
            assert!(out.join(f).is_file(), "{strategy}: missing {f}");
        }
        let best: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
        let arch = best["arch_str"].as_str().unwrap();
        assert!(
            !arch.contains("nor_conv_1x1") && !arch.contains("avg_pool"),
            "restricted ops: {arch}"
        );
        let run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
        assert_eq!(run["seed"], 7);
        assert_eq!(run["evaluator"]["table_rows"], 729);
        assert_eq!(run["evaluator"]["table_sha256"].as_str().unwrap().len(), 64);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["stop"]["reason"], "sim_budget");
        assert!(summary["sim_seconds"].as_f64().unwrap() >= 6000.0);
        let lines = std::fs::read_to_string(out.join("trials.jsonl"))
            .unwrap()
            .lines()
            .count() as u64;
        assert_eq!(lines, summary["trials"].as_u64().unwrap());
    }
}

#[test]
fn same_seed_reproduces_the_run_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "rea.toml", &fixture_config("rea", ""));
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = archer(
            &[
                "search",
                cfg.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--seed",
                seed,
                "-q",
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{:?}", text(&o));
        std::fs::read_to_string(out.join("trials.csv")).unwrap()
    };
    let a = run("a", "3");
    assert_eq!(a, run("b", "3"));
    assert_ne!(a, run("c", "4"));
}

#[test]
fn overrides_win_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "ls.toml", &fixture_config("ls", ""));
    let out = dir.path().join("o");
    let o = archer(
        &[
            "search",
            cfg.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--trials",
            "7",
            "--budget-seconds",
            "1e9",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["trials"], 7);
    assert_eq!(summary["stop"]["reason"], "trial_budget");
}

/// Every bad input: exit code 2 (1 for an existing output folder), a message naming what is
/// wrong, no panic, and nothing written.
#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture_config("rea", "");
    let gz = std::fs::read(repo().join("fixtures/nb201/nb201_results_3ops.csv.gz")).unwrap();
    let truncated = write(dir.path(), "truncated.csv.gz", "");
    std::fs::write(&truncated, &gz[..gz.len() / 3]).unwrap();
    let fixture_path = repo()
        .join("fixtures/nb201/nb201_results_3ops.csv.gz")
        .display()
        .to_string();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown key",
            good.replace("seed = 7", "sed = 7"),
            vec!["unknown field `sed`", "`seed`"],
        ),
        (
            "unknown strategy key",
            good.replace("name = \"rea\"", "name = \"rea\"\npopsize = 3"),
            vec!["`popsize`", "`population`", "`sample`"],
        ),
        (
            "unknown strategy",
            good.replace("name = \"rea\"", "name = \"evolution\""),
            vec!["unknown strategy", "rea", "nsga2"],
        ),
        (
            "unknown section",
            format!("{good}\n[trainer]\nlr = 1\n"),
            vec!["unknown field `trainer`", "`budget`"],
        ),
        (
            "bad value type",
            good.replace("seed = 7", "seed = \"seven\""),
            vec!["seed = \"seven\"", "expected u64", "line 3"],
        ),
        (
            "unknown op",
            good.replace("\"skip_connect\"", "\"skip\""),
            vec!["unknown operation \"skip\"", "nor_conv_3x3"],
        ),
        (
            "missing data file",
            good.replace(&fixture_path, "/nonexistent/nb201.csv.gz"),
            vec!["/nonexistent/nb201.csv.gz", "No such file"],
        ),
        (
            "corrupt data file",
            good.replace(&fixture_path, truncated.to_str().unwrap()),
            vec!["truncated.csv.gz", "corrupt or truncated"],
        ),
        (
            "partial table",
            good.replace("ops = [\"none\", \"skip_connect\", \"nor_conv_3x3\"]\n", ""),
            vec!["lacks 14896 cells", "space.ops"],
        ),
        (
            "held-out objective",
            format!("{good}\n[objective]\nmetric = \"test_acc\"\n"),
            vec!["objective.metric", "held out", "valid_acc"],
        ),
        (
            "unknown objective",
            format!("{good}\n[objective]\nmetric = \"accuracy\"\n"),
            vec!["objective.metric", "\"accuracy\"", "valid_acc"],
        ),
        (
            "no budget",
            good.replace("sim_seconds = 6000", ""),
            vec!["budget", "budget.trials"],
        ),
        (
            "bad budget",
            good.replace("sim_seconds = 6000", "sim_seconds = -5"),
            vec!["budget.sim_seconds", "positive"],
        ),
        (
            "space mismatch",
            good.replace(
                "name = \"nb201\"\nops = [\"none\", \"skip_connect\", \"nor_conv_3x3\"]",
                "name = \"darts\"",
            ),
            vec!["space.name", "evaluator.kind = \"nb201\""],
        ),
        (
            "bad dataset",
            good.replace("[budget]", "dataset = \"mnist\"\n[budget]"),
            vec!["mnist", "cifar10", "imagenet16-120"],
        ),
        (
            "bad sample size",
            good.replace("name = \"rea\"", "name = \"rea\"\nsample = 20"),
            vec!["strategy.sample = 20", "1 to population (10)"],
        ),
        (
            "misspelt BO key",
            good.replace("name = \"rea\"", "name = \"bo\"\nkernal = \"wl\""),
            vec!["unknown field `kernal`", "`kernel`", "`acquisition`"],
        ),
        (
            "a strategy that cannot search the space",
            good.replace("name = \"rea\"", "name = \"pnas\""),
            vec!["nb201 space does not grow by blocks", "min_nodes"],
        ),
        (
            "unknown GP kernel",
            good.replace("name = \"rea\"", "name = \"bo\"\nkernel = \"rbf\""),
            vec!["unknown variant `rbf`", "`exp_hamming`", "`wl`"],
        ),
        (
            "unknown predictor",
            good.replace(
                "name = \"rea\"",
                "name = \"bananas\"\npredictor = { name = \"xgb\" }",
            ),
            vec!["unknown variant `xgb`", "`gp`", "`mlp`", "`forest`"],
        ),
        (
            "warm start without proxy scores",
            good.replace("name = \"rea\"", "name = \"bo\"\nwarm_start = 5"),
            vec!["strategy.warm_start", "zero_cost_table"],
        ),
        (
            "several objectives with a single-objective strategy",
            format!("{good}\n[[objective]]\nmetric = \"valid_acc\"\n[[objective]]\nmetric = \"params_m\"\ndirection = \"min\"\n"),
            vec!["strategy.name", "optimises one objective", "nsga2"],
        ),
        (
            "a constraint on an unknown metric",
            format!("{good}\n[[constraint]]\nmetric = \"speed\"\nmax = 1.0\n"),
            vec!["constraint[0].metric", "\"speed\"", "params_m"],
        ),
        (
            "a constraint with min above max",
            format!("{good}\n[[constraint]]\nmetric = \"params_m\"\nmin = 2.0\nmax = 1.0\n"),
            vec!["constraint[0]", "min = 2 is above max = 1"],
        ),
        (
            "a constraint with no bound",
            format!("{good}\n[[constraint]]\nmetric = \"params_m\"\n"),
            vec!["constraint[0]", "set min, max or both"],
        ),
        (
            "a negative heartbeat",
            good.replace("[study]\n", "[study]\nheartbeat_seconds = -1\n"),
            vec!["study.heartbeat_seconds", "-1"],
        ),
        (
            "a NaN heartbeat",
            good.replace("[study]\n", "[study]\nheartbeat_seconds = nan\n"),
            vec!["study.heartbeat_seconds", "NaN"],
        ),
        (
            "zero attempts",
            good.replace("[study]\n", "[study]\nmax_attempts = 0\n"),
            vec!["study.max_attempts", "at least 1"],
        ),
        (
            "zero workers",
            good.replace("[study]\n", "[study]\nworkers = 0\n"),
            vec!["study.workers", "at least 1"],
        ),
        (
            "grace not above the heartbeat",
            good.replace("[study]\n", "[study]\nheartbeat_seconds = 10\ngrace_seconds = 5\n"),
            vec!["study.grace_seconds", "above study.heartbeat_seconds"],
        ),
        (
            "not toml",
            "this is not toml".to_string(),
            vec!["bad.toml", "TOML parse error"],
        ),
    ];
    for (what, contents, needles) in cases {
        let cfg = write(dir.path(), "bad.toml", &contents);
        let out = dir.path().join("never");
        let o = archer(
            &[
                "search",
                cfg.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {stderr}");
        assert!(!stderr.contains("panic"), "{what}: {stderr}");
        for n in &needles {
            assert!(stderr.contains(n), "{what}: expected {n:?} in:\n{stderr}");
        }
        // The error chain states its cause once (it used to repeat it after a colon).
        let parts: Vec<&str> = stderr.split(": ").filter(|p| p.len() >= 15).collect();
        for (i, p) in parts.iter().enumerate() {
            assert!(
                !parts[i + 1..].contains(p),
                "{what}: {p:?} repeated in:\n{stderr}"
            );
        }
        assert!(!out.exists(), "{what}: wrote an output folder");
    }

    let o = archer(&["search", "/nonexistent/exp.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o)
        .1
        .contains("cannot read experiment file /nonexistent/exp.toml"));

    // An existing experiment is never overwritten.
    let cfg = write(dir.path(), "good.toml", &good);
    let out = dir.path().join("taken");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "precious").unwrap();
    let o = archer(
        &[
            "search",
            cfg.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("already holds an experiment"),
        "{:?}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "precious"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);

    let o = archer(
        &["bench", "nb201", "--strategies", "random,annealing"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("random, rea, ls, reinforce"),
        "{:?}",
        text(&o)
    );
    let o = archer(
        &["bench", "nb201", "--table", "/nonexistent.csv.gz"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("/nonexistent.csv.gz"));
}

#[test]
fn validate_checks_without_running() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "v.toml", &fixture_config("random", ""));
    let o = archer(&["validate", cfg.to_str().unwrap()], dir.path());
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o).0.contains("OK (nb201 space of 729 architectures"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn bench_prints_json_and_writes_curves() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let table = repo().join("data/nas-bench-201/nb201_results.csv.gz");
    let o = archer(
        &[
            "bench",
            "nb201",
            "--dataset",
            "cifar10",
            "--strategies",
            "random,rea,ls",
            "--seeds",
            "8",
            "--budget-seconds",
            "12000",
            "--json",
            "--table",
            table.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 3);
    for (entry, name) in list.iter().zip(["random", "rea", "ls"]) {
        assert_eq!(entry["strategy"], name);
        assert_eq!(entry["dataset"], "cifar10");
        assert_eq!(entry["seeds"], 8);
        for key in [
            "mean_test_acc",
            "std_test_acc",
            "mean_valid_acc",
            "mean_queries",
        ] {
            assert!(entry[key].as_f64().is_some(), "{name}: {key}");
        }
        let test = entry["mean_test_acc"].as_f64().unwrap();
        assert!((92.0..=94.4).contains(&test), "{name}: {test}");
    }
    for f in [
        "summary.json",
        "runs.csv",
        "anytime_seconds.csv",
        "anytime_queries.csv",
        "anytime_seconds.svg",
        "anytime_queries.svg",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let curve = std::fs::read_to_string(out.join("anytime_seconds.csv")).unwrap();
    // Up to 100 points per strategy, from the time every run has a first result.
    let points = curve.lines().count() - 1;
    assert!((3 * 80..=3 * 100).contains(&points), "{points}");
    for line in curve.lines().skip(1) {
        assert!(
            line.ends_with(",8"),
            "a point over fewer than all 8 runs: {line}"
        );
    }
    assert!(curve.starts_with("strategy,sim_seconds,mean_test_acc"));
    let svg = std::fs::read_to_string(out.join("anytime_seconds.svg")).unwrap();
    assert!(svg.starts_with("<svg") && !svg.contains("reinforce") && svg.contains("rea (n = 8)"));
}

#[test]
fn spaces_lists_and_explains() {
    let o = archer(&["spaces"], &repo());
    let (stdout, _) = text(&o);
    assert!(o.status.success());
    for name in ["nb201", "darts", "macro"] {
        assert!(stdout.contains(name), "{stdout}");
    }
    assert!(stdout.contains("15625"));
    let o = archer(&["spaces", "show", "nb201"], &repo());
    let (stdout, _) = text(&o);
    assert!(
        stdout.contains("edge_0_1") && stdout.contains("avg_pool_3x3"),
        "{stdout}"
    );
    let o = archer(&["spaces", "show", "resnet"], &repo());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("nb201, darts, macro"));
}

#[test]
fn bench_runs_model_based_strategies_on_several_datasets_and_times_their_asks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let o = archer(
        &[
            "bench",
            "nb201",
            "--dataset",
            "cifar100,imagenet16-120",
            "--strategies",
            "bo,bo+zc",
            "--seeds",
            "2",
            "--ask-timing-at",
            "30",
            "--json",
            "--table",
            repo()
                .join("data/nas-bench-201/nb201_results.csv.gz")
                .to_str()
                .unwrap(),
            "--zero-cost-table",
            repo()
                .join("data/nas-bench-201/nb201_zero_cost_proxies.csv.gz")
                .to_str()
                .unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 4);
    for entry in list {
        assert!(entry["ask_ms_max"].as_f64().is_some(), "{entry}");
        assert_eq!(entry["ask_timing_evaluated"], 30);
    }
    assert_eq!(list[0]["dataset"], "cifar100");
    assert_eq!(list[1]["strategy"], "bo+zc");
    assert_eq!(list[3]["dataset"], "imagenet16-120");
    for d in ["cifar100", "imagenet16-120"] {
        let svg = std::fs::read_to_string(out.join(d).join("anytime_seconds.svg")).unwrap();
        assert!(svg.contains("bo+zc (n = 2)"), "{d}");
    }
}

#[test]
fn bench_predictors_prints_rank_correlations() {
    let dir = tempfile::tempdir().unwrap();
    let o = archer(
        &[
            "bench",
            "predictors",
            "nb201",
            "--train-sizes",
            "20,60",
            "--test-size",
            "100",
            "--trials",
            "1",
            "--json",
            "--table",
            repo()
                .join("data/nas-bench-201/nb201_results.csv.gz")
                .to_str()
                .unwrap(),
        ],
        dir.path(),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2 * 5);
    for entry in list {
        let tau = entry["kendall_tau"].as_f64().unwrap();
        let rho = entry["spearman_rho"].as_f64().unwrap();
        assert!(tau > 0.0 && rho > tau && rho <= 1.0, "{entry}");
    }
    let o = archer(
        &["bench", "predictors", "nb201", "--predictors", "oracle"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("gp, gp_path, gp_wl, mlp, forest"));
}
