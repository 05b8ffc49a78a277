//! Multi-fidelity studies on the NB201 learning curves (200 cells) on simulated workers:
//! the schedulers' trials pause and resume without training an epoch twice, the run is a
//! function of its seed, and a study stopped at any moment and resumed decides exactly as
//! an uninterrupted one.

use std::path::{Path, PathBuf};

use archer_core::{History, TrialState};
use archer_runner::{
    ExperimentConfig, NullRecorder, Study, RESUMED_FROM_STEP_ATTR, SIM_STARTED_ATTR, STEPS_RUN_ATTR,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(strategy: &str, scheduler: &str, workers: usize, seconds: f64) -> ExperimentConfig {
    let text = format!(
        r#"
[study]
name = "mf"
seed = 5
workers = {workers}

[space]
name = "nb201"

[strategy]
name = "{strategy}"

[scheduler]
{scheduler}

[evaluator]
kind = "nb201-curves"
curves = "data/nas-bench-201-curves/nb201_cifar10valid_hp200_curves_200archs.csv.gz"
table = "data/nas-bench-201/nb201_results.csv.gz"

[budget]
sim_seconds = {seconds}
"#
    );
    ExperimentConfig::from_toml(&text, &repo(), Path::new("mf.toml")).unwrap()
}

fn run(config: ExperimentConfig) -> (archer_runner::StudySummary, History) {
    let mut study = Study::new(config.validate().unwrap()).unwrap();
    let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    (summary, study.history().clone())
}

/// Each trial's decisions as stored: id, cell, state, every reported value, cost, and when
/// it started and ended on the simulated clock.
fn decisions(h: &History) -> Vec<String> {
    h.trials()
        .iter()
        .map(|t| {
            format!(
                "{} {} {:?} {:?} {:.6} {:?} {:?}",
                t.id,
                t.arch_hash,
                t.state,
                t.intermediate,
                t.cost_seconds,
                t.attrs.get(SIM_STARTED_ATTR),
                t.attrs.get(archer_runner::SIM_FINISHED_ATTR),
            )
        })
        .collect()
}

#[test]
fn asha_with_promotion_never_trains_an_epoch_twice_and_charges_every_resume() {
    let (summary, h) = run(config(
        "random",
        "kind = \"asha\"\nmin_resource = 3",
        4,
        9000.0,
    ));
    let mut trained = 0u64;
    let mut reached = 0u64;
    let mut promoted = 0;
    for t in h.trials() {
        let ran = t.attrs[STEPS_RUN_ATTR].as_u64().unwrap();
        let top = t.intermediate.iter().map(|(s, _)| *s).max().unwrap_or(0);
        trained += ran;
        reached += top as u64;
        let steps: Vec<u32> = t.intermediate.iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, (1..=top).collect::<Vec<u32>>(), "trial {}", t.id);
        assert!(!t.attrs.contains_key(RESUMED_FROM_STEP_ATTR));
        if t.attrs.contains_key(archer_runner::PROMOTIONS_ATTR) {
            promoted += 1;
        }
        // Paused at a rung (or by the budget), or trained to the end.
        let by_budget = t.attrs.contains_key(archer_runner::STOPPED_BY_BUDGET_ATTR);
        match t.state {
            TrialState::Paused => assert!(by_budget || [3, 9, 27, 81].contains(&top), "{top}"),
            TrialState::Complete => assert_eq!(top, 200),
            other => panic!("trial {} is {other:?}", t.id),
        }
    }
    assert_eq!(trained, reached, "no epoch trained twice");
    assert!(promoted > 10, "{promoted} promotions");
    let best = summary.best.expect("a cell trained for 200 epochs");
    assert_eq!(best.metrics.get("epochs"), Some(200.0));
    // Four workers: the clock stopped at the budget, having charged four workers' time
    // (less what a paused trial's unfinished epoch had used).
    let work: f64 = h.trials().iter().map(|t| t.cost_seconds).sum();
    assert_eq!(summary.sim_seconds, 9000.0);
    assert!(work <= 4.0 * 9000.0 && work > 3.9 * 9000.0, "{work}");
    let stopped = h
        .trials()
        .iter()
        .filter(|t| t.attrs.contains_key(archer_runner::STOPPED_BY_BUDGET_ATTR))
        .count();
    assert_eq!(
        stopped, 4,
        "one trial on each worker when the clock ran out"
    );
}

