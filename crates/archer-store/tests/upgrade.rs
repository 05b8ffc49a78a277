//! Old database files stay readable: each schema version's file is kept in
//! `fixtures/store/` and opened by the current build.

use std::path::{Path, PathBuf};

use archer_core::{Arch, Fidelity, Metrics, Objective, Trial, TrialState};
use archer_store::{NewStudy, SqliteStore, Store, SCHEMA_VERSION};

fn fixture(version: i64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/store/sqlite-v{version}.db"))
}

/// Regenerates the fixture of the current schema version; run once when a version is added:
/// `cargo test -p archer-store --test upgrade -- --ignored`.
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
            objective: Objective::maximize("valid_acc"),
            strategy_state: serde_json::json!({"rng": [1, 2, 3, 4]}),
        })
        .unwrap()
        .id;
    let mut t = Trial::new(
        0,
        Arch::new("nb201", 1, vec![3, 0, 3, 1, 0, 1]),
        "abc".into(),
        Fidelity::full(),
    );
    s.add_trial(id, &t, &serde_json::json!({"rng": [5, 6, 7, 8]}))
        .unwrap();
    t.state = TrialState::Complete;
    t.metrics = Metrics::new().with("valid_acc", 90.66);
    t.score = Some(90.66);
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
        std::fs::copy(fixture(version), &copy).unwrap();
        let mut s = SqliteStore::open(&copy).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let study = s.study("fixture").unwrap().expect("fixture study");
        assert_eq!(study.seed, 42);
        let trials = s.trials(study.id).unwrap();
        assert_eq!(trials.len(), 1);
        assert_eq!(trials[0].score, Some(90.66));
        assert_eq!(trials[0].intermediate, vec![(12, 90.66)]);
        assert_eq!(
            s.strategy_state(study.id).unwrap(),
            serde_json::json!({"rng": [5, 6, 7, 8]})
        );
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
