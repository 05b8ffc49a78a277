//! Real training end to end through the `archer` binary: searches with the `train`
//! evaluator on the bundled MNIST subset (MetaQNN and network morphism on the chain space,
//! PNAS growing DARTS cells, GeNet on its binary space), the winner retrained and reloaded;
//! bad settings get clear errors.
#![cfg(feature = "train")]

use std::process::Output;

mod common;
use common::{
    archer, count_rows, mnist_prefix_edit, one_trainer_at_a_time, only_trial, output_text as text,
    repo,
};

/// A small real search: 3 chain networks, each trained for one epoch on 5 % of the subset.
/// `archer search FILE --output OUT --quiet`, run in `cwd`.
fn search(file: &std::path::Path, out: &std::path::Path, cwd: &std::path::Path) -> Output {
    archer(
        &[
            "search",
            file.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--quiet",
        ],
        cwd,
    )
}

fn config(training_extra: &str, tail: &str) -> String {
    config_for(
        "name = \"macro\"\nlayers = 3\nkernels = [3]\nfilters = [16, 24]",
        "name = \"random\"",
        "",
        training_extra,
        &format!("trials = 3\n{tail}"),
    )
}

/// An experiment on 5 % of the MNIST subset (one epoch, seed 3) with the bodies of the
/// `[space]`, `[strategy]`, `[evaluator.network]` sections, extra `[evaluator.training]`
/// lines, and `budget` the body of `[budget]` and what follows it.
fn config_for(
    space: &str,
    strategy: &str,
    network: &str,
    training_extra: &str,
    budget: &str,
) -> String {
    let data = repo().join("data/mnist-small");
    format!(
        r#"[study]
name = "tiny-mnist"
seed = 3

[space]
{space}

[strategy]
{strategy}

[evaluator]
kind = "train"
valid_fraction = 0.05
data_fraction = 0.05

[evaluator.data]
format = "idx"
dir = "{}"

[evaluator.network]
{network}

[evaluator.training]
epochs = 1
batch_size = 32
threads = 2
{training_extra}

[budget]
{budget}"#,
        data.display()
    )
}

/// `config` on the first 2,000 training and 500 test images of the subset (written into
/// `dir`), with the fractions raised so that trials see as many images as on the whole
/// subset: for tests that retrain, which trains on every training image.
fn on_prefix(config: String, dir: &std::path::Path) -> String {
    let (full, prefix) = mnist_prefix_edit(&dir.join("mnist-2k"), 2000, 500);
    [
        (full.as_str(), prefix.as_str()),
        ("valid_fraction = 0.05", "valid_fraction = 0.25"),
        ("data_fraction = 0.05", "data_fraction = 0.25"),
    ]
    .into_iter()
    .fold(config, |text, (from, to)| {
        assert!(text.contains(from), "the config has no {from:?}");
        text.replace(from, to)
    })
}

#[test]
fn a_real_search_retrains_its_winner_and_the_saved_model_reloads() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exp.toml");
    // MetaQNN on the chain space, as issue 15 asks (layers are its states).
    std::fs::write(
        &file,
        on_prefix(
            config("", "\n[retrain]\nepochs = 1\n")
                .replace("name = \"random\"", "name = \"metaqnn\""),
            dir.path(),
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = search(&file, &out, dir.path());
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("trial budget reached after 3 trials (0 failed)"),
        "{t}"
    );
    assert!(t.contains("Test accuracy"), "{t}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["train_images"], 2_000,
        "all training images of the prefix"
    );
    assert_eq!(manifest["test_images"], 500);
    assert_eq!(manifest["data_files_sha256"].as_object().unwrap().len(), 4);
    for f in ["weights.safetensors", "model.pt"] {
        assert!(out.join("model").join(f).is_file(), "{f}");
    }
    let o = archer(
        &["evaluate", out.join("model").to_str().unwrap()],
        dir.path(),
    );
    let t = text(&o);
    assert!(
        o.status.success() && t.contains("reproduced exactly"),
        "{t}"
    );
    // Retraining again into the same folder is refused; another folder works.
    let o = archer(
        &["retrain", out.to_str().unwrap(), "--epochs", "1"],
        dir.path(),
    );
    assert!(
        !o.status.success() && text(&o).contains("already holds files"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_training_settings_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            config("lr_rate = 0.1", ""),
            vec!["unknown field `lr_rate`", "`lr`"],
        ),
        (
            config("lr = -1.0", ""),
            vec!["training.lr", "must be positive"],
        ),
        (
            config("", "").replace("data/mnist-small", "data/no-such-folder"),
            vec!["no-such-folder", "not found"],
        ),
        (
            config("[evaluator.training.augment]\ncrop = 4", ""),
            vec!["unknown field `crop`", "`crop_padding`"],
        ),
        (
            config("", "\n[retrain]\nepochs = 0\n"),
            vec!["retrain.epochs", "at least 1"],
        ),
    ];
    for (i, (contents, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, contents).unwrap();
        let o = archer(&["validate", file.to_str().unwrap()], dir.path());
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "case {i}: {t}");
        for e in expected {
            assert!(t.contains(e), "case {i}: expected {e:?} in {t}");
        }
        assert!(!t.contains("panic"), "{t}");
    }
    // Retraining needs the train evaluator's data and recipe.
    let table = repo().join("examples/nb201-rea.toml");
    let nb201_run = dir.path().join("nb201");
    let o = archer(
        &[
            "search",
            table.to_str().unwrap(),
            "--output",
            nb201_run.to_str().unwrap(),
            "--quiet",
            "--trials",
            "3",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = archer(&["retrain", nb201_run.to_str().unwrap()], dir.path());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("needs a `train` evaluator"), "{t}");
}