#[test]
fn no_cell_is_evaluated_twice() {
    for workers in [1, 4] {
        let (_, h) = run(config(
            "random",
            "kind = \"asha\"\nmin_resource = 3",
            workers,
            9000.0,
        ));
        let mut seen = std::collections::HashSet::new();
        for t in h.trials() {
            assert!(
                seen.insert(t.arch_hash.clone()),
                "workers {workers}: trial {} repeats {}",
                t.id,
                t.arch_hash
            );
        }
    }
}

#[test]
fn a_simulated_run_is_a_function_of_its_seed() {
    for (strategy, scheduler) in [
        ("random", "kind = \"asha\"\ntype = \"stopping\""),
        ("bo", "kind = \"asha\"\nmin_resource = 9"),
        ("tpe", "kind = \"hyperband\"\nmin_resource = 9"),
        (
            "random",
            "kind = \"sh\"\nmin_resource = 9\ntype = \"stopping\"",
        ),
        ("rea", "kind = \"median\""),
    ] {
        let a = run(config(strategy, scheduler, 4, 6000.0)).1;
        let b = run(config(strategy, scheduler, 4, 6000.0)).1;
        assert_eq!(decisions(&a), decisions(&b), "{strategy} on {scheduler}");
        assert!(a.len() > 8, "{strategy} on {scheduler}: {} trials", a.len());
    }
}

#[test]
fn stopping_successive_halving_trains_survivors_again_from_scratch() {
    let (_, h) = run(config(
        "random",
        "kind = \"sh\"\nmin_resource = 9\ntype = \"stopping\"",
        1,
        20000.0,
    ));
    let (trained, reached) = {
        let mut t = 0;
        let mut r = 0;
        for trial in h.trials() {
            t += trial.attrs[STEPS_RUN_ATTR].as_u64().unwrap();
            r += trial
                .intermediate
                .iter()
                .map(|(s, _)| *s as u64)
                .max()
                .unwrap_or(0);
        }
        (t, r)
    };
    assert!(trained > reached, "{trained} vs {reached}");
    // The first bracket: 27 cells at 9 epochs, 9 at 27, 3 at 81, 1 at 200.
    let first: Vec<_> = h
        .trials()
        .iter()
        .filter(|t| t.attrs.get(archer_runner::BRACKET_ATTR) == Some(&serde_json::json!(0)))
        .collect();
    assert_eq!(first.len(), 27);
    let at_least = |e: u32| {
        first
            .iter()
            .filter(|t| t.intermediate.iter().any(|(s, _)| *s == e))
            .count()
    };
    assert_eq!(
        (at_least(9), at_least(27), at_least(81), at_least(200)),
        (27, 9, 3, 1)
    );
}

#[test]
fn a_study_stopped_between_any_two_writes_and_resumed_decides_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let make = || config("random", "kind = \"asha\"\nmin_resource = 3", 4, 4000.0);
    let (_, reference) = run(make());
    // Interrupt after a few hundred store writes by making the store fail, as a killed
    // process would stop writing; then resume from what it had written.
    for cut in [7usize, 150, 333] {
        let db = dir.path().join(format!("cut-{cut}.db"));
        let e = make().validate().unwrap();
        let store = archer_store::SqliteStore::open(&db).unwrap();
        let failing = FailAfter {
            inner: Box::new(store),
            left: cut,
        };
        let stopped = Study::create(e, Box::new(failing))
            .and_then(|mut s| s.run(&mut NullRecorder, &mut |_| {}));
        assert!(stopped.is_err(), "cut {cut}: the run should have been cut");
        let mut store = archer_store::SqliteStore::open(&db).unwrap();
        let record = archer_store::Store::study(&mut store, "mf")
            .unwrap()
            .unwrap();
        let mut resumed =
            Study::resume(make().validate().unwrap(), Box::new(store), &record).unwrap();
        resumed.run(&mut NullRecorder, &mut |_| {}).unwrap();
        let (got, want) = (decisions(resumed.history()), decisions(&reference));
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            first.is_none() && got.len() == want.len(),
            "cut after {cut} writes: first difference at trial {first:?}: {:?} vs {:?} ({} vs {} trials)",
            first.map(|i| &got[i]),
            first.map(|i| &want[i]),
            got.len(),
            want.len()
        );
    }
}

