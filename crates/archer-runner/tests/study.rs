use std::sync::Arc;

use archer_core::{
    Arch, Direction, Fidelity, MetricSpec, Metrics, Objective, TrialCtx, TrialState,
};
use archer_eval::{EvalError, Evaluator, EvaluatorConfig};
use archer_runner::{
    Budget, DirRecorder, Experiment, ExperimentConfig, ExperimentDir, NullRecorder, RunError,
    StopReason, Study, StudySection,
};
use archer_space::SpaceConfig;

/// Scores cells by their number of conv3x3 edges; fails or panics on chosen cells.
struct Flaky {
    fail_when_first_edge_is: Option<u16>,
    panic_when_second_edge_is: Option<u16>,
}

impl Evaluator for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::new("score", Direction::Maximize, false, "")]
    }
    fn evaluate(&self, arch: &Arch, _: &Fidelity, _: &mut TrialCtx) -> Result<Metrics, EvalError> {
        if Some(arch.index(0)) == self.fail_when_first_edge_is {
            return Err(EvalError::InvalidSetting("flaky says no".into()));
        }
        if Some(arch.index(1)) == self.panic_when_second_edge_is {
            panic!("flaky blew up");
        }
        let convs = arch.indices().iter().filter(|&&c| c == 3).count() as f64;
        Ok(Metrics::new()
            .with("score", convs)
            .with("sim_seconds", 10.0))
    }
    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({"evaluator": "flaky"})
    }
}

fn experiment(evaluator: Flaky, strategy: &str, budget: Budget) -> Experiment {
    let space = SpaceConfig::named("nb201");
    Experiment {
        config: ExperimentConfig {
            study: StudySection {
                name: "t".into(),
                seed: 1,
                output: None,
                deduplicate: true,
                max_consecutive_failures: 5,
                retry_failed: 0,
                max_attempts: 3,
                workers: 1,
                heartbeat_seconds: 5.0,
                grace_seconds: 60.0,
            },
            space: space.clone(),
            strategy: archer_predict::strategy_by_label(strategy).unwrap(),
            scheduler: Default::default(),
            evaluator: EvaluatorConfig::of(
                "nb201",
                &archer_eval::Nb201Settings {
                    table: "unused".into(),
                    latency_table: None,
                    latency_devices: None,
                    dataset: archer_eval::Nb201Dataset::Cifar10,
                    epochs: 12,
                    wall_seconds_per_query: 0.0,
                    zero_cost_table: None,
                    zero_cost_proxy: None,
                },
            )
            .expect("NB201 settings serialise as a table"),
            objective: Default::default(),
            constraint: Vec::new(),
            budget,
            retrain: None,
        },
        space: space.build().unwrap(),
        evaluator: Arc::new(evaluator),
        zero_cost: None,
        objectives: vec![Objective::maximize("score")],
        constraints: Vec::new(),
    }
}

fn trials(n: u64) -> Budget {
    Budget {
        trials: Some(n),
        ..Budget::default()
    }
}

#[test]
fn failed_and_panicking_trials_are_recorded_and_the_study_goes_on() {
    let flaky = Flaky {
        fail_when_first_edge_is: Some(0),
        panic_when_second_edge_is: Some(4),
    };
    let mut study = Study::new(experiment(flaky, "rea", trials(200))).unwrap();
    let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    assert_eq!(summary.trials, 200);
    assert_eq!(summary.stop, StopReason::TrialBudget);
    let h = study.history();
    let failed: Vec<_> = h
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .collect();
    assert!(failed
        .iter()
        .any(|t| t.error.as_deref() == Some("invalid evaluator setting: flaky says no")));
    assert!(failed
        .iter()
        .any(|t| t.error.as_deref() == Some("evaluator panicked: flaky blew up")));
    assert_eq!(summary.failed as usize, failed.len());
    assert!(failed
        .iter()
        .all(|t| t.score.is_none() && t.cost_seconds == 0.0));
    let best = summary.best.unwrap();
    assert_eq!(best.state, TrialState::Complete);
    assert_ne!(best.arch.index(0), 0);
}

