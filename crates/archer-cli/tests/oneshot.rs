//! One-shot search through the `archer` binary: the bundled GDAS example on MNIST records the
//! supernet's cell as the study's trial, retrains and reloads it; the PC-DARTS example
//! searches the DARTS space and retrains its best finalist; a search killed with
//! SIGKILL mid-training and resumed ends at the same α and cell as an uninterrupted one;
//! bad settings are refused by key before anything runs; `bench oneshot nb201` runs each
//! method and seed of a protocol once, scores the cells in the table and reads finished runs
//! back.
#![cfg(feature = "train")]

use std::path::Path;

mod common;
use common::{
    archer, mnist_prefix_edit, one_trainer_at_a_time, only_trial, output_text as text, repo,
    search_or_resume,
};

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The example with `edits` applied (`(from, to)` text replacements), written into `dir`
/// with its data path made absolute.
fn example(dir: &Path, edits: &[(&str, &str)]) -> std::path::PathBuf {
    example_named("mnist-gdas", dir, edits)
}

/// As [`example`], for `examples/oneshot/<name>.toml`.
fn example_named(name: &str, dir: &Path, edits: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text =
        std::fs::read_to_string(repo().join(format!("examples/oneshot/{name}.toml"))).unwrap();
    let data = repo().join("data/mnist-small");
    text = text.replace("../../data/mnist-small", data.to_str().unwrap());
    for (from, to) in edits {
        assert!(text.contains(from), "the example has no {from:?}");
        text = text.replace(from, to);
    }
    let file = dir.join("oneshot.toml");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn the_gdas_example_records_the_supernets_cell_and_retrains_it() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    // As shipped, but on the first 4,000 training images, all of them searched (as many as
    // the example's 40 % of 10,000), and retrained for one epoch instead of two.
    let (full, prefix) = mnist_prefix_edit(&dir.path().join("mnist-4k"), 4000, 500);
    let file = example(
        dir.path(),
        &[
            (full.as_str(), prefix.as_str()),
            ("data_fraction = 0.4", "data_fraction = 1.0"),
            ("[retrain]\nepochs = 2", "[retrain]\nepochs = 1"),
        ],
    );
    let out = dir.path().join("run");
    let o = search_or_resume(&file, &out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let outcome = json(&out.join("oneshot/outcome.json"));
    let trial = &only_trial(&out);
    assert_eq!(trial["state"], "COMPLETE", "{trial}");
    assert_eq!(trial["attrs"]["oneshot_method"], "gdas");
    // The trial is the supernet's choice, with its inherited (recalibrated) accuracy.
    assert_eq!(trial["attrs"]["oneshot_genotype"], outcome["genotype"]);
    assert!(trial["metrics"]["valid_acc"].as_f64().unwrap() > 0.0);
    // The supernet learned: its training loss fell over the six epochs.
    let epochs = outcome["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 6);
    let loss = |e: &serde_json::Value| e["train_loss"].as_f64().unwrap();
    assert!(
        loss(&epochs[5]) < loss(&epochs[0]) - 0.05,
        "training loss {} then {}",
        loss(&epochs[0]),
        loss(&epochs[5])
    );
    assert_eq!(
        outcome["alpha"].as_array().unwrap().len(),
        6,
        "one α row per edge"
    );
    assert!(trial["metrics"]["peak_rss_mib"].as_f64().unwrap() > 0.0);
    // Against the cell it found, built as an ordinary network of the supernet's size: a
    // GDAS step (an α-step and a weight step) costs more than one training step of it.
    let metric = |k: &str| trial["metrics"][k].as_f64().unwrap_or(f64::NAN);
    assert!(metric("single_step_ms") > 0.0, "{trial}");
    assert!(metric("step_ratio") > 1.0, "{trial}");
    if let Some(ratio) = trial["metrics"]["memory_ratio"].as_f64() {
        assert!(ratio > 0.0 && metric("single_memory_mib") > 0.0, "{trial}");
    }
    // Retrained from scratch and saved: the model reloads and is measured on the test set.
    let o = archer(
        &["evaluate", out.join("model").to_str().unwrap()],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let manifest = std::fs::read_to_string(out.join("model/manifest.json")).unwrap();
    let genotype = outcome["genotype"].as_str().unwrap();
    assert!(
        manifest.contains(genotype),
        "the exported model is the supernet's cell {genotype}: {manifest}"
    );
}

/// One run for three options: two supernet epochs with partial channels (K = 4 of 8); trust
/// without a table (MNIST is not the table's data), against 5 cells trained from scratch for
/// one epoch; then the three most probable cells under GDAS's α as finalists, one epoch each.
#[test]
fn finalists_train_from_scratch_and_trust_without_a_table_retrains_a_sample() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let file = example(
        dir.path(),
        &[
            (
                "epochs = 6",
                "epochs = 2\npartial_channels = 4\nfinalists = 3\nfinalist_epochs = 1\ntrust = { sample = 5, retrain_epochs = 1 }",
            ),
            ("[retrain]\nepochs = 2", ""),
        ],
    );
    let out = dir.path().join("run");
    let o = search_or_resume(&file, &out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let outcome = json(&out.join("oneshot/outcome.json"));
    let m = &outcome["metrics"];
    assert_eq!(m["trust_cells"], 5.0, "{m}");
    assert_eq!(m["trust_retrain_epochs"], 1.0, "{m}");
    for key in ["kendall_tau", "spearman_rho", "kendall_tau_no_recal"] {
        let v = m[key].as_f64().unwrap_or(f64::NAN);
        assert!((-1.0..=1.0).contains(&v), "{key} = {v}: {m}");
    }
    assert!(
        m.get("test_acc_cifar10").is_none(),
        "no table, no table accuracy: {m}"
    );
    let trials: Vec<serde_json::Value> = std::fs::read_to_string(out.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(trials.len(), 3, "{trials:?}");
    let mut genotypes = std::collections::HashSet::new();
    let mut last_score = f64::INFINITY;
    for (rank, t) in trials.iter().enumerate() {
        assert_eq!(t["state"], "COMPLETE", "{t}");
        assert_eq!(t["attrs"]["oneshot_method"], "gdas");
        assert_eq!(t["attrs"]["oneshot_rank"], rank as u64, "{t}");
        assert_eq!(t["fidelity"]["epochs"], 1, "trained briefly: {t}");
        // Trained from scratch: the train evaluator's metrics, not the supernet's.
        assert_eq!(t["metrics"]["epochs"], 1.0, "{t}");
        assert!(t["metrics"]["train_acc"].as_f64().is_some(), "{t}");
        assert!(t["metrics"].get("kendall_tau").is_none(), "{t}");
        let score = t["attrs"]["oneshot_score"].as_f64().unwrap();
        assert!(
            score <= 0.0 && score <= last_score,
            "log-probabilities, best first: {t}"
        );
        last_score = score;
        assert!(
            genotypes.insert(t["attrs"]["oneshot_genotype"].to_string()),
            "distinct"
        );
    }
    // Rank 0 is the supernet's own choice and carries its figures.
    assert_eq!(trials[0]["attrs"]["oneshot_genotype"], outcome["genotype"]);
    assert!(trials[0]["attrs"]["oneshot_metrics"]["valid_acc"]
        .as_f64()
        .is_some());
    let finalists = outcome["finalists"].as_array().unwrap();
    assert_eq!(finalists.len(), 3);
    // The study's best is the best trained validation accuracy.
    let acc = |t: &serde_json::Value| t["metrics"]["valid_acc"].as_f64().unwrap();
    let best_trained = trials
        .iter()
        .max_by(|a, b| acc(a).total_cmp(&acc(b)))
        .unwrap();
    let best = json(&out.join("best.json"));
    assert_eq!(best["trial"], best_trained["id"], "{best}");
}

/// The DARTS-space example: PC-DARTS's partial channels on the DARTS supernet, finalists
/// trained from scratch, the best retrained, exported and reloaded. Kept short for CI: the
/// search sees the same 1,000 images, of the first 2,000 training images (retraining on all
/// 10,000 took 23 of the test's 56 s); one supernet epoch, two finalists, and a narrower
/// network retrained for one epoch.
#[test]
fn the_pcdarts_example_searches_the_darts_space_and_retrains_the_best_finalist() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (full, prefix) = mnist_prefix_edit(&dir.path().join("mnist-2k"), 2000, 500);
    let file = example_named(
        "mnist-pcdarts",
        dir.path(),
        &[
            (full.as_str(), prefix.as_str()),
            ("data_fraction = 0.2", "data_fraction = 0.5"),
            ("epochs = 2\nchannels = 8", "epochs = 1\nchannels = 8"),
            ("finalists = 3", "finalists = 2"),
            ("[retrain]\nepochs = 2", "[retrain]\nepochs = 1"),
            (
                "[evaluator.network]\nchannels = 8",
                "[evaluator.network]\nchannels = 4",
            ),
        ],
    );
    let out = dir.path().join("run");
    let o = search_or_resume(&file, &out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let outcome = json(&out.join("oneshot/outcome.json"));
    let alpha = outcome["alpha"].as_array().unwrap();
    assert_eq!(alpha.len(), 28, "14 normal and 14 reduction edges");
    assert_eq!(
        alpha[0].as_array().unwrap().len(),
        8,
        "every operation and none"
    );
    let genotype = outcome["genotype"].as_str().unwrap();
    assert!(
        genotype.starts_with("Genotype(normal=[") && !genotype.contains("'none'"),
        "{genotype}"
    );
    let trials: Vec<serde_json::Value> = std::fs::read_to_string(out.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(trials.len(), 2, "{trials:?}");
    for (rank, t) in trials.iter().enumerate() {
        assert_eq!(t["state"], "COMPLETE", "{t}");
        assert_eq!(t["attrs"]["oneshot_method"], "darts1");
        assert_eq!(t["attrs"]["oneshot_rank"], rank as u64, "{t}");
        assert!(t["metrics"]["train_acc"].as_f64().is_some(), "trained: {t}");
    }
    assert_eq!(trials[0]["attrs"]["oneshot_genotype"], outcome["genotype"]);
    // The best trained finalist is retrained, saved and reloads.
    let best = json(&out.join("best.json"));
    let best_trial = trials.iter().find(|t| t["id"] == best["trial"]).unwrap();
    let manifest = std::fs::read_to_string(out.join("model/manifest.json")).unwrap();
    let best_genotype = best_trial["attrs"]["oneshot_genotype"].as_str().unwrap();
    assert!(
        manifest.contains(best_genotype),
        "{best_genotype}: {manifest}"
    );
    let o = archer(
        &["evaluate", out.join("model").to_str().unwrap()],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_wall_clock_budget_ends_supernet_training_after_the_epoch_that_reaches_it() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let file = example(
        dir.path(),
        &[("[retrain]\nepochs = 2", "[budget]\nwall_seconds = 0.001")],
    );
    let out = dir.path().join("run");
    let o = search_or_resume(&file, &out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let outcome = json(&out.join("oneshot/outcome.json"));
    assert_eq!(
        outcome["epochs"].as_array().unwrap().len(),
        1,
        "one of six epochs"
    );
    let trial = &only_trial(&out);
    assert_eq!(trial["state"], "COMPLETE", "{trial}");
    assert_eq!(trial["metrics"]["stopped_by_budget_after_epoch"], 1.0);
    assert_eq!(trial["attrs"]["oneshot_genotype"], outcome["genotype"]);
}

#[test]
fn a_one_shot_search_killed_mid_training_resumes_to_the_same_alpha_and_cell() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    // GDAS (Gumbel noise from libtorch's generator every step) for 4 epochs on 500 images,
    // no retraining: the test is about the supernet.
    let file = example(
        dir.path(),
        &[
            ("epochs = 6\nchannels", "epochs = 4\nchannels"),
            ("data_fraction = 0.4", "data_fraction = 0.1"),
            ("[retrain]\nepochs = 2\n", ""),
        ],
    );
    let reference = dir.path().join("reference");
    let o = search_or_resume(&file, &reference).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let want = json(&reference.join("oneshot/outcome.json"));

    let killed = dir.path().join("killed");
    let mut child = search_or_resume(&file, &killed).spawn().unwrap();
    let state = killed.join("oneshot/state.json");
    let epoch = || {
        std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["epoch"].as_u64())
            .unwrap_or(0)
    };
    while epoch() < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the search ended before two epochs"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = epoch();
    assert!(at_kill < 4, "killed after all epochs");
    assert!(!killed.join("oneshot/outcome.json").exists());

    let o = archer(&["resume", killed.to_str().unwrap(), "-q"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let got = json(&killed.join("oneshot/outcome.json"));
    assert!(got["resumed_from_epoch"].as_u64().unwrap() >= at_kill);
    // Bit for bit on the CPU: α, the cell, and every epoch's losses and choices.
    assert_eq!(got["alpha"], want["alpha"]);
    assert_eq!(got["genotype"], want["genotype"]);
    let strip = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.as_object_mut().unwrap().remove("seconds");
                e
            })
            .collect()
    };
    assert_eq!(strip(&got), strip(&want));
    assert_eq!(got["metrics"]["valid_acc"], want["metrics"]["valid_acc"]);
    assert_eq!(
        only_trial(&killed)["attrs"]["oneshot_genotype"],
        want["genotype"]
    );
}

#[test]
fn bad_one_shot_settings_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    for (edits, expect) in [
        (vec![("tau_min = 0.1", "tau_min = 0.0")], "strategy.tau_min"),
        (
            vec![("tau_max = 10.0", "tau_max = 10.0\nlayers = 3")],
            "strategy.layers",
        ),
        (
            vec![("name = \"gdas\"", "name = \"darts1\"")],
            "strategy.tau_max",
        ),
        (
            vec![("name = \"nb201\"", "name = \"macro\"")],
            "strategy.name",
        ),
        (
            vec![("[retrain]", "[budget]\ntrials = 3\n\n[retrain]")],
            "budget",
        ),
        (
            vec![("tau_max = 10.0", "tau_max = 10.0\ntrust = { sample = 5 }")],
            "strategy.trust",
        ),
        (
            vec![("tau_max = 10.0", "tau_max = 10.0\npartial_channels = 3")],
            "strategy.partial_channels",
        ),
        (
            vec![("tau_max = 10.0", "tau_max = 10.0\nfinalist_epochs = 2")],
            "strategy.finalist_epochs",
        ),
        (
            vec![
                ("name = \"nb201\"", "name = \"darts\""),
                (
                    "tau_max = 10.0",
                    "tau_max = 10.0\ntrust = { table = \"t.csv.gz\", sample = 20 }",
                ),
            ],
            "strategy.trust.table",
        ),
    ] {
        let file = example(dir.path(), &edits);
        let out = dir.path().join("never");
        let o = search_or_resume(&file, &out).output().unwrap();
        assert!(!o.status.success(), "{edits:?} was accepted");
        let said = text(&o);
        assert!(
            said.contains(expect),
            "{edits:?}: expected {expect}, got {said}"
        );
        assert!(!out.join("oneshot").exists(), "{edits:?}: something ran");
    }
}

#[test]
fn the_one_shot_engine_bench_times_both_engines_on_the_same_supernet() {
    let _trainer = one_trainer_at_a_time();
    let o = archer(
        &[
            "bench",
            "oneshot-engine",
            "--sizes",
            "c4n1",
            "--rounds",
            "1",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        &repo(),
    );
    // The reference runs on the PyTorch this archer was built against; it refuses a
    // supernet whose parameter count differs from Archer's.
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["results"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["darts", "gdas"]);
    for r in rows {
        assert!(r["params"].as_u64().unwrap() > 0);
        for key in ["archer_ms", "pytorch_ms", "ratio", "pytorch_autodl_ms"] {
            assert!(r[key].as_f64().unwrap() > 0.0, "{key}: {r}");
        }
    }
}

#[test]
fn the_one_shot_benchmark_runs_each_method_and_seed_once_and_scores_it_in_the_table() {
    let _trainer = one_trainer_at_a_time();
    // A protocol like bench/oneshot-nb201-cpu.toml, sized for a test: MNIST, C = 4, N = 1, one
    // epoch; trust over 20 cells.
    let dir = tempfile::tempdir().unwrap();
    let protocol = dir.path().join("protocol.toml");
    std::fs::write(
        &protocol,
        format!(
            r#"
protocol = "test protocol: MNIST subset, C = 4, N = 1, one epoch"

[experiment.study]
name = "t"
seed = 0
[experiment.space]
name = "nb201"
[experiment.strategy]
channels = 4
depth = 1
epochs = 1
weights = {{ lr = 0.05, batch_size = 64 }}
scoring = {{ recalibration_images = 64, images = 128 }}
trust = {{ table = "{table}", sample = 20 }}
[experiment.evaluator]
kind = "train"
valid_fraction = 0.5
data_fraction = 0.1
data = {{ format = "idx", dir = "{data}" }}
training = {{ threads = 1 }}

[methods.drnas]
[methods.enas]
candidates = 3
controller = {{ hidden = 8, layers = 1, train_steps = 1, aggregate = 2 }}

[rea]
description = "rea, NB201 C = 4, N = 1, one epoch"
strategy = {{ name = "rea", population = 3, sample = 2 }}
network = {{ channels = 4, depth = 1 }}
training = {{ epochs = 1, batch_size = 64, threads = 1 }}
measure_latency = false
"#,
            table = repo()
                .join("data/nas-bench-201/nb201_results.csv.gz")
                .display(),
            data = repo().join("data/mnist-small").display()
        ),
    )
    .unwrap();
    let out = dir.path().join("runs");
    let bench = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            "oneshot",
            "nb201",
            "--protocol",
            protocol.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = archer(&args, &repo());
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v
    };
    let v = bench(&["--seeds", "1"]);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{v}");
    for r in runs {
        for key in [
            "test_acc_cifar10",
            "test_acc_cifar100",
            "test_acc_imagenet16",
            "search_seconds",
            "peak_rss_mb",
        ] {
            assert!(r[key].as_f64().unwrap() > 0.0, "{key}: {r}");
        }
        for key in ["kendall_tau", "spearman"] {
            assert!(r[key].as_f64().unwrap().abs() <= 1.0, "{key}: {r}");
        }
        assert!(r["genotype"].as_str().unwrap().starts_with('|'), "{r}");
    }
    assert_eq!(v["methods"][0]["method"], "drnas");
    assert_eq!(v["methods"][0]["published"][0][0], 94.36);
    assert!(v["settings"]["enas"]
        .as_str()
        .unwrap()
        .contains("1 epochs, C = 4, N = 1"));
    // A second call reads finished runs back (their figures unchanged) and runs only the new
    // seed; --report-only runs nothing and names what is missing.
    let first_drnas = runs[0].clone();
    let report = bench(&["--seeds", "3", "--report-only", "--methods", "drnas"]);
    assert_eq!(report["runs"].as_array().unwrap().len(), 1);
    assert_eq!(report["runs"][0], first_drnas);
    assert_eq!(
        report["missing"],
        serde_json::json!(["drnas-s1", "drnas-s2"])
    );
    let two = bench(&["--seeds", "2", "--methods", "drnas"]);
    assert_eq!(two["runs"][0], first_drnas);
    assert_eq!(two["runs"].as_array().unwrap().len(), 2);
    assert!(out.join("drnas-s1/oneshot/outcome.json").is_file());
    // REA with real training at the best method's mean search time, scored in the table.
    let vs = bench(&["--seeds", "1", "--methods", "drnas", "--vs-rea"]);
    let rea = &vs["rea"];
    assert_eq!(rea["against"], "drnas", "{vs}");
    assert_eq!(rea["wall_seconds"], first_drnas["search_seconds"]);
    let row = &rea["runs"][0];
    assert!(row["trials"].as_u64().unwrap() >= 1, "{row}");
    assert!(row["test_acc_cifar10"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["genotype"].as_str().unwrap().starts_with('|'), "{row}");
    // --results keeps finished runs in a folder of their own: with the run folders gone, the
    // report reads them back from there; another protocol is refused there.
    let kept = dir.path().join("kept");
    let with_results = bench(&[
        "--seeds",
        "1",
        "--methods",
        "drnas",
        "--vs-rea",
        "--results",
        kept.to_str().unwrap(),
    ]);
    assert!(kept.join("drnas-s0.json").is_file() && kept.join("rea-s0.json").is_file());
    std::fs::remove_dir_all(&out).unwrap();
    let back = bench(&[
        "--seeds",
        "1",
        "--methods",
        "drnas",
        "--vs-rea",
        "--report-only",
        "--results",
        kept.to_str().unwrap(),
    ]);
    assert_eq!(back["runs"], with_results["runs"]);
    assert_eq!(back["rea"]["runs"], with_results["rea"]["runs"]);
    assert_eq!(back["missing"], serde_json::json!([]));
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&protocol)
            .unwrap()
            .replace("epochs = 1\nweights", "epochs = 2\nweights"),
    )
    .unwrap();
    let o = archer(
        &[
            "bench",
            "oneshot",
            "nb201",
            "--protocol",
            other.to_str().unwrap(),
            "--results",
            kept.to_str().unwrap(),
            "--report-only",
        ],
        &repo(),
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("another protocol"), "{}", text(&o));
    // Another method's settings changed: only that method's kept runs are superseded (moved
    // aside with the protocol they ran under), and the folder takes the new protocol.
    let original = std::fs::read_to_string(&protocol).unwrap();
    let changed = dir.path().join("changed.toml");
    let changed_text = original.replace("[methods.drnas]\n", "[methods.drnas]\nepochs = 1\n");
    assert_ne!(changed_text, original);
    std::fs::write(&changed, &changed_text).unwrap();
    let o = archer(
        &[
            "bench",
            "oneshot",
            "nb201",
            "--protocol",
            changed.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--methods",
            "drnas",
            "--seeds",
            "1",
            "--results",
            kept.to_str().unwrap(),
            "--report-only",
            "--json",
        ],
        &repo(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["missing"], serde_json::json!(["drnas-s0"]), "{v}");
    let superseded = kept.join("superseded/1");
    assert!(superseded.join("drnas-s0.json").is_file());
    assert_eq!(
        std::fs::read_to_string(superseded.join("protocol.toml")).unwrap(),
        original
    );
    assert!(kept.join("rea-s0.json").is_file() && !kept.join("drnas-s0.json").exists());
    assert_eq!(
        std::fs::read_to_string(kept.join("protocol.toml")).unwrap(),
        changed_text
    );
}
