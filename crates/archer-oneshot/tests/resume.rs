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
use archer_space::{Nb201Space, SearchSpace};

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

fn run(method: &str, dir: &Path, stop_after_first: bool) -> Option<Outcome> {
    let settings = settings(method);
    let train = train_settings();
    let space: Arc<dyn SearchSpace> = Arc::new(Nb201Space::default());
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
        let root = tempfile::tempdir().unwrap();
        let (straight, stopped) = (root.path().join("straight"), root.path().join("stopped"));
        let whole = run(method, &straight, false).unwrap();
        assert!(
            run(method, &stopped, true).is_none(),
            "{method}: the first run stops"
        );
        let resumed = run(method, &stopped, false).unwrap();
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
        eprintln!(
            "{method}: {} valid_acc {:.2}",
            whole.genotype, whole.metrics["valid_acc"]
        );
    }
}