#[test]
fn a_broken_evaluator_stops_the_study_with_its_error() {
    // The space's only op is `none` (index 0), on which the evaluator always fails.
    let always_fails = Flaky {
        fail_when_first_edge_is: Some(0),
        panic_when_second_edge_is: None,
    };
    let mut e = experiment(always_fails, "random", trials(100));
    e.config.space = SpaceConfig::named("nb201").with("ops", serde_json::json!(["none"]));
    e.space = e.config.space.build().unwrap();
    e.config.study.deduplicate = false;
    let summary = Study::new(e)
        .unwrap()
        .run(&mut NullRecorder, &mut |_| {})
        .unwrap();
    match summary.stop {
        StopReason::TooManyFailures { count, last_error } => {
            assert_eq!(count, 5);
            assert!(last_error.contains("flaky says no"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(summary.trials, 5);
}

#[test]
fn exhausting_a_small_space_ends_normally() {
    let ok = Flaky {
        fail_when_first_edge_is: None,
        panic_when_second_edge_is: None,
    };
    let mut e = experiment(ok, "random", trials(1000));
    e.config.space =
        SpaceConfig::named("nb201").with("ops", serde_json::json!(["none", "nor_conv_3x3"]));
    e.space = e.config.space.build().unwrap();
    let summary = Study::new(e)
        .unwrap()
        .run(&mut NullRecorder, &mut |_| {})
        .unwrap();
    assert!(
        matches!(summary.stop, StopReason::Exhausted { .. }),
        "{:?}",
        summary.stop
    );
    assert!(summary.trials < 64);
    assert_eq!(summary.best.unwrap().score, Some(6.0));
}

#[test]
fn sim_budget_counts_the_trial_that_crosses_it() {
    let ok = Flaky {
        fail_when_first_edge_is: None,
        panic_when_second_edge_is: None,
    };
    let budget = Budget {
        sim_seconds: Some(95.0),
        ..Budget::default()
    };
    let summary = Study::new(experiment(ok, "ls", budget))
        .unwrap()
        .run(&mut NullRecorder, &mut |_| {})
        .unwrap();
    assert_eq!(summary.stop, StopReason::SimBudget);
    assert_eq!(summary.trials, 10);
    assert_eq!(summary.sim_seconds, 100.0);
    assert_eq!(summary.trajectory.len(), 10);
    assert!(summary
        .trajectory
        .windows(2)
        .all(|w| w[0].sim_seconds < w[1].sim_seconds));
}

#[test]
fn experiment_folders_are_never_reused_and_never_shared() {
    let dir = tempfile::tempdir().unwrap();
    let used = dir.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("notes.txt"), "mine").unwrap();
    assert!(matches!(
        ExperimentDir::create(&used),
        Err(RunError::OutputExists { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(used.join("notes.txt")).unwrap(),
        "mine"
    );

    let out = dir.path().join("exp");
    let held = ExperimentDir::create(&out).unwrap();
    let mut rec = DirRecorder::new(held.path(), "study.db");
    let ok = Flaky {
        fail_when_first_edge_is: Some(1),
        panic_when_second_edge_is: None,
    };
    let summary = Study::new(experiment(ok, "rea", trials(30)))
        .unwrap()
        .run(&mut rec, &mut |_| {})
        .unwrap();
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64, 1 + summary.trials);
    assert!(out.join("best.json").is_file() && out.join("run.json").is_file());
    // While `held` lives, no other process (or handle) may open the folder.
    assert!(matches!(
        ExperimentDir::open(&out),
        Err(RunError::Busy { .. })
    ));
    drop(held);
    assert!(ExperimentDir::open(&out).is_ok());
}

#[test]
fn a_worker_pool_runs_every_trial_once_and_tells_each_result() {
    let ok = Flaky {
        fail_when_first_edge_is: Some(2),
        panic_when_second_edge_is: Some(2),
    };
    let mut e = experiment(ok, "rea", trials(120));
    e.config.study.workers = 4;
    e.config.study.max_consecutive_failures = 1000;
    let mut study = Study::new(e).unwrap();
    let mut told = 0;
    let summary = study.run(&mut NullRecorder, &mut |_| told += 1).unwrap();
    assert_eq!(summary.trials, 120);
    assert_eq!(told, 120, "every trial is told exactly once");
    let h = study.history();
    assert!(h.trials().iter().all(|t| t.state.is_finished()));
    // De-duplication holds with trials in flight: no architecture completes twice. (A failed
    // one may be proposed again, by design.)
    let complete: Vec<&str> = h
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .map(|t| t.arch_hash.as_str())
        .collect();
    let distinct: std::collections::HashSet<&str> = complete.iter().copied().collect();
    assert_eq!(distinct.len(), complete.len());
    assert!(complete.len() > 60, "{} complete", complete.len());
}

#[test]
fn failed_evaluations_are_retried_as_configured() {
    let flaky = Flaky {
        fail_when_first_edge_is: Some(0),
        panic_when_second_edge_is: None,
    };
    let mut e = experiment(flaky, "random", trials(40));
    e.config.study.retry_failed = 2;
    e.config.study.max_consecutive_failures = 1000;
    let mut study = Study::new(e).unwrap();
    let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    assert_eq!(summary.trials, 40);
    let failed: Vec<_> = study
        .history()
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .collect();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|t| t.attempts == 3), "1 try + 2 retries");
    assert!(study
        .history()
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .all(|t| t.attempts == 1));
}

/// Regression: a retried trial went back to WAITING without its worker, which the store
/// refused as a change by a non-holder.
#[test]
fn retries_work_in_a_durable_study() {
    let dir = tempfile::tempdir().unwrap();
    let store = archer_store::SqliteStore::open(&dir.path().join("study.db")).unwrap();
    let flaky = Flaky {
        fail_when_first_edge_is: Some(0),
        panic_when_second_edge_is: None,
    };
    let mut e = experiment(flaky, "random", trials(30));
    e.config.study.retry_failed = 1;
    e.config.study.max_consecutive_failures = 1000;
    let mut study = Study::create(e, Box::new(store)).unwrap();
    let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    assert_eq!(summary.trials, 30);
    let mut reopened = archer_store::SqliteStore::open(&dir.path().join("study.db")).unwrap();
    use archer_store::Store;
    let id = reopened.study("t").unwrap().unwrap().id;
    let stored = reopened.trials(id).unwrap();
    assert!(stored
        .iter()
        .any(|t| t.state == TrialState::Failed && t.attempts == 2));
    // Everything but the timestamps, which the store keeps to the microsecond.
    let key = |t: &archer_core::Trial| {
        (
            t.id,
            t.state,
            t.attempts,
            t.score,
            t.error.clone(),
            t.arch.clone(),
            t.worker.clone(),
        )
    };
    let in_memory: Vec<_> = study.history().trials().iter().map(key).collect();
    assert_eq!(stored.iter().map(key).collect::<Vec<_>>(), in_memory);
}

/// Regression: a resumed study started counting consecutive failures from zero again, so a
/// study stopped for failing would fail `max_consecutive_failures` more times after resume.
#[test]
fn resume_keeps_the_run_of_consecutive_failures() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("study.db");
    let always_fails = || Flaky {
        fail_when_first_edge_is: Some(0),
        panic_when_second_edge_is: None,
    };
    let make = || {
        let mut e = experiment(always_fails(), "random", trials(100));
        e.config.space = SpaceConfig::named("nb201").with("ops", serde_json::json!(["none"]));
        e.space = e.config.space.build().unwrap();
        e.config.study.deduplicate = false;
        e
    };
    let store = archer_store::SqliteStore::open(&db).unwrap();
    let first = Study::create(make(), Box::new(store))
        .unwrap()
        .run(&mut NullRecorder, &mut |_| {})
        .unwrap();
    assert!(matches!(
        first.stop,
        StopReason::TooManyFailures { count: 5, .. }
    ));

    use archer_store::Store;
    let mut store = archer_store::SqliteStore::open(&db).unwrap();
    let record = store.study("t").unwrap().unwrap();
    let again = Study::resume(make(), Box::new(store), &record)
        .unwrap()
        .run(&mut NullRecorder, &mut |_| {})
        .unwrap();
    assert!(
        matches!(again.stop, StopReason::TooManyFailures { count: 5, .. }),
        "{:?}",
        again.stop
    );
    assert_eq!(again.trials, 5, "no new trial after resuming");
}

/// A durable study of each model-based strategy, stopped halfway and resumed from its store,
/// ends exactly like one uninterrupted run.
#[test]
fn model_based_studies_resume_from_the_store_exactly() {
    use archer_store::Store;
    let healthy = || Flaky {
        fail_when_first_edge_is: None,
        panic_when_second_edge_is: None,
    };
    for name in ["bo", "npenas", "bananas"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("study.db");
        let store = archer_store::SqliteStore::open(&db).unwrap();
        let mut first =
            Study::create(experiment(healthy(), name, trials(15)), Box::new(store)).unwrap();
        first.run(&mut NullRecorder, &mut |_| {}).unwrap();
        drop(first);
        let mut store = archer_store::SqliteStore::open(&db).unwrap();
        let record = store.study("t").unwrap().unwrap();
        let mut resumed = Study::resume(
            experiment(healthy(), name, trials(30)),
            Box::new(store),
            &record,
        )
        .unwrap();
        resumed.run(&mut NullRecorder, &mut |_| {}).unwrap();
        let mut whole = Study::new(experiment(healthy(), name, trials(30))).unwrap();
        whole.run(&mut NullRecorder, &mut |_| {}).unwrap();
        let archs = |s: &Study| -> Vec<_> {
            s.history()
                .trials()
                .iter()
                .map(|t| t.arch.clone())
                .collect()
        };
        assert_eq!(archs(&resumed), archs(&whole), "{name}");
        assert_eq!(resumed.history().len(), 30, "{name}");
    }
}

/// Two objectives: conv3x3 edges (max) and "size", the number of non-`none` edges (min),
/// which is known before evaluation. Counts its evaluations.
struct Sized {
    evaluations: std::sync::atomic::AtomicUsize,
}

impl Sized {
    fn size(arch: &Arch) -> f64 {
        arch.indices().iter().filter(|&&c| c != 0).count() as f64
    }
}

impl Evaluator for Sized {
    fn name(&self) -> &str {
        "sized"
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec::new("score", Direction::Maximize, false, ""),
            MetricSpec::new("size", Direction::Minimize, false, ""),
        ]
    }
    fn known_before(&self, arch: &Arch) -> Metrics {
        Metrics::new().with("size", Self::size(arch))
    }
    fn evaluate(&self, arch: &Arch, _: &Fidelity, _: &mut TrialCtx) -> Result<Metrics, EvalError> {
        self.evaluations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let convs = arch.indices().iter().filter(|&&c| c == 3).count() as f64;
        Ok(Metrics::new()
            .with("score", convs)
            .with("size", Self::size(arch))
            .with("sim_seconds", 10.0))
    }
    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({"evaluator": "sized"})
    }
}

