//! A search stopped after its first epoch and run again resumes from the checkpoint to exactly
//! the outcome of an uninterrupted run: α (or the controller), the derived cell, every epoch's
//! losses and the final score. Run for the methods whose state goes beyond the weights and
//! α's Adam: SNAS and DrNAS (their draws come from libtorch's generator) and ENAS (an LSTM
//! controller with its own Adam and baseline).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archer_eval::TrainSettings;
use archer_oneshot::{run_search, OneShotSettings, Outcome, SearchInputs};
use archer_space::{ChainSpace, DartsSpace, Nb201Space, SearchSpace};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn train_settings() -> TrainSettings {
    let text = format!(
        r#"
        valid_fraction = 0.5
        data_fraction = 0.1
        data = {{ format = "idx", dir = "{}" }}
        training = {{ threads = 1 }}
        "#,
        repo().join("data/mnist-small").display()
    );
    toml::from_str(&text).unwrap()
}

fn settings(method: &str) -> OneShotSettings {
    let mut text = String::from(
        r#"{ "epochs": 2, "channels": 4, "depth": 1,
             "weights": { "lr": 0.05, "batch_size": 64 },
             "scoring": { "recalibration_images": 64, "images": 128 }"#,
    );
    if method == "enas" {
        text.push_str(
            r#", "candidates": 4,
               "controller": { "hidden": 8, "layers": 1, "train_steps": 2, "aggregate": 3 }"#,
        );
    }
    text.push('}');
    serde_json::from_str(&text).unwrap()
}

fn run(
    method: &str,
    space: Arc<dyn SearchSpace>,
    dir: &Path,
    stop_after_first: bool,
) -> Option<Outcome> {
    let settings = settings(method);
    let train = train_settings();
    let inputs = SearchInputs {
        method,
        settings: &settings,
        space,
        train: &train,
        seed: 3,
        wall_seconds: None,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_search(&inputs, Some(dir), &mut |record| {
            if stop_after_first && record.epoch == 1 {
                panic!("stopped after epoch 1 (the test's interruption)");
            }
        })
    }));
    match result {
        Ok(outcome) => Some(outcome.unwrap()),
        Err(_) => None,
    }
}

#[test]
fn snas_drnas_and_enas_resume_to_the_outcome_of_an_uninterrupted_run() {
    for method in ["snas", "drnas", "enas"] {
        resumes_exactly(method, Arc::new(Nb201Space::default()));
    }
}

#[test]
fn the_darts_and_chain_supernets_resume_to_the_outcome_of_an_uninterrupted_run() {
    // ENAS's controller decides every DARTS dimension on its own, so it can draw a node
    // with the same input twice: such draws are drawn again (training, selection) or
    // rewarded 0 (the controller's update).
    // Three operations (and `none`) and a short chain keep the test short.
    let ops = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let darts = DartsSpace::new(Some(&ops(&[
        "max_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
    ])));
    for method in ["gdas", "enas"] {
        resumes_exactly(method, Arc::new(darts.clone().unwrap()));
    }
    // ENAS's macro search: the chain supernet's weights sliced per path.
    let chain = ChainSpace::new(
        Some(4),
        Some(&ops(&["conv", "sep_conv", "max_pool", "identity"])),
        Some(&[1, 3]),
        Some(&[16, 24]),
    );
    resumes_exactly("enas", Arc::new(chain.unwrap()));
}

fn resumes_exactly(method: &str, space: Arc<dyn SearchSpace>) {
    {
        let root = tempfile::tempdir().unwrap();
        let (straight, stopped) = (root.path().join("straight"), root.path().join("stopped"));
        let whole = run(method, space.clone(), &straight, false).unwrap();
        assert!(
            run(method, space.clone(), &stopped, true).is_none(),
            "{method}: the first run stops"
        );
        let resumed = run(method, space.clone(), &stopped, false).unwrap();
        assert_eq!(resumed.resumed_from_epoch, Some(1), "{method}");
        assert_eq!(whole.genotype, resumed.genotype, "{method}");
        assert_eq!(whole.alpha, resumed.alpha, "{method}");
        let losses = |o: &Outcome| {
            o.epochs
                .iter()
                .map(|e| (e.train_loss, e.arch_loss, e.genotype.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(losses(&whole), losses(&resumed), "{method}");
        assert_eq!(
            whole.metrics["valid_acc"], resumed.metrics["valid_acc"],
            "{method}"
        );
        if method != "enas" {
            assert!(
                whole.epochs.iter().all(|e| e.arch_loss.is_some()),
                "{method}"
            );
        }
        assert!(space.contains(&whole.arch), "{method}: {}", whole.genotype);
        eprintln!(
            "{method} on {}: {} valid_acc {:.2}",
            space.name(),
            whole.genotype,
            whole.metrics["valid_acc"]
        );
    }
}
