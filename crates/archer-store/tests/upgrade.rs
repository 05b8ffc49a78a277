//! Old databases stay readable: each schema version's SQLite file is kept in
//! `fixtures/store/` and opened by the current build, and v1 databases of both backends,
//! filled by hand with every kind of trial, migrate to the current schema.

use std::path::{Path, PathBuf};

use archer_core::{Arch, Direction, Fidelity, Metrics, Objective, Trial, TrialState};
use archer_store::{NewStudy, PostgresStore, SqliteStore, Store, SCHEMA_VERSION};
use chrono::Utc;
use serde_json::json;

fn fixture(version: i64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/store/sqlite-v{version}.db"))
}

/// Regenerates the fixture of the current schema version; run once when a version is added
/// (keep the older files):
/// `cargo test -p archer-store --test upgrade -- --ignored`.
/// `sqlite-v1.db` was written by the v1 build of this function (one study "fixture", one
/// COMPLETE trial, no scores/attrs); `sqlite-v2.db` by this one.
#[test]
#[ignore]
fn write_fixture_for_current_version() {
    let path = fixture(SCHEMA_VERSION);
    let _ = std::fs::remove_file(&path);
    let mut s = SqliteStore::open(&path).unwrap();
    let id = s
        .create_study(&NewStudy {
            name: "fixture".into(),
            config_toml: "[study]\nname = \"fixture\"\n".into(),
            seed: 42,
            space: "nb201".into(),
            space_version: 1,
            objectives: vec![Objective::maximize("valid_acc")],
            constraints: vec![],
            strategy_state: json!({"rng": [1, 2, 3, 4]}),
        })
        .unwrap()
        .id;
    let mut t = Trial::new(
        0,
        Arch::new("nb201", 1, vec![3, 0, 3, 1, 0, 1]),
        "abc".into(),
        Fidelity::full(),
    );
    s.add_trial(id, &t, &json!({"rng": [5, 6, 7, 8]})).unwrap();
    t.state = TrialState::Complete;
    t.metrics = Metrics::new().with("valid_acc", 90.66);
    t.score = Some(90.66);
    t.scores = vec![90.66];
    t.attrs.insert("rung".into(), json!(0));
    t.intermediate = vec![(12, 90.66)];
    s.update_trial(id, &t, None).unwrap();
    drop(s);
    // Fold the WAL into the main file so the fixture is one self-contained file.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "journal_mode", "DELETE").unwrap();
}

#[test]
fn every_old_schema_file_opens_and_reads() {
    for version in 1..=SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("old.db");
        std::fs::copy(fixture(version), &copy)
            .unwrap_or_else(|e| panic!("fixture of schema v{version}: {e}"));
        let mut s = SqliteStore::open(&copy).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let study = s.study("fixture").unwrap().expect("fixture study");
        assert_eq!(study.seed, 42);
        assert_eq!(study.objectives, vec![Objective::maximize("valid_acc")]);
        assert!(study.constraints.is_empty());
        let trials = s.trials(study.id).unwrap();
        assert_eq!(trials.len(), 1);
        assert_eq!(trials[0].score, Some(90.66));
        assert_eq!(trials[0].scores, vec![90.66], "v{version}");
        assert!(trials[0].feasible);
        assert_eq!(trials[0].violation, 0.0);
        assert_eq!(trials[0].intermediate, vec![(12, 90.66)]);
        assert_eq!(
            s.strategy_state(study.id).unwrap(),
            json!({"rng": [5, 6, 7, 8]})
        );
        // And it takes new trials.
        let seq = s.trials_since(study.id, 0).unwrap().seq;
        assert!(seq >= 1);
        s.add_trial(study.id, &legacy_trial(1), &json!("next"))
            .unwrap();
        let changes = s.trials_since(study.id, seq).unwrap();
        assert_eq!(changes.trials.len(), 1);
        assert!(changes.seq > seq);
    }
}