#[test]
fn proposals_breaking_a_known_constraint_cost_nothing_and_are_told_as_infeasible() {
    let evaluator = Arc::new(Sized {
        evaluations: Default::default(),
    });
    for strategy in ["random", "nsga2", "mo-rea", "parego-bo", "ehvi-bo"] {
        evaluator
            .evaluations
            .store(0, std::sync::atomic::Ordering::Relaxed);
        let mut e = experiment(
            Flaky {
                fail_when_first_edge_is: None,
                panic_when_second_edge_is: None,
            },
            "random",
            trials(40),
        );
        e.config.strategy = archer_predict::strategy_by_label(strategy).unwrap();
        e.evaluator = evaluator.clone();
        e.objectives = vec![
            Objective::maximize("score"),
            Objective {
                metric: "size".into(),
                direction: Direction::Minimize,
            },
        ];
        e.constraints = vec![archer_core::Constraint {
            metric: "size".into(),
            min: None,
            max: Some(4.0),
        }];
        let mut study = Study::new(e).unwrap();
        let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
        let h = study.history();
        let screened: Vec<_> = h.trials().iter().filter(|t| t.is_screened()).collect();
        let evaluated = evaluator
            .evaluations
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(evaluated, 40, "{strategy}: the budget counts evaluations");
        assert_eq!(h.evaluated(), 40);
        assert_eq!(h.len(), 40 + screened.len());
        assert_eq!(summary.stop, StopReason::TrialBudget);
        for t in &screened {
            assert_eq!(t.state, TrialState::Complete);
            assert!(!t.feasible && t.violation > 0.0 && t.cost_seconds == 0.0);
            assert!(t.score.is_none(), "an infeasible trial has no scalar score");
            assert!(Sized::size(&t.arch) > 4.0);
        }
        for t in h.trials().iter().filter(|t| !t.is_screened()) {
            assert!(t.feasible, "{strategy}: only feasible cells were evaluated");
            assert_eq!(t.scores.len(), 2);
            assert_eq!(
                t.scores[1],
                -Sized::size(&t.arch),
                "oriented: size is minimised"
            );
        }
        assert!(
            (summary.sim_seconds - 400.0).abs() < 1e-9,
            "{strategy}: screened proposals charge nothing"
        );
        let front = h.pareto_front();
        assert!(!front.is_empty() && front.iter().all(|t| t.feasible));
        if strategy != "random" {
            // The strategies see the constraint before proposing: few proposals break it.
            assert!(
                screened.len() < 10,
                "{strategy}: {} proposals broke the known constraint",
                screened.len()
            );
        }
    }
}

