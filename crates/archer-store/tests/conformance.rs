//! One suite for every `Store` backend. PostgreSQL tests use `$ARCHER_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432/archer_test`, created if missing) and fail,
//! never skip, when the server cannot be reached.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use archer_core::{Arch, Constraint, Direction, Fidelity, Metrics, Objective, Trial, TrialState};
use archer_store::{
    NewStudy, PostgresStore, SqliteStore, Store, StoreError, TrialChanges, LOST_WORKER_ATTR,
};
use chrono::{TimeZone, Utc};
use serde_json::json;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(name: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{name}-{}-{}-{n}",
        std::process::id(),
        Utc::now().timestamp_micros()
    )
}

fn new_study(name: &str) -> NewStudy {
    NewStudy {
        name: unique(name),
        config_toml: "[study]\nname = \"x\"\n".into(),
        seed: u64::MAX - 1,
        space: "nb201".into(),
        space_version: 1,
        objectives: vec![Objective::maximize("valid_acc")],
        constraints: vec![],
        strategy_state: json!({"initial": true}),
    }
}

fn trial(id: u64) -> Trial {
    let mut t = Trial::new(
        id,
        Arch::new("nb201", 1, vec![id as u16 % 5, 1, 2, 3, 4, 0]),
        format!("h{id}"),
        Fidelity::full(),
    );
    t.state = TrialState::Waiting;
    t
}

fn completed(mut t: Trial, worker: &str) -> Trial {
    t.state = TrialState::Complete;
    t.metrics = Metrics::new()
        .with("valid_acc", 90.5 + t.id as f64)
        .with("test_acc", 93.25);
    t.score = Some(90.5 + t.id as f64);
    t.scores = vec![90.5 + t.id as f64];
    t.intermediate = vec![(1, 50.0), (2, 75.5)];
    t.cost_seconds = 123.5;
    t.worker = Some(worker.into());
    t.started_at = Utc.timestamp_micros(1_700_000_000_123_456).single();
    t.finished_at = Utc.timestamp_micros(1_700_000_100_654_321).single();
    t.fidelity = Fidelity {
        epochs: Some(12),
        ..Fidelity::full()
    };
    t
}

fn ids(changes: &TrialChanges) -> Vec<u64> {
    changes.trials.iter().map(|t| t.id).collect()
}

pub fn postgres_url() -> String {
    std::env::var("ARCHER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/archer_test".into())
}

fn ensure_postgres_database() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let url = postgres_url();
        let (base, db) = url.rsplit_once('/').expect("URL ends in /database");
        let mut admin = ::postgres::Client::connect(&format!("{base}/postgres"), ::postgres::NoTls)
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is required for these tests: {e}"));
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
            .unwrap()
            .is_some();
        if !exists {
            // A concurrent test binary may win the race; that is fine.
            let _ = admin.batch_execute(&format!("CREATE DATABASE \"{db}\""));
        }
    });
}

fn sqlite() -> (Box<dyn Store>, Option<tempfile::TempDir>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("study.db")).unwrap();
    (Box::new(store), Some(dir))
}

fn postgres() -> (Box<dyn Store>, Option<tempfile::TempDir>) {
    ensure_postgres_database();
    (
        Box::new(PostgresStore::connect(&postgres_url()).unwrap()),
        None,
    )
}

/// Another connection to the same database as `first` (for concurrency tests).
fn reopen(backend: &str, dir: &Option<tempfile::TempDir>) -> Box<dyn Store> {
    match backend {
        "sqlite" => {
            Box::new(SqliteStore::open(&dir.as_ref().unwrap().path().join("study.db")).unwrap())
        }
        _ => Box::new(PostgresStore::connect(&postgres_url()).unwrap()),
    }
}

macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            #[test]
            fn studies_are_created_once_and_found_by_name() {
                let (mut s, _dir) = $backend();
                let spec = new_study("create");
                let rec = s.create_study(&spec).unwrap();
                assert_eq!(rec.name, spec.name);
                assert_eq!(rec.seed, u64::MAX - 1);
                assert_eq!(rec.objectives, spec.objectives);
                assert!(rec.constraints.is_empty());
                assert_eq!(s.study(&spec.name).unwrap().unwrap(), rec);
                assert!(matches!(s.create_study(&spec), Err(StoreError::StudyExists(_))));
                assert!(s.studies().unwrap().iter().any(|r| r.id == rec.id));
                assert!(s.study("no-such-study").unwrap().is_none());
                assert_eq!(s.strategy_state(rec.id).unwrap(), json!({"initial": true}));
                s.finish_study(rec.id, "trial budget reached").unwrap();
                assert_eq!(s.study(&spec.name).unwrap().unwrap().stop_reason.as_deref(), Some("trial budget reached"));
            }

            #[test]
            fn objectives_and_constraints_round_trip() {
                let (mut s, _dir) = $backend();
                let mut spec = new_study("multi");
                spec.objectives = vec![
                    Objective::maximize("valid_acc"),
                    Objective { metric: "latency_ms".into(), direction: Direction::Minimize },
                ];
                spec.constraints = vec![
                    Constraint { metric: "params_m".into(), min: None, max: Some(1.5) },
                    Constraint { metric: "latency_ms".into(), min: Some(0.5), max: Some(4.25) },
                    Constraint { metric: "flops_m".into(), min: Some(-0.1), max: None },
                ];
                let rec = s.create_study(&spec).unwrap();
                assert_eq!(rec.objectives, spec.objectives);
                assert_eq!(rec.constraints, spec.constraints);
                assert_eq!(s.study(&spec.name).unwrap().unwrap(), rec);
                assert!(s.studies().unwrap().contains(&rec));
            }

            #[test]
            fn trials_round_trip_with_every_field() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("roundtrip")).unwrap().id;
                let mut t0 = trial(0);
                t0.state = TrialState::Running;
                t0.worker = Some("w".into());
                s.add_trial(id, &t0, &json!({"after": "ask 0"})).unwrap();
                let done = completed(t0, "w");
                s.update_trial(id, &done, Some(&json!({"after": "tell 0"}))).unwrap();
                let mut failed = trial(1);
                failed.state = TrialState::Failed;
                failed.error = Some("evaluator panicked: boom".into());
                s.add_trial(id, &trial(1), &json!({"after": "ask 1"})).unwrap();
                s.update_trial(id, &failed, None).unwrap();
                let got = s.trials(id).unwrap();
                assert_eq!(got, vec![done, failed]);
                assert_eq!(s.strategy_state(id).unwrap(), json!({"after": "ask 1"}), "an update without state keeps the last one");
            }

            #[test]
            fn scores_feasibility_violation_and_attrs_round_trip() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("v2-fields")).unwrap().id;
                // Infeasible, several objectives, nested attrs; added WAITING and read back
                // through every read path (trials, trials_since, claim).
                let mut t0 = completed(trial(0), "w");
                t0.state = TrialState::Waiting;
                t0.scores = vec![90.5, -3.25, 0.1 + 0.2];
                t0.score = None;
                t0.feasible = false;
                t0.violation = 0.5;
                t0.attrs.insert("rung".into(), json!(2));
                t0.attrs.insert("parent".into(), json!(7));
                t0.attrs.insert("checkpoint".into(), json!("ckpt/0.pt"));
                t0.attrs.insert("nested".into(), json!({"a": [1, 2.5, null], "b": false}));
                s.add_trial(id, &t0, &json!(0)).unwrap();
                let mut t1 = trial(1);
                t1.feasible = false;
                t1.violation = f64::INFINITY;
                t1.attrs.insert(archer_core::SCREENED_ATTR.into(), json!(true));
                s.add_trial(id, &t1, &json!(1)).unwrap();
                assert_eq!(s.trials(id).unwrap(), vec![t0.clone(), t1.clone()]);
                assert_eq!(s.trials_since(id, 0).unwrap().trials, vec![t0.clone(), t1.clone()]);
                assert!(s.trials(id).unwrap()[1].is_screened());
                let claimed = s.claim(id, "w2").unwrap().unwrap();
                let mut expected = t0.clone();
                expected.state = TrialState::Running;
                expected.worker = Some("w2".into());
                expected.attempts = 1;
                expected.started_at = claimed.started_at;
                assert_eq!(claimed, expected);
                // A score JSON cannot carry is refused, not stored as null.
                let mut bad = claimed.clone();
                bad.scores = vec![f64::NAN];
                assert!(matches!(s.update_trial(id, &bad, None), Err(StoreError::Corrupt(_))));
                assert_eq!(s.trials(id).unwrap()[0], claimed);
            }

            #[test]
            fn trial_numbers_are_dense_and_studies_separate() {
                let (mut s, _dir) = $backend();
                let a = s.create_study(&new_study("dense-a")).unwrap().id;
                let b = s.create_study(&new_study("dense-b")).unwrap().id;
                s.add_trial(a, &trial(0), &json!(1)).unwrap();
                assert!(matches!(s.add_trial(a, &trial(0), &json!(2)), Err(StoreError::Corrupt(_))));
                assert!(matches!(s.add_trial(a, &trial(5), &json!(2)), Err(StoreError::Corrupt(_))));
                assert_eq!(s.strategy_state(a).unwrap(), json!(1), "a refused add changes nothing");
                s.add_trial(b, &trial(0), &json!(1)).unwrap();
                assert_eq!(s.trials(a).unwrap().len(), 1);
                assert_eq!(s.trials(b).unwrap().len(), 1);
                assert!(matches!(s.update_trial(a, &trial(3), None), Err(StoreError::NoSuchTrial { .. })));
            }

            #[test]
            fn finished_trials_never_change() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("immutable")).unwrap().id;
                s.add_trial(id, &trial(0), &json!(0)).unwrap();
                let done = completed(trial(0), "w");
                s.update_trial(id, &done, Some(&json!(1))).unwrap();
                let mut again = done.clone();
                again.score = Some(0.0);
                let err = s.update_trial(id, &again, Some(&json!(2))).unwrap_err();
                assert!(matches!(err, StoreError::TrialFinished { .. }), "{err}");
                assert_eq!(s.trials(id).unwrap()[0], done);
                assert_eq!(s.strategy_state(id).unwrap(), json!(1));
            }

            #[test]
            fn claims_go_in_order_to_one_worker_each() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("claim")).unwrap().id;
                for n in 0..3 {
                    s.add_trial(id, &trial(n), &json!(n)).unwrap();
                }
                let c0 = s.claim(id, "w1").unwrap().unwrap();
                assert_eq!((c0.id, c0.state, c0.attempts, c0.worker.as_deref()), (0, TrialState::Running, 1, Some("w1")));
                assert_eq!(s.claim(id, "w2").unwrap().unwrap().id, 1);
                assert_eq!(s.claim(id, "w1").unwrap().unwrap().id, 2);
                assert!(s.claim(id, "w1").unwrap().is_none());
                // Only the holder may finish it.
                let mut stolen = completed(c0.clone(), "w2");
                stolen.attempts = 1;
                assert!(matches!(s.update_trial(id, &stolen, None), Err(StoreError::NotHolder { .. })));
                assert!(s.heartbeat(id, 0, "w1", 1).unwrap());
                assert!(!s.heartbeat(id, 0, "w2", 1).unwrap());
                s.update_trial(id, &completed(c0, "w1"), None).unwrap();
                assert!(!s.heartbeat(id, 0, "w1", 1).unwrap(), "no heartbeat on a finished trial");
            }

            #[test]
            fn a_running_trial_is_fenced_by_attempt() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("fence")).unwrap().id;
                s.add_trial(id, &trial(0), &json!(0)).unwrap();
                let first = s.claim(id, "w").unwrap().unwrap();
                assert_eq!(first.attempts, 1);
                assert_eq!(s.requeue_stale(id, 0.0, 5).unwrap(), vec![0]);
                // The same worker id claims it again (a restarted process, a requeued job).
                let second = s.claim(id, "w").unwrap().unwrap();
                assert_eq!((second.worker.as_deref(), second.attempts), (Some("w"), 2));
                assert!(!s.heartbeat(id, 0, "w", 1).unwrap(), "the old attempt's heartbeat");
                assert!(s.heartbeat(id, 0, "w", 2).unwrap());
                let err = s.update_trial(id, &completed(first.clone(), "w"), Some(&json!("old"))).unwrap_err();
                match err {
                    StoreError::NotHolder { holder, holder_attempt, worker, attempt, .. } => {
                        assert_eq!((holder.as_str(), holder_attempt, worker.as_str(), attempt), ("w", 2, "w", 1));
                    }
                    other => panic!("{other}"),
                }
                assert!(matches!(s.report_intermediate(id, &first, 1, 0.5), Err(StoreError::NotHolder { .. })));
                assert_eq!(s.strategy_state(id).unwrap(), json!(0));
                let done = completed(second, "w");
                s.update_trial(id, &done, Some(&json!("new"))).unwrap();
                assert_eq!(s.trials(id).unwrap(), vec![done]);
            }

            #[test]
            fn paused_trials_round_trip_and_are_never_claimed() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("paused")).unwrap().id;
                s.add_trial(id, &trial(0), &json!(0)).unwrap();
                let running = s.claim(id, "w1").unwrap().unwrap();
                let mut paused = running.clone();
                paused.state = TrialState::Paused;
                paused.attrs.insert("checkpoint".into(), json!("ckpt/0-rung1.pt"));
                paused.attrs.insert("rung".into(), json!(1));
                paused.intermediate = vec![(1, 0.5)];
                s.update_trial(id, &paused, None).unwrap();
                assert_eq!(s.trials(id).unwrap(), vec![paused.clone()]);
                assert!(s.claim(id, "w2").unwrap().is_none(), "claim takes only WAITING");
                assert!(!s.heartbeat(id, 0, "w1", 1).unwrap(), "a paused trial is not running");
                assert!(s.requeue_stale(id, 0.0, 1).unwrap().is_empty(), "a paused trial has no heartbeat to miss");
                assert!(matches!(s.report_intermediate(id, &paused, 2, 0.6), Err(StoreError::NotHolder { .. })));
                let mut resumed = paused.clone();
                resumed.state = TrialState::Running;
                s.update_trial(id, &resumed, None).unwrap();
                assert!(s.heartbeat(id, 0, "w1", 1).unwrap());
                s.report_intermediate(id, &resumed, 2, 0.75).unwrap();
                let mut expect = resumed.clone();
                expect.intermediate = vec![(1, 0.5), (2, 0.75)];
                assert_eq!(s.trials(id).unwrap(), vec![expect]);
                let done = completed(resumed, "w1");
                s.update_trial(id, &done, None).unwrap();
                assert_eq!(s.trials(id).unwrap(), vec![done]);
            }

            #[test]
            fn trials_since_returns_exactly_what_changed() {
                let (mut s, dir) = $backend();
                let id = s.create_study(&new_study("since")).unwrap().id;
                let empty = s.trials_since(id, 0).unwrap();
                assert_eq!((empty.trials.len(), empty.seq), (0, 0));
                for n in 0..3 {
                    s.add_trial(id, &trial(n), &json!(n)).unwrap();
                }
                let all = s.trials_since(id, 0).unwrap();
                assert_eq!(ids(&all), vec![0, 1, 2]);
                assert_eq!(all.trials, s.trials(id).unwrap());
                let s1 = all.seq;
                assert!(s1 >= 3);
                let none = s.trials_since(id, s1).unwrap();
                assert_eq!((ids(&none), none.seq), (vec![], s1));

                // claim
                let c0 = s.claim(id, "w").unwrap().unwrap();
                let ch = s.trials_since(id, s1).unwrap();
                assert_eq!(ch.trials, vec![c0.clone()]);
                let s2 = ch.seq;
                assert!(s2 > s1);
                // A heartbeat and a refused write are not changes.
                assert!(s.heartbeat(id, 0, "w", 1).unwrap());
                let mut thief = c0.clone();
                thief.worker = Some("thief".into());
                assert!(s.update_trial(id, &thief, None).is_err());
                assert!(s.report_intermediate(id, &thief, 1, 1.0).is_err());
                assert_eq!(s.trials_since(id, s2).unwrap(), TrialChanges { trials: vec![], seq: s2 });
                // report_intermediate
                s.report_intermediate(id, &c0, 1, 0.5).unwrap();
                let ch = s.trials_since(id, s2).unwrap();
                assert_eq!(ids(&ch), vec![0]);
                assert_eq!(ch.trials[0].intermediate, vec![(1, 0.5)]);
                let s3 = ch.seq;
                assert!(s3 > s2);
                // update_trial, listed in number order whatever the order of the changes
                let mut t2 = trial(2);
                t2.attrs.insert("bracket".into(), json!(1));
                s.update_trial(id, &t2, None).unwrap();
                let mut t1 = trial(1);
                t1.attrs.insert("bracket".into(), json!(0));
                s.update_trial(id, &t1, None).unwrap();
                let ch = s.trials_since(id, s3).unwrap();
                assert_eq!(ch.trials, vec![t1, t2]);
                let s4 = ch.seq;
                assert!(s4 >= s3 + 2);
                // requeue_stale
                assert_eq!(s.requeue_stale(id, 0.0, 5).unwrap(), vec![0]);
                let ch = s.trials_since(id, s4).unwrap();
                assert_eq!(ids(&ch), vec![0]);
                assert_eq!(ch.trials[0].state, TrialState::Waiting);
                assert!(ch.seq > s4);
                // add_trial, seen from another connection
                s.add_trial(id, &trial(3), &json!(3)).unwrap();
                let mut other = reopen(s.backend(), &dir);
                let ch2 = other.trials_since(id, ch.seq).unwrap();
                assert_eq!(ids(&ch2), vec![3]);
                assert_eq!(other.trials_since(id, 0).unwrap().trials, s.trials(id).unwrap());
                assert!(matches!(s.trials_since(id + 1_000_000, 0), Err(StoreError::NoSuchStudy(_))));
            }

            #[test]
            fn intermediate_values_are_visible_while_the_trial_runs() {
                let (mut s, dir) = $backend();
                let id = s.create_study(&new_study("report")).unwrap().id;
                s.add_trial(id, &trial(0), &json!(0)).unwrap();
                s.add_trial(id, &trial(1), &json!(1)).unwrap();
                let c = s.claim(id, "w1").unwrap().unwrap();
                s.report_intermediate(id, &c, 1, 0.5).unwrap();
                s.report_intermediate(id, &c, 2, 0.6).unwrap();
                s.report_intermediate(id, &c, 2, 0.7).unwrap();
                let mut other = reopen(s.backend(), &dir);
                let seen = &other.trials(id).unwrap()[0];
                assert_eq!((seen.state, seen.intermediate.clone()), (TrialState::Running, vec![(1, 0.5), (2, 0.7)]));
                // Refused: another worker, an older attempt, a WAITING trial, no such trial.
                let mut w2 = c.clone();
                w2.worker = Some("w2".into());
                assert!(matches!(other.report_intermediate(id, &w2, 3, 0.9), Err(StoreError::NotHolder { .. })));
                let mut old = c.clone();
                old.attempts = 0;
                assert!(matches!(other.report_intermediate(id, &old, 3, 0.9), Err(StoreError::NotHolder { .. })));
                assert!(matches!(other.report_intermediate(id, &trial(1), 1, 0.9), Err(StoreError::NotHolder { .. })));
                assert!(matches!(other.report_intermediate(id, &trial(7), 1, 0.9), Err(StoreError::NoSuchTrial { .. })));
                assert_eq!(s.trials(id).unwrap()[0].intermediate, vec![(1, 0.5), (2, 0.7)]);
                assert_eq!(s.trials(id).unwrap()[1].intermediate, vec![]);
                // The final update writes the full list, replacing the reported one.
                let done = completed(c.clone(), "w1");
                s.update_trial(id, &done, None).unwrap();
                assert_eq!(other.trials(id).unwrap()[0], done);
                assert!(matches!(s.report_intermediate(id, &c, 3, 0.9), Err(StoreError::TrialFinished { .. })));
            }

            #[test]
            fn the_state_version_counts_strategy_state_saves() {
                let (mut s, dir) = $backend();
                let id = s.create_study(&new_study("version")).unwrap().id;
                assert_eq!(s.state_version(id).unwrap(), 0);
                s.add_trial(id, &trial(0), &json!("ask 0")).unwrap();
                assert_eq!(s.state_version(id).unwrap(), 1);
                let c = s.claim(id, "w").unwrap().unwrap();
                s.report_intermediate(id, &c, 1, 0.5).unwrap();
                s.update_trial(id, &c, None).unwrap();
                assert_eq!(s.state_version(id).unwrap(), 1, "claims, reports and stateless updates save no state");
                let done = completed(c, "w");
                s.update_trial(id, &done, Some(&json!("tell 0"))).unwrap();
                assert_eq!(s.state_version(id).unwrap(), 2);
                assert!(s.update_trial(id, &done, Some(&json!("refused"))).is_err());
                let mut other = reopen(s.backend(), &dir);
                assert_eq!(other.state_version(id).unwrap(), 2, "a refused write saves nothing");
                assert_eq!(other.strategy_state(id).unwrap(), json!("tell 0"));
                other.add_trial(id, &trial(1), &json!("ask 1")).unwrap();
                assert_eq!(s.state_version(id).unwrap(), 3);
                assert!(matches!(s.state_version(id + 1_000_000), Err(StoreError::NoSuchStudy(_))));
            }

            #[test]
            fn a_late_result_after_a_lost_worker_failure_is_kept_from_its_holder_only() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("late")).unwrap().id;
                s.add_trial(id, &trial(0), &json!(0)).unwrap();
                let slow = s.claim(id, "slow").unwrap().unwrap();
                assert_eq!(s.requeue_stale(id, 0.0, 1).unwrap(), vec![0]);
                let failed = s.trials(id).unwrap().remove(0);
                assert_eq!(failed.state, TrialState::Failed);
                assert_eq!((failed.worker.as_deref(), failed.attempts), (Some("slow"), 1), "holder kept");
                assert_eq!(failed.attrs.get(LOST_WORKER_ATTR), Some(&json!(true)));
                assert!(failed.error.as_deref().unwrap().contains("slow"));
                // Nobody else may replace it, nor the holder with an unfinished state.
                for bad in [
                    completed(slow.clone(), "other"),
                    Trial { attempts: 2, ..completed(slow.clone(), "slow") },
                    Trial { state: TrialState::Running, ..slow.clone() },
                    Trial { state: TrialState::Waiting, ..slow.clone() },
                ] {
                    let err = s.update_trial(id, &bad, Some(&json!("no"))).unwrap_err();
                    assert!(matches!(err, StoreError::TrialFinished { .. }), "{err}");
                }
                assert_eq!(s.trials(id).unwrap(), vec![failed.clone()]);
                // The holder's real result replaces the FAILED row, once.
                let late = completed(slow.clone(), "slow");
                s.update_trial(id, &late, Some(&json!("told"))).unwrap();
                assert_eq!(s.trials(id).unwrap(), vec![late.clone()]);
                assert_eq!(s.strategy_state(id).unwrap(), json!("told"));
                assert!(matches!(s.update_trial(id, &late, None), Err(StoreError::TrialFinished { .. })));
                // A late PRUNED from the holder is a finished result too.
                s.add_trial(id, &trial(1), &json!(1)).unwrap();
                let slow1 = s.claim(id, "slow").unwrap().unwrap();
                assert_eq!(s.requeue_stale(id, 0.0, 1).unwrap(), vec![1]);
                let pruned = Trial { state: TrialState::Pruned, intermediate: vec![(1, 3.0)], ..slow1 };
                s.update_trial(id, &pruned, None).unwrap();
                assert_eq!(s.trials(id).unwrap()[1], pruned);
            }

            #[test]
            fn a_late_result_after_a_requeue_to_waiting_is_accepted() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("late-waiting")).unwrap().id;
                s.add_trial(id, &trial(0), &json!(0)).unwrap();
                let slow = s.claim(id, "slow").unwrap().unwrap();
                assert_eq!(s.requeue_stale(id, 0.0, 5).unwrap(), vec![0]);
                let waiting = s.trials(id).unwrap().remove(0);
                assert_eq!((waiting.state, waiting.worker.clone(), waiting.attempts), (TrialState::Waiting, None, 1));
                let late = completed(slow, "slow");
                s.update_trial(id, &late, Some(&json!("told"))).unwrap();
                assert_eq!(s.trials(id).unwrap(), vec![late]);
                assert!(s.claim(id, "next").unwrap().is_none(), "nothing left to run");
            }

            #[test]
            fn concurrent_claims_hand_out_each_trial_exactly_once() {
                let (mut s, dir) = $backend();
                let id = s.create_study(&new_study("concurrent")).unwrap().id;
                for n in 0..60 {
                    s.add_trial(id, &trial(n), &json!(n)).unwrap();
                }
                let backend = s.backend();
                let claimed: Vec<Vec<u64>> = std::thread::scope(|scope| {
                    let handles: Vec<_> = (0..4)
                        .map(|w| {
                            let dir = &dir;
                            scope.spawn(move || {
                                let mut mine = Vec::new();
                                let mut store = reopen(backend, dir);
                                while let Some(t) = store.claim(id, &format!("w{w}")).unwrap() {
                                    mine.push(t.id);
                                }
                                mine
                            })
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                });
                let all: Vec<u64> = claimed.iter().flatten().copied().collect();
                let unique: HashSet<u64> = all.iter().copied().collect();
                assert_eq!(all.len(), 60, "{claimed:?}");
                assert_eq!(unique.len(), 60);
                // Every claim took its own sequence number.
                assert_eq!(s.trials_since(id, 60).unwrap().seq, 120);
            }

            #[test]
            fn the_study_lock_excludes_other_connections_and_dies_with_its_holder() {
                let (mut s, dir) = $backend();
                let id = s.create_study(&new_study("lock")).unwrap().id;
                let backend = s.backend();
                s.lock_study(id).unwrap();
                let (ready_tx, ready_rx) = std::sync::mpsc::channel();
                let (got_tx, got_rx) = std::sync::mpsc::channel();
                let dir2 = &dir;
                std::thread::scope(|scope| {
                    scope.spawn(move || {
                        let mut other = reopen(backend, dir2);
                        // Connected: the next thing this thread does is wait for the lock.
                        ready_tx.send(()).unwrap();
                        other.lock_study(id).unwrap();
                        got_tx.send(Instant::now()).unwrap();
                        other.unlock_study(id).unwrap();
                    });
                    ready_rx.recv_timeout(Duration::from_secs(60)).expect("the other connection opened");
                    // It stays blocked for as long as the lock is held...
                    assert_eq!(
                        got_rx.recv_timeout(Duration::from_millis(500)),
                        Err(RecvTimeoutError::Timeout),
                        "the second connection got the lock while held"
                    );
                    // ...and gets it once released.
                    let released = Instant::now();
                    s.unlock_study(id).unwrap();
                    let got = got_rx.recv_timeout(Duration::from_secs(60)).expect("the lock after unlock");
                    assert!(got >= released);
                });
                // A holder that disappears without unlocking releases the lock.
                let mut holder = reopen(backend, &dir);
                holder.lock_study(id).unwrap();
                drop(holder);
                s.lock_study(id).unwrap();
                s.unlock_study(id).unwrap();
            }

            #[test]
            fn stale_running_trials_are_requeued_then_failed() {
                let (mut s, _dir) = $backend();
                let id = s.create_study(&new_study("stale")).unwrap().id;
                s.add_trial(id, &trial(0), &json!(0)).unwrap();
                s.add_trial(id, &trial(1), &json!(1)).unwrap();
                s.claim(id, "dead").unwrap().unwrap();
                s.claim(id, "alive").unwrap().unwrap();
                // A long grace period leaves fresh heartbeats alone.
                assert!(s.requeue_stale(id, 3600.0, 2).unwrap().is_empty());
                // Margins wide enough for a loaded machine: the dead heartbeat is at least 2 s
                // old, the live one refreshed just before, the grace period 1 s (either side
                // may be delayed by a second without changing the outcome).
                std::thread::sleep(Duration::from_millis(2000));
                assert!(s.heartbeat(id, 1, "alive", 1).unwrap());
                assert_eq!(s.requeue_stale(id, 1.0, 2).unwrap(), vec![0]);
                let t = &s.trials(id).unwrap()[0];
                assert_eq!((t.state, t.worker.clone(), t.attempts), (TrialState::Waiting, None, 1));
                // Second attempt dies too: attempts reach the limit, the trial fails.
                assert_eq!(s.claim(id, "dead-again").unwrap().unwrap().id, 0);
                assert_eq!(s.requeue_stale(id, 0.0, 2).unwrap(), vec![0, 1]);
                let trials = s.trials(id).unwrap();
                assert_eq!(trials[0].state, TrialState::Failed);
                assert!(trials[0].error.as_deref().unwrap().contains("dead-again"), "{:?}", trials[0].error);
                assert_eq!(trials[0].attrs.get(LOST_WORKER_ATTR), Some(&json!(true)));
                assert_eq!(trials[1].state, TrialState::Waiting, "one attempt of two");
            }
        }
    };
}