/// Epoch reports of trial 0 in the folder's store so far (0 before it exists).
fn reports(dir: &std::path::Path) -> usize {
    count_rows(dir, "SELECT COUNT(*) FROM trial_values WHERE number = 0")
}

#[test]
fn a_search_killed_mid_trial_loses_at_most_the_epoch_in_progress() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill.toml");
    let epochs = 6;
    std::fs::write(
        &file,
        config("", "")
            .replace("epochs = 1", &format!("epochs = {epochs}"))
            .replace("trials = 3", "trials = 1"),
    )
    .unwrap();
    let search = |out: &std::path::Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_archer"));
        c.args([
            "search",
            file.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "-q",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
        c
    };
    let reference = dir.path().join("reference");
    let o = search(&reference).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let want = only_trial(&reference);

    // SIGKILL once two epochs are reported, in the third (or just after it).
    let killed = dir.path().join("killed");
    let mut child = search(&killed).spawn().unwrap();
    while reports(&killed) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the search ended before two epochs"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let reported = reports(&killed);
    assert!(reported < epochs, "killed after all {reported} epochs");

    let o = archer(&["resume", killed.to_str().unwrap(), "-q"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let got = only_trial(&killed);
    // Every reported epoch was checkpointed before it was reported; the resumed run starts
    // from there, so only the epoch in progress at the kill was trained again.
    let resumed = got["attrs"]["resumed_from_epoch"].as_u64().unwrap() as usize;
    assert!(
        resumed >= reported,
        "resumed from epoch {resumed}, but {reported} were reported before the kill"
    );
    let steps = got["attrs"]["steps_run"].as_u64().unwrap() as usize;
    assert_eq!(
        steps,
        epochs - resumed,
        "the resumed evaluation ran only the epochs after its checkpoint"
    );
    // And it ends exactly where the uninterrupted run ends.
    assert_eq!(got["state"], "COMPLETE");
    assert_eq!(got["intermediate"], want["intermediate"]);
    assert_eq!(got["metrics"]["valid_acc"], want["metrics"]["valid_acc"]);
    assert_eq!(got["metrics"]["train_loss"], want["metrics"]["train_loss"]);
}

#[test]
fn a_constraint_on_memory_measured_in_training_stops_the_trial_before_its_first_rung() {
    let _trainer = one_trainer_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mem.toml");
    // No network trains in 1 MiB: every trial is infeasible once its first epoch is measured,
    // before ASHA's first rung (epoch 2).
    let tail = "\n[scheduler]\nkind = \"asha\"\nmin_resource = 2\n\n[[constraint]]\nmetric = \"peak_rss_mib\"\nmax = 1\n";
    std::fs::write(
        &file,
        config("", tail)
            .replace("epochs = 1", "epochs = 4")
            .replace("trials = 3", "trials = 2"),
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = search(&file, &out, dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let export = std::fs::read_to_string(out.join("trials.jsonl")).unwrap();
    let trials: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(trials.len(), 2, "{export}");
    for t in &trials {
        assert_eq!(t["state"], "PRUNED", "{t}");
        assert_eq!(t["feasible"], false, "{t}");
        assert!(t["violation"].as_f64().unwrap() > 0.0, "{t}");
        assert!(t["metrics"]["peak_rss_mib"].as_f64().unwrap() > 1.0, "{t}");
        let error = t["error"].as_str().unwrap();
        assert!(
            error.contains("infeasible") && error.contains("peak_rss_mib"),
            "{error}"
        );
        assert_eq!(t["intermediate"].as_array().unwrap().len(), 1, "{t}");
        assert_eq!(t["attrs"]["steps_run"], 1, "{t}");
    }
}

/// A tiny search with the `train` evaluator on the MNIST subset (see [`config_for`]), the
/// winner retrained one epoch; the output and `archer export --top 100`.
/// A finished [`classic_search`]: its folder (kept while this lives), the search's output and
/// `archer export --top 100`'s.
struct Searched {
    _dir: tempfile::TempDir,
    out: std::path::PathBuf,
    text: String,
    exported: String,
}

/// A real search of `trials` trials with the given `[space]`, `[strategy]` and
/// `[evaluator.network]` bodies, its winner retrained for one epoch; checks that it finished
/// without failures and tested its winner.
fn classic_search(space: &str, strategy: &str, network: &str, trials: usize) -> Searched {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exp.toml");
    std::fs::write(
        &file,
        on_prefix(
            config_for(
                space,
                strategy,
                network,
                "",
                &format!("trials = {trials}\n\n[retrain]\nepochs = 1\n"),
            ),
            dir.path(),
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = search(&file, &out, dir.path());
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "trial budget reached after {trials} trials (0 failed)"
        )),
        "{t}"
    );
    assert!(
        t.contains("Test accuracy"),
        "the winner is retrained and tested: {t}"
    );
    let o = archer(
        &["export", out.to_str().unwrap(), "--top", "100"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    Searched {
        _dir: dir,
        out,
        text: t,
        exported: String::from_utf8_lossy(&o.stdout).into_owned(),
    }
}

#[test]
fn pnas_grows_darts_cells_with_real_training_and_retrains_its_winner() {
    let _trainer = one_trainer_at_a_time();
    let exported = classic_search(
        r#"name = "darts"
nodes = 2
min_nodes = 1
ops = ["skip_connect", "sep_conv_3x3", "max_pool_3x3"]"#,
        r#"name = "pnas"
beam = 2
first = 2
max_candidates = 40"#,
        "channels = 4\ndepth = 3",
        4,
    )
    .exported;
    // Two one-node cells first, then the two best expansions by one node.
    assert_eq!(
        exported.matches("normal_concat=range(2, 3)").count(),
        2,
        "{exported}"
    );
    assert_eq!(
        exported.matches("normal_concat=range(2, 4)").count(),
        2,
        "{exported}"
    );
}

#[test]
fn genet_searches_its_binary_space_with_real_training_and_retrains_its_winner() {
    let _trainer = one_trainer_at_a_time();
    let file = repo().join("examples/spaces/genet.toml");
    let s = classic_search(
        &format!("file = \"{}\"", file.display()),
        "name = \"genet\"\npopulation = 2",
        "channels = 4",
        3,
    );
    assert!(s.text.contains("Best architecture"), "{}", s.text);
    assert!(s.exported.contains("s3_4_5"), "{}", s.exported);
}

#[test]
fn network_morphism_children_inherit_their_parents_trained_weights() {
    let _trainer = one_trainer_at_a_time();
    let searched = classic_search(
        "name = \"macro\"\nlayers = 3\nmin_layers = 1\nkernels = [3]\nfilters = [16, 24]",
        "name = \"morphism\"\ninitial = 2\nbeam = 2\nkeep_parents = 2",
        "",
        4,
    );
    let out = &searched.out;
    let trials: Vec<serde_json::Value> = std::fs::read_to_string(out.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(trials.len(), 4);
    // Two one-layer networks, then two children that started from a parent's final weights.
    for child in &trials[2..] {
        let attrs = &child["attrs"];
        let parent = attrs["inherit"]["parent"]
            .as_u64()
            .expect("a child names its parent");
        assert!(parent < child["id"].as_u64().unwrap(), "{child}");
        assert_eq!(attrs["inherited_from"], parent, "{child}");
        assert!(attrs.get("inherit_refused").is_none(), "{child}");
    }
    // The best two finished networks keep their final weights as parents; no other does.
    let kept = (0..4)
        .filter(|n| out.join(format!("trials/trial-{n}/checkpoint")).is_dir())
        .count();
    assert_eq!(kept, 2);
}