fn external_config(extra: &str) -> ExperimentConfig {
    let text = format!(
        r#"[study]
name = "external"
seed = 3

[space]
name = "nb201"

[strategy]
name = "nsga2"
population = 6

[evaluator]
kind = "external"

[[objective]]
metric = "acc"

[[objective]]
metric = "cost"
direction = "min"

[budget]
{extra}
"#
    );
    ExperimentConfig::from_toml(
        &text,
        std::path::Path::new("."),
        std::path::Path::new("inline.toml"),
    )
    .unwrap()
}

/// What the caller's own evaluation gives a cell.
fn told_metrics(arch: &Arch) -> Metrics {
    let convs = arch.indices().iter().filter(|&&c| c == 3).count() as f64;
    let cost = arch.indices().iter().map(|&c| c as f64).sum::<f64>();
    Metrics::new().with("acc", convs).with("cost", cost)
}

#[test]
fn a_study_is_driven_by_ask_and_tell_with_no_evaluator() {
    let experiment = external_config("trials = 30").validate().unwrap();
    assert_eq!(experiment.evaluator.name(), "external");
    let mut study = Study::new(experiment).unwrap();
    let mut asked = 0;
    let stop = loop {
        let trial = match study.ask().unwrap() {
            Ok(t) => t,
            Err(stop) => break stop,
        };
        asked += 1;
        let outcome = if asked == 5 {
            Err("the user's training crashed".to_string())
        } else {
            Ok(told_metrics(&trial.arch))
        };
        study.tell(trial.id, outcome).unwrap();
        assert!(
            study.tell(trial.id, Ok(told_metrics(&trial.arch))).is_err(),
            "a trial is told once"
        );
    };
    assert_eq!(stop, StopReason::TrialBudget);
    assert!(study.tell(999, Ok(Metrics::new())).is_err());
    let h = study.history();
    assert_eq!(h.len(), 30);
    assert_eq!(h.count(TrialState::Failed), 1);
    let t = h.completed().next().unwrap();
    assert_eq!(
        t.scores,
        vec![
            told_metrics(&t.arch).get("acc").unwrap(),
            -told_metrics(&t.arch).get("cost").unwrap()
        ]
    );
    assert!(!h.pareto_front().is_empty());
    // A result without an objective's metric fails the trial with a reason.
    let mut study = Study::new(external_config("trials = 2").validate().unwrap()).unwrap();
    let t = study.ask().unwrap().unwrap();
    study
        .tell(t.id, Ok(Metrics::new().with("acc", 1.0)))
        .unwrap();
    let failed = study.history().get(t.id).unwrap();
    assert_eq!(failed.state, TrialState::Failed);
    assert!(failed.error.as_deref().unwrap().contains("\"cost\""));
    let summary = study
        .finish(&mut NullRecorder, StopReason::TrialBudget)
        .unwrap();
    assert_eq!(summary.trials, 1);
}

