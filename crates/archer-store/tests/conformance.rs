//! One suite for every `Store` backend. PostgreSQL tests use `$ARCHER_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432/archer_test`, created if missing) and fail,
//! never skip, when the server cannot be reached.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use archer_core::{Arch, Fidelity, Metrics, Objective, Trial, TrialState};
use archer_store::{NewStudy, PostgresStore, SqliteStore, Store, StoreError};
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
        objective: Objective::maximize("valid_acc"),
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
                assert_eq!(rec.objective, spec.objective);
                assert_eq!(s.study(&spec.name).unwrap().unwrap(), rec);
                assert!(matches!(s.create_study(&spec), Err(StoreError::StudyExists(_))));
                assert!(s.studies().unwrap().iter().any(|r| r.id == rec.id));
                assert!(s.study("no-such-study").unwrap().is_none());
                assert_eq!(s.strategy_state(rec.id).unwrap(), json!({"initial": true}));
                s.finish_study(rec.id, "trial budget reached").unwrap();
                assert_eq!(s.study(&spec.name).unwrap().unwrap().stop_reason.as_deref(), Some("trial budget reached"));
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
                assert!(s.heartbeat(id, 0, "w1").unwrap());
                assert!(!s.heartbeat(id, 0, "w2").unwrap());
                s.update_trial(id, &completed(c0, "w1"), None).unwrap();
                assert!(!s.heartbeat(id, 0, "w1").unwrap(), "no heartbeat on a finished trial");
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
            }

            #[test]
            fn the_study_lock_excludes_other_connections_and_dies_with_its_holder() {
                let (mut s, dir) = $backend();
                let id = s.create_study(&new_study("lock")).unwrap().id;
                let backend = s.backend();
                s.lock_study(id).unwrap();
                let (tx, rx) = std::sync::mpsc::channel();
                let dir2 = &dir;
                std::thread::scope(|scope| {
                    scope.spawn(move || {
                        let mut other = reopen(backend, dir2);
                        other.lock_study(id).unwrap();
                        tx.send(std::time::Instant::now()).unwrap();
                        other.unlock_study(id).unwrap();
                    });
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    assert!(rx.try_recv().is_err(), "the second connection got the lock while held");
                    let released = std::time::Instant::now();
                    s.unlock_study(id).unwrap();
                    let got = rx.recv().unwrap();
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
                // Margins wide enough for a loaded machine: the dead heartbeat is 1 s old, the
                // live one fresh, the grace period half a second.
                std::thread::sleep(std::time::Duration::from_millis(1000));
                assert!(s.heartbeat(id, 1, "alive").unwrap());
                assert_eq!(s.requeue_stale(id, 0.5, 2).unwrap(), vec![0]);
                let t = &s.trials(id).unwrap()[0];
                assert_eq!((t.state, t.worker.clone(), t.attempts), (TrialState::Waiting, None, 1));
                // Second attempt dies too: attempts reach the limit, the trial fails.
                assert_eq!(s.claim(id, "dead-again").unwrap().unwrap().id, 0);
                assert_eq!(s.requeue_stale(id, 0.0, 2).unwrap(), vec![0, 1]);
                let trials = s.trials(id).unwrap();
                assert_eq!(trials[0].state, TrialState::Failed);
                assert!(trials[0].error.as_deref().unwrap().contains("dead-again"), "{:?}", trials[0].error);
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
fn postgres_reports_an_unreachable_server() {
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/none")
        .err()
        .unwrap();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}