/// A store that refuses every write after `left` of them.
struct FailAfter {
    inner: Box<dyn archer_store::Store>,
    left: usize,
}

impl FailAfter {
    fn spend(&mut self) -> Result<(), archer_store::StoreError> {
        if self.left == 0 {
            return Err(archer_store::StoreError::Corrupt("killed".into()));
        }
        self.left -= 1;
        Ok(())
    }
}

impl archer_store::Store for FailAfter {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn create_study(
        &mut self,
        study: &archer_store::NewStudy,
    ) -> Result<archer_store::StudyRecord, archer_store::StoreError> {
        self.spend()?;
        self.inner.create_study(study)
    }
    fn study(
        &mut self,
        name: &str,
    ) -> Result<Option<archer_store::StudyRecord>, archer_store::StoreError> {
        self.inner.study(name)
    }
    fn studies(&mut self) -> Result<Vec<archer_store::StudyRecord>, archer_store::StoreError> {
        self.inner.studies()
    }
    fn trials(
        &mut self,
        study: archer_store::StudyId,
    ) -> Result<Vec<archer_core::Trial>, archer_store::StoreError> {
        self.inner.trials(study)
    }
    fn trials_since(
        &mut self,
        study: archer_store::StudyId,
        after_seq: i64,
    ) -> Result<archer_store::TrialChanges, archer_store::StoreError> {
        self.inner.trials_since(study, after_seq)
    }
    fn strategy_state(
        &mut self,
        study: archer_store::StudyId,
    ) -> Result<serde_json::Value, archer_store::StoreError> {
        self.inner.strategy_state(study)
    }
    fn state_version(
        &mut self,
        study: archer_store::StudyId,
    ) -> Result<i64, archer_store::StoreError> {
        self.inner.state_version(study)
    }
    fn add_trial(
        &mut self,
        study: archer_store::StudyId,
        trial: &archer_core::Trial,
        state: &serde_json::Value,
    ) -> Result<(), archer_store::StoreError> {
        self.spend()?;
        self.inner.add_trial(study, trial, state)
    }
    fn update_trial(
        &mut self,
        study: archer_store::StudyId,
        trial: &archer_core::Trial,
        state: Option<&serde_json::Value>,
    ) -> Result<(), archer_store::StoreError> {
        self.spend()?;
        self.inner.update_trial(study, trial, state)
    }
    fn report_intermediate(
        &mut self,
        study: archer_store::StudyId,
        trial: &archer_core::Trial,
        step: u32,
        value: f64,
    ) -> Result<(), archer_store::StoreError> {
        self.spend()?;
        self.inner.report_intermediate(study, trial, step, value)
    }
    fn claim(
        &mut self,
        study: archer_store::StudyId,
        worker: &str,
    ) -> Result<Option<archer_core::Trial>, archer_store::StoreError> {
        self.inner.claim(study, worker)
    }
    fn heartbeat(
        &mut self,
        study: archer_store::StudyId,
        number: u64,
        worker: &str,
        attempt: u32,
    ) -> Result<bool, archer_store::StoreError> {
        self.inner.heartbeat(study, number, worker, attempt)
    }
    fn requeue_stale(
        &mut self,
        study: archer_store::StudyId,
        grace_seconds: f64,
        max_attempts: u32,
    ) -> Result<Vec<u64>, archer_store::StoreError> {
        self.inner.requeue_stale(study, grace_seconds, max_attempts)
    }
    fn lock_study(&mut self, study: archer_store::StudyId) -> Result<(), archer_store::StoreError> {
        self.inner.lock_study(study)
    }
    fn unlock_study(
        &mut self,
        study: archer_store::StudyId,
    ) -> Result<(), archer_store::StoreError> {
        self.inner.unlock_study(study)
    }
    fn finish_study(
        &mut self,
        study: archer_store::StudyId,
        stop_reason: &str,
    ) -> Result<(), archer_store::StoreError> {
        self.spend()?;
        self.inner.finish_study(study, stop_reason)
    }
}