#[test]
fn the_wall_clock_budget_counts_across_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store = || archer_store::open(&dir.path().join("s.db").to_string_lossy()).unwrap();
    let experiment = external_config("wall_seconds = 1.0").validate().unwrap();
    let mut study = Study::create(experiment.clone(), store()).unwrap();
    let t = study.ask().unwrap().unwrap();
    study.tell(t.id, Ok(told_metrics(&t.arch))).unwrap();
    drop(study);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut s = store();
    let record = s.study("external").unwrap().unwrap();
    let mut resumed = Study::resume(experiment, s, &record).unwrap();
    assert_eq!(
        resumed.ask().unwrap().unwrap_err(),
        StopReason::WallBudget,
        "the second of the first run counts in the resumed one"
    );
}

/// Reports three steps of a fake training (score after each), charging 10 s per step.
struct Stepper;

impl Evaluator for Stepper {
    fn name(&self) -> &str {
        "stepper"
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::new("score", Direction::Maximize, false, "")]
    }
    fn evaluate(
        &self,
        arch: &Arch,
        _: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, EvalError> {
        let convs = arch.indices().iter().filter(|&&c| c == 3).count() as f64;
        for step in 1..=3 {
            ctx.charge_seconds(10.0);
            if ctx.report(step, convs * step as f64) == archer_core::Report::Prune {
                return Err(EvalError::Pruned { step });
            }
        }
        Ok(Metrics::new()
            .with("score", convs)
            .with("sim_seconds", 30.0))
    }
    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({"evaluator": "stepper"})
    }
}