#[test]
fn a_file_from_a_newer_archer_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(c);
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

/// The study written by hand into v1 databases, minimising latency.
const LEGACY: &str = "legacy";

fn legacy_objective() -> Objective {
    Objective {
        metric: "latency_ms".into(),
        direction: Direction::Minimize,
    }
}

fn legacy_trial(n: u64) -> Trial {
    Trial::new(
        n,
        Arch::new("nb201", 1, vec![n as u16 % 5, 0, 1, 2, 3, 4]),
        format!("legacy{n}"),
        Fidelity::full(),
    )
}

/// One v1 trial row: (number, state, score, worker, attempts, error).
type V1Row = (
    i64,
    &'static str,
    Option<f64>,
    Option<&'static str>,
    i64,
    Option<&'static str>,
);

/// Every state of v1, a score that 15 significant digits would round, a negative one.
const V1_TRIALS: [V1Row; 6] = [
    (0, "COMPLETE", Some(0.1 + 0.2), Some("w0"), 1, None),
    (1, "PRUNED", None, Some("w0"), 1, None),
    (2, "FAILED", None, Some("w1"), 2, Some("boom")),
    (3, "RUNNING", None, Some("w1"), 1, None),
    (4, "WAITING", None, None, 0, None),
    (5, "COMPLETE", Some(-12.5), Some("w0"), 1, None),
];

/// The JSON columns of a v1 trial row: (arch, fidelity, metrics).
fn v1_json(n: i64) -> (String, String, String) {
    let t = legacy_trial(n as u64);
    let metrics = Metrics::new().with("latency_ms", 12.5 + n as f64);
    (
        serde_json::to_string(&t.arch).unwrap(),
        serde_json::to_string(&t.fidelity).unwrap(),
        serde_json::to_string(&metrics).unwrap(),
    )
}

/// Checks a migrated copy of the hand-written v1 study, then that it keeps working.
fn check_migrated(s: &mut dyn Store) {
    let study = s.study(LEGACY).unwrap().expect("legacy study");
    assert_eq!(study.objectives, vec![legacy_objective()]);
    assert!(study.constraints.is_empty());
    assert_eq!(s.strategy_state(study.id).unwrap(), json!({"v": 1}));
    assert_eq!(s.state_version(study.id).unwrap(), 0);
    let trials = s.trials(study.id).unwrap();
    assert_eq!(trials.len(), V1_TRIALS.len());
    for (t, &(n, state, score, worker, attempts, error)) in trials.iter().zip(&V1_TRIALS) {
        assert_eq!(t.id, n as u64);
        assert_eq!(t.state.as_str(), state);
        assert_eq!(t.score, score);
        let expect_scores: Vec<f64> = match (state, score) {
            ("COMPLETE", Some(x)) => vec![x],
            _ => vec![],
        };
        assert_eq!(t.scores, expect_scores, "trial {n}");
        assert!(t.feasible);
        assert_eq!(t.violation, 0.0);
        assert!(t.attrs.is_empty());
        assert_eq!(t.worker.as_deref(), worker);
        assert_eq!(i64::from(t.attempts), attempts);
        assert_eq!(t.error.as_deref(), error);
        assert_eq!(t.metrics.get("latency_ms"), Some(12.5 + n as f64));
    }
    assert_eq!(
        trials[0].scores,
        vec![0.30000000000000004],
        "exact, not rounded"
    );
    assert_eq!(trials[0].intermediate, vec![(1, 0.5), (2, 0.25)]);
    // Distinct sequence numbers, every trial after 0, the study's counter at the top.
    let all = s.trials_since(study.id, 0).unwrap();
    assert_eq!(all.trials, trials);
    let mut since = Vec::new();
    for n in 0..V1_TRIALS.len() as i64 {
        since.push(s.trials_since(study.id, n).unwrap().trials.len());
    }
    assert_eq!(
        since,
        vec![6, 5, 4, 3, 2, 1],
        "seqs are 1..=6 in number order"
    );
    assert_eq!(all.seq, V1_TRIALS.len() as i64);

    // It takes new trials, claims, PAUSED (the widened CHECK) and the new fencing rule.
    let next = legacy_trial(V1_TRIALS.len() as u64);
    s.add_trial(study.id, &next, &json!({"v": 2})).unwrap();
    assert_eq!(s.state_version(study.id).unwrap(), 1);
    let claimed = s.claim(study.id, "w2").unwrap().unwrap();
    assert_eq!((claimed.id, claimed.attempts), (4, 1));
    let mut paused = trials[3].clone();
    paused.state = TrialState::Paused;
    s.update_trial(study.id, &paused, None).unwrap();
    let changes = s.trials_since(study.id, all.seq).unwrap();
    let ids: Vec<u64> = changes.trials.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![3, 4, 6]);
    assert_eq!(changes.seq, all.seq + 3);
    assert_eq!(changes.trials[0].state, TrialState::Paused);
}

