//! Starting and resuming studies in an experiment folder.

use archer_store::{PostgresStore, SqliteStore, Store};
use serde_json::Value;

use crate::{
    DirRecorder, Experiment, ExperimentConfig, ExperimentDir, Overrides, Recorder, RunError, Study,
    RUN_FILE, STORE_FILE,
};

/// Opens the store named by `storage`: a PostgreSQL URL, or (None) the folder's SQLite file.
pub fn open_store(dir: &ExperimentDir, storage: Option<&str>) -> Result<Box<dyn Store>, RunError> {
    Ok(match storage {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Box::new(PostgresStore::connect(url)?),
        Some(other) => {
            return Err(RunError::io(
                dir.path(),
                format!("--storage {other:?}: give a postgres:// URL, or omit it for the folder's SQLite file"),
            ))
        }
        None => Box::new(SqliteStore::open(&dir.sqlite_path())?),
    })
}

/// A new study in a new folder. `experiment.toml` and `run.json` are written before the
/// store is touched, so a folder killed at any moment can be resumed.
pub fn start(
    experiment: Experiment,
    dir: &ExperimentDir,
    storage: Option<&str>,
) -> Result<(Study, DirRecorder), RunError> {
    let mut recorder = DirRecorder::new(dir.path(), storage.unwrap_or(STORE_FILE));
    recorder.begin(&experiment)?;
    let store = open_store(dir, storage)?;
    Ok((Study::create(experiment, store)?, recorder))
}

/// The study of an existing folder, ready to continue. Only `workers` may be changed.
pub fn reopen(
    dir: &ExperimentDir,
    overrides: &Overrides,
) -> Result<(Study, DirRecorder), RunError> {
    let run_path = dir.path().join(RUN_FILE);
    let run: Value = std::fs::read_to_string(&run_path)
        .map_err(|e| RunError::io(&run_path, e))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| RunError::io(&run_path, e)))?;
    let (Some(name), Some(storage)) = (run["study"].as_str(), run["storage"].as_str()) else {
        return Err(RunError::io(&run_path, "no `study` or `storage` entry"));
    };
    let url = (storage != STORE_FILE).then_some(storage);
    let mut store = open_store(dir, url)?;
    let recorder = DirRecorder::new(dir.path(), storage);
    let with_workers = |mut config: ExperimentConfig| {
        if let Some(w) = overrides.workers {
            config.study.workers = w;
        }
        config
    };
    let Some(record) = store.study(name)? else {
        // Killed before the study reached its store: nothing ran yet, start it afresh.
        let config = with_workers(ExperimentConfig::from_file(
            &dir.path().join("experiment.toml"),
        )?);
        return Ok((Study::create(config.validate()?, store)?, recorder));
    };
    let config = with_workers(ExperimentConfig::from_saved(
        &record.config_toml,
        &format!("{storage} (study {name})"),
    )?);
    Ok((Study::resume(config.validate()?, store, &record)?, recorder))
}