/// Stops every trial whose first report is below 2 and asks for 3 epochs.
struct StopWeak;

impl archer_runner::Scheduler for StopWeak {
    fn name(&self) -> &str {
        "stop-weak"
    }
    fn fidelity(&mut self, _: &archer_strategy::Proposal, _: &archer_core::History) -> Fidelity {
        Fidelity {
            epochs: Some(3),
            ..Fidelity::full()
        }
    }
    fn decide(
        &mut self,
        _: &archer_core::Trial,
        step: u32,
        value: f64,
        _: &archer_core::History,
    ) -> archer_runner::Decision {
        if step == 1 && value < 2.0 {
            archer_runner::Decision::Stop
        } else {
            archer_runner::Decision::Continue
        }
    }
}

#[test]
fn a_scheduler_sets_fidelities_and_stops_trials_which_are_charged_and_not_failures() {
    // In-line, and on a pool of threads whose reports the coordinating thread answers.
    for workers in [1, 3] {
        scheduler_run(workers);
    }
}

fn scheduler_run(workers: usize) {
    let mut e = experiment(
        Flaky {
            fail_when_first_edge_is: None,
            panic_when_second_edge_is: None,
        },
        "random",
        trials(60),
    );
    e.evaluator = Arc::new(Stepper);
    e.config.study.workers = workers;
    let mut study = Study::new(e).unwrap().with_scheduler(Box::new(StopWeak));
    let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    assert_eq!(
        summary.stop,
        StopReason::TrialBudget,
        "pruned trials are no failures"
    );
    let h = study.history();
    let pruned: Vec<_> = h
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(
        pruned.len() > 5,
        "workers={workers}: most random cells have fewer than 2 conv3x3 edges"
    );
    assert!(pruned
        .iter()
        .all(|t| t.cost_seconds == 10.0 && t.intermediate.len() == 1));
    assert!(h.trials().iter().all(|t| t.fidelity.epochs == Some(3)));
    let complete = h.count(TrialState::Complete) as f64;
    assert!((summary.sim_seconds - (10.0 * pruned.len() as f64 + 30.0 * complete)).abs() < 1e-9);
}

/// Reports two steps; before the second, reads its own trial through another connection.
struct Watched {
    db: std::path::PathBuf,
    seen: std::sync::Mutex<Vec<Vec<(u32, f64)>>>,
}

impl Evaluator for Watched {
    fn name(&self) -> &str {
        "watched"
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::new("score", Direction::Maximize, false, "")]
    }
    fn evaluate(&self, _: &Arch, _: &Fidelity, ctx: &mut TrialCtx) -> Result<Metrics, EvalError> {
        ctx.report(1, 0.5);
        let mut other = archer_store::open(&self.db.to_string_lossy()).unwrap();
        let study = other.studies().unwrap()[0].id;
        let mine = other
            .trials(study)
            .unwrap()
            .into_iter()
            .find(|t| t.id == ctx.trial_id())
            .unwrap();
        self.seen.lock().unwrap().push(mine.intermediate);
        ctx.report(2, 0.75);
        Ok(Metrics::new().with("score", 0.75))
    }
    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({"evaluator": "watched"})
    }
}