#[test]
fn a_v1_sqlite_file_migrates_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    std::fs::copy(fixture(1), &path).unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(
            c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            1
        );
        c.execute(
            "INSERT INTO studies (name, config_toml, seed, space, space_version, objective, strategy_state, created_at) \
             VALUES (?1, '', '7', 'nb201', 1, ?2, '{\"v\":1}', 1700000000.0)",
            rusqlite::params![LEGACY, serde_json::to_string(&legacy_objective()).unwrap()],
        )
        .unwrap();
        let study = c.last_insert_rowid();
        for &(n, state, score, worker, attempts, error) in &V1_TRIALS {
            let (arch, fidelity, metrics) = v1_json(n);
            c.execute(
                "INSERT INTO trials (study_id, number, state, arch, arch_hash, fidelity, metrics, score, error, \
                 cost_seconds, attempts, worker, started_at, finished_at, heartbeat_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1.5, ?10, ?11, NULL, NULL, 1700000000.0)",
                rusqlite::params![study, n, state, arch, format!("legacy{n}"), fidelity, metrics, score, error, attempts, worker],
            )
            .unwrap();
        }
        for (step, value) in [(1, 0.5), (2, 0.25)] {
            c.execute(
                "INSERT INTO trial_values (study_id, number, step, value) VALUES (?1, 0, ?2, ?3)",
                rusqlite::params![study, step, value],
            )
            .unwrap();
        }
    }
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    check_migrated(&mut s);
    // The fixture's own study migrated alongside, with its own sequence.
    let fixture_study = s.study("fixture").unwrap().unwrap();
    assert_eq!(s.trials_since(fixture_study.id, 0).unwrap().seq, 1);
    drop(s);
    // Foreign keys still hold and are still declared against the rebuilt table.
    let c = rusqlite::Connection::open(&path).unwrap();
    let broken: Option<String> = c
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .ok();
    assert_eq!(broken, None);
    let parent: String = c
        .query_row(
            "SELECT \"table\" FROM pragma_foreign_key_list('trial_values')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(parent, "trials");
}

fn postgres_url() -> String {
    std::env::var("ARCHER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/archer_test".into())
}

/// A fresh database, dropped again when this goes out of scope.
struct ScratchDatabase {
    admin: postgres::Client,
    name: String,
    url: String,
}

impl ScratchDatabase {
    fn create(prefix: &str) -> Self {
        let url = postgres_url();
        let (base, _) = url.rsplit_once('/').expect("URL ends in /database");
        let mut admin = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is required for these tests: {e}"));
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        );
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        ScratchDatabase {
            admin,
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ));
    }
}