conformance!(sqlite);
conformance!(postgres);

#[test]
fn sqlite_reports_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-db.db");
    std::fs::write(
        &path,
        b"this is plain text, not SQLite, and it is long enough to have a header",
    )
    .unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(err.to_string().contains("not-a-db.db"), "{err}");
}

#[test]
fn sqlite_reports_a_corrupt_row_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.db");
    let mut s = SqliteStore::open(&path).unwrap();
    let id = s.create_study(&new_study("corrupt")).unwrap().id;
    s.add_trial(id, &trial(0), &json!(0)).unwrap();
    s.add_trial(id, &trial(1), &json!(1)).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE trials SET attrs = 'not json' WHERE number = 0", [])
        .unwrap();
    raw.execute("UPDATE trials SET attempts = 'many' WHERE number = 1", [])
        .unwrap();
    let err = s.trials(id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    raw.execute("UPDATE trials SET attrs = '{}' WHERE number = 0", [])
        .unwrap();
    let err = s.trials(id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

#[test]
fn postgres_reports_a_corrupt_row_as_corrupt() {
    ensure_postgres_database();
    let mut s = PostgresStore::connect(&postgres_url()).unwrap();
    let id = s.create_study(&new_study("corrupt")).unwrap().id;
    s.add_trial(id, &trial(0), &json!(0)).unwrap();
    let mut raw = ::postgres::Client::connect(&postgres_url(), ::postgres::NoTls).unwrap();
    raw.execute(
        "UPDATE archer.trials SET attrs = 'not json' WHERE study_id = $1",
        &[&id],
    )
    .unwrap();
    let err = s.trials(id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    raw.execute(
        "UPDATE archer.trials SET attrs = '{}', attempts = -1 WHERE study_id = $1",
        &[&id],
    )
    .unwrap();
    let err = s.trials(id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

#[test]
fn postgres_reports_an_unreachable_server() {
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/none")
        .err()
        .unwrap();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

/// Ends every server session whose `application_name` is `app`, as a restart would.
fn terminate_sessions(app: &str) -> usize {
    let mut admin = ::postgres::Client::connect(&postgres_url(), ::postgres::NoTls).unwrap();
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .unwrap()
        .len()
}

#[test]
fn postgres_reconnects_after_losing_its_connection() {
    ensure_postgres_database();
    let app = unique("reconnect");
    let url = format!("{}?application_name={app}", postgres_url());
    let mut s = PostgresStore::connect(&url).unwrap();
    let id = s.create_study(&new_study("reconnect")).unwrap().id;
    s.add_trial(id, &trial(0), &json!(0)).unwrap();
    assert_eq!(terminate_sessions(&app), 1);
    // The operation that meets the loss says so (it may already find the socket closed and
    // reconnect); the next one runs on a new connection and sees what was stored before.
    match s.trials(id) {
        Err(StoreError::Disconnected { .. }) => {}
        Ok(t) => assert_eq!(t.len(), 1),
        Err(e) => panic!("expected a lost connection, got {e}"),
    }
    assert_eq!(s.trials(id).unwrap().len(), 1);
    s.add_trial(id, &trial(1), &json!(1)).unwrap();
    assert_eq!(s.trials(id).unwrap().len(), 2);
    // A write that meets the lost connection stores nothing (its session was gone before it
    // began) and can be made again at once; one that already reconnected stores its trial.
    assert_eq!(terminate_sessions(&app), 1);
    match s.add_trial(id, &trial(2), &json!(2)) {
        Err(StoreError::Disconnected { .. }) => {
            assert_eq!(s.trials(id).unwrap().len(), 2);
            s.add_trial(id, &trial(2), &json!(2)).unwrap();
        }
        Ok(()) => {}
        Err(e) => panic!("expected a lost connection, got {e}"),
    }
    assert_eq!(s.trials(id).unwrap().len(), 3);
}