#[test]
fn intermediate_values_reach_the_store_as_they_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let evaluator = Arc::new(Watched {
        db: db.clone(),
        seen: Default::default(),
    });
    let mut e = experiment(
        Flaky {
            fail_when_first_edge_is: None,
            panic_when_second_edge_is: None,
        },
        "random",
        trials(3),
    );
    e.evaluator = evaluator.clone();
    let store = archer_store::open(&db.to_string_lossy()).unwrap();
    let mut study = Study::create(e, store).unwrap();
    study.run(&mut NullRecorder, &mut |_| {}).unwrap();
    let seen = evaluator.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|v| v == &vec![(1, 0.5)]), "{seen:?}");
    let t = &study.history().trials()[0];
    assert_eq!(t.intermediate, vec![(1, 0.5), (2, 0.75)]);
}

/// Pauses every new trial (fidelity 1 epoch) at its first report, and before each new
/// proposal promotes the oldest paused trial to 3 epochs, which then runs to the end.
struct PauseThenPromote;

impl archer_runner::Scheduler for PauseThenPromote {
    fn name(&self) -> &str {
        "pause-then-promote"
    }
    fn fidelity(&mut self, _: &archer_strategy::Proposal, _: &archer_core::History) -> Fidelity {
        Fidelity {
            epochs: Some(1),
            ..Fidelity::full()
        }
    }
    fn decide(
        &mut self,
        trial: &archer_core::Trial,
        step: u32,
        _: f64,
        _: &archer_core::History,
    ) -> archer_runner::Decision {
        if step == 1 && trial.fidelity.epochs == Some(1) {
            archer_runner::Decision::Pause
        } else {
            archer_runner::Decision::Continue
        }
    }
    fn next(&mut self, history: &archer_core::History) -> archer_runner::Admission {
        let Some(paused) = history
            .trials()
            .iter()
            .find(|t| t.state == TrialState::Paused)
        else {
            return archer_runner::Admission::New;
        };
        archer_runner::Admission::Promote(archer_runner::Promotion::resume(
            paused.id,
            Fidelity {
                epochs: Some(3),
                ..Fidelity::full()
            },
        ))
    }
}

#[test]
fn a_paused_trial_is_promoted_keeps_its_id_and_adds_up_its_cost() {
    for workers in [1, 3] {
        let mut e = experiment(
            Flaky {
                fail_when_first_edge_is: None,
                panic_when_second_edge_is: None,
            },
            "rea",
            trials(20),
        );
        e.evaluator = Arc::new(Stepper);
        e.config.study.workers = workers;
        let mut study = Study::new(e)
            .unwrap()
            .with_scheduler(Box::new(PauseThenPromote));
        let summary = study.run(&mut NullRecorder, &mut |_| {}).unwrap();
        assert_eq!(summary.stop, StopReason::TrialBudget);
        let h = study.history();
        let complete: Vec<_> = h
            .trials()
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .collect();
        let paused: Vec<_> = h
            .trials()
            .iter()
            .filter(|t| t.state == TrialState::Paused)
            .collect();
        assert_eq!(complete.len() + paused.len(), 20, "workers={workers}");
        assert!(complete.len() >= 20 - workers - 1, "workers={workers}");
        for t in &complete {
            // 10 s before the pause, 30 s after the promotion; the steps of both runs kept.
            assert_eq!(t.cost_seconds, 40.0, "trial {}", t.id);
            assert_eq!(t.attempts, 2);
            assert_eq!(t.fidelity.epochs, Some(3));
            let steps: Vec<u32> = t.intermediate.iter().map(|(s, _)| *s).collect();
            assert_eq!(steps, vec![1, 2, 3]);
            assert!(!t.attrs.contains_key("resumed_after_seconds"));
        }
        for t in &paused {
            assert_eq!(t.cost_seconds, 10.0);
            assert!(t.error.is_none());
        }
        let charged = 40.0 * complete.len() as f64 + 10.0 * paused.len() as f64;
        assert!(
            (summary.sim_seconds - charged).abs() < 1e-9,
            "workers={workers}"
        );
    }
}