#[test]
fn a_v1_postgres_database_migrates_every_trial() {
    let db = ScratchDatabase::create("archer_upgrade");
    {
        let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        let mut tx = c.transaction().unwrap();
        // What the v1 build did: its schema, its version table, a session search path.
        tx.batch_execute("CREATE SCHEMA archer; SET LOCAL search_path TO archer")
            .unwrap();
        tx.batch_execute(archer_store::postgres_v1_schema_sql())
            .unwrap();
        tx.batch_execute(
            "CREATE TABLE archer_schema (version BIGINT NOT NULL); INSERT INTO archer_schema VALUES (1)",
        )
        .unwrap();
        let study: i64 = tx
            .query_one(
                "INSERT INTO studies (name, config_toml, seed, space, space_version, objective, strategy_state, created_at) \
                 VALUES ($1, '', '7', 'nb201', 1, $2, '{\"v\":1}', 1700000000.0) RETURNING id",
                &[&LEGACY, &serde_json::to_string(&legacy_objective()).unwrap()],
            )
            .unwrap()
            .get(0);
        for &(n, state, score, worker, attempts, error) in &V1_TRIALS {
            let (arch, fidelity, metrics) = v1_json(n);
            tx.execute(
                "INSERT INTO trials (study_id, number, state, arch, arch_hash, fidelity, metrics, score, error, \
                 cost_seconds, attempts, worker, started_at, finished_at, heartbeat_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1.5, $10, $11, NULL, NULL, 1700000000.0)",
                &[&study, &n, &state, &arch, &format!("legacy{n}"), &fidelity, &metrics, &score, &error, &attempts, &worker],
            )
            .unwrap();
        }
        for (step, value) in [(1i64, 0.5f64), (2, 0.25)] {
            tx.execute(
                "INSERT INTO trial_values (study_id, number, step, value) VALUES ($1, 0, $2, $3)",
                &[&study, &step, &value],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let mut s = PostgresStore::connect(&db.url).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    check_migrated(&mut s);
    // Opening again is a no-op.
    drop(s);
    let mut again = PostgresStore::connect(&db.url).unwrap();
    assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
    let study = again.study(LEGACY).unwrap().unwrap().id;
    assert_eq!(again.trials(study).unwrap().len(), V1_TRIALS.len() + 1);
}

#[test]
fn a_postgres_database_from_a_newer_archer_is_refused_clearly() {
    let db = ScratchDatabase::create("archer_too_new");
    {
        let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        c.batch_execute(&format!(
            "CREATE SCHEMA archer; CREATE TABLE archer.archer_schema (version BIGINT NOT NULL); \
             INSERT INTO archer.archer_schema VALUES ({})",
            SCHEMA_VERSION + 1
        ))
        .unwrap();
    }
    let err = PostgresStore::connect(&db.url).err().unwrap();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

/// The read-only open (the dashboard's) reads the current schema as it is and refuses an
/// older one with the way out, leaving the file untouched; it never creates a file.
#[test]
fn a_read_only_open_never_migrates_or_creates() {
    let tmp = tempfile::tempdir().unwrap();
    for version in [1, SCHEMA_VERSION] {
        let copy = tmp.path().join(format!("v{version}.db"));
        std::fs::copy(fixture(version), &copy).unwrap();
        let before = std::fs::read(&copy).unwrap();
        match SqliteStore::open_read_only(&copy) {
            Ok(mut s) => {
                assert_eq!(version, SCHEMA_VERSION);
                let study = s.study("fixture").unwrap().unwrap();
                assert_eq!(s.trials_since(study.id, 0).unwrap().trials.len(), 1);
            }
            Err(e) => {
                assert!(version < SCHEMA_VERSION, "{e}");
                assert!(e.to_string().contains("archer status"), "{e}");
            }
        }
        assert!(
            std::fs::read(&copy).unwrap() == before,
            "v{version} was changed"
        );
    }
    let missing = tmp.path().join("none.db");
    assert!(SqliteStore::open_read_only(&missing).is_err());
    assert!(!missing.exists());
}