#[test]
fn a_paused_trial_survives_in_the_store_and_is_promoted_after_a_resume() {
    use archer_store::Store;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("study.db");
    let make = |n| {
        let mut e = experiment(
            Flaky {
                fail_when_first_edge_is: None,
                panic_when_second_edge_is: None,
            },
            "rea",
            trials(n),
        );
        e.evaluator = Arc::new(Stepper);
        e
    };
    let store = archer_store::SqliteStore::open(&db).unwrap();
    Study::create(make(6), Box::new(store))
        .unwrap()
        .with_scheduler(Box::new(PauseThenPromote))
        .run(&mut NullRecorder, &mut |_| {})
        .unwrap();
    let mut store = archer_store::SqliteStore::open(&db).unwrap();
    let record = store.study("t").unwrap().unwrap();
    let stored = store.trials(record.id).unwrap();
    let paused: Vec<u64> = stored
        .iter()
        .filter(|t| t.state == TrialState::Paused)
        .map(|t| t.id)
        .collect();
    assert_eq!(
        paused.len(),
        1,
        "the last trial waits, paused, in the store"
    );
    let mut resumed = Study::resume(make(8), Box::new(store), &record)
        .unwrap()
        .with_scheduler(Box::new(PauseThenPromote));
    let summary = resumed.run(&mut NullRecorder, &mut |_| {}).unwrap();
    let t = resumed.history().get(paused[0]).unwrap();
    assert_eq!(t.state, TrialState::Complete);
    assert_eq!(t.cost_seconds, 40.0);
    let h = resumed.history();
    let charged: f64 = h
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Complete || t.state == TrialState::Paused)
        .map(|t| t.cost_seconds)
        .sum();
    assert!((summary.sim_seconds - charged).abs() < 1e-9);
}

#[test]
fn a_worker_pauses_and_promotes_through_the_store() {
    use archer_store::Store;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("study.db");
    let mut e = experiment(
        Flaky {
            fail_when_first_edge_is: None,
            panic_when_second_edge_is: None,
        },
        "rea",
        trials(8),
    );
    e.evaluator = Arc::new(Stepper);
    let open = || Box::new(archer_store::SqliteStore::open(&db).unwrap()) as Box<dyn Store>;
    // The study is created in the store; a worker then runs all of it.
    drop(Study::create(e.clone(), open()).unwrap());
    let record = open().study("t").unwrap().unwrap();
    let report = archer_runner::worker::Worker::new(e, open(), open(), record.clone(), "w".into())
        .unwrap()
        .with_scheduler(Box::new(PauseThenPromote))
        .run(&mut |_| {})
        .unwrap();
    assert_eq!(report.stop, Some(StopReason::TrialBudget));
    let stored = open().trials(record.id).unwrap();
    let complete: Vec<_> = stored
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    assert_eq!(complete.len(), 7, "every trial but the last was promoted");
    assert!(complete
        .iter()
        .all(|t| t.cost_seconds == 40.0 && t.attempts == 2 && t.intermediate.len() == 3));
    assert_eq!(stored.len(), 8);
    assert_eq!(stored.last().unwrap().state, TrialState::Paused);
}

#[test]
fn retrain_epochs_from_the_command_line_set_or_add_the_retrain_section() {
    use archer_runner::{ExperimentConfig, Overrides};
    let file = "[study]\nname = \"x\"\n\n[space]\nname = \"nb201\"\n\n[strategy]\nname = \"random\"\n\n[evaluator]\nkind = \"nb201\"\n";
    let overrides = Overrides {
        retrain_epochs: Some(3),
        ..Overrides::default()
    };
    let mut without: ExperimentConfig = toml::from_str(file).unwrap();
    without.apply(&overrides);
    let added = without.retrain.expect("a [retrain] section is added");
    assert_eq!((added.epochs, added.seed), (3, None));
    let mut with: ExperimentConfig =
        toml::from_str(&format!("{file}\n[retrain]\nepochs = 5\nseed = 7\n")).unwrap();
    with.apply(&overrides);
    let set = with.retrain.unwrap();
    assert_eq!((set.epochs, set.seed), (3, Some(7)), "the epochs only");
}
