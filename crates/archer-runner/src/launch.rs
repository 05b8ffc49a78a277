//! Starting and resuming studies in an experiment folder.

use archer_store::Store;
use serde_json::Value;

use crate::{
    DirRecorder, Experiment, ExperimentConfig, ExperimentDir, Overrides, Recorder, RunError, Study,
    RUN_FILE, STORE_FILE,
};

/// Opens the store named by `storage`: a PostgreSQL URL, or (None) the folder's SQLite file.
pub fn open_store(dir: &ExperimentDir, storage: Option<&str>) -> Result<Box<dyn Store>, RunError> {
    match storage {
        Some(url) if !archer_store::is_postgres_url(url) => Err(RunError::io(
            dir.path(),
            format!(
                "--storage {:?}: give a postgres:// URL, or omit it for the folder's SQLite file",
                archer_store::redact_url(url)
            ),
        )),
        Some(url) => Ok(archer_store::open(url)?),
        None => Ok(archer_store::open(&dir.sqlite_path().to_string_lossy())?),
    }
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

fn run_record(dir: &ExperimentDir) -> Result<Value, RunError> {
    let run_path = dir.path().join(RUN_FILE);
    std::fs::read_to_string(&run_path)
        .map_err(|e| RunError::io(&run_path, e))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| RunError::io(&run_path, e)))
}

/// The PostgreSQL URL of a folder whose study lives there (None for its own SQLite file).
pub fn stored_url(dir: &ExperimentDir) -> Result<Option<String>, RunError> {
    let run = run_record(dir)?;
    Ok(run["storage"]
        .as_str()
        .filter(|s| *s != STORE_FILE)
        .map(String::from))
}

/// The study name a folder records.
pub fn study_name(dir: &ExperimentDir) -> Result<String, RunError> {
    run_record(dir)?["study"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| RunError::io(dir.path().join(RUN_FILE), "no `study` entry"))
}

/// The study of an existing folder, ready to continue. Only `workers` may be changed.
pub fn reopen(
    dir: &ExperimentDir,
    overrides: &Overrides,
) -> Result<(Study, DirRecorder), RunError> {
    let run = run_record(dir)?;
    let (Some(name), Some(storage)) = (run["study"].as_str(), run["storage"].as_str()) else {
        return Err(RunError::io(
            dir.path().join(RUN_FILE),
            "no `study` or `storage` entry",
        ));
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

/// Seconds since the Unix epoch, as the store records times.
pub fn unix_now() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// This process's worker name: `host-pid`.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    format!("{host}-{}", std::process::id())
}

/// A worker for the study `name` in the PostgreSQL store at `url`; the experiment is
/// rebuilt from the configuration stored with the study (its data paths must exist here).
pub fn worker(url: &str, name: &str, id: String) -> Result<crate::worker::Worker, RunError> {
    let mut store: Box<dyn Store> = Box::new(archer_store::connect_postgres(url)?);
    let heartbeat: Box<dyn Store> = Box::new(archer_store::connect_postgres(url)?);
    let record = store.study(name)?.ok_or_else(|| {
        RunError::io(
            archer_store::redact_url(url),
            format!("no study {name:?} in this store"),
        )
    })?;
    let config = ExperimentConfig::from_saved(
        &record.config_toml,
        &format!("{} (study {name})", archer_store::redact_url(url)),
    )?;
    crate::worker::Worker::new(config.validate()?, store, heartbeat, record, id)
}

/// Writes the folder's exports for a study that workers finished.
pub fn export_finished(
    experiment: Experiment,
    dir: &ExperimentDir,
    url: &str,
    stop: crate::StopReason,
) -> Result<crate::StudySummary, RunError> {
    let mut store: Box<dyn Store> = Box::new(archer_store::connect_postgres(url)?);
    let name = experiment.config.study.name.clone();
    let record = store.study(&name)?.ok_or_else(|| {
        RunError::io(
            archer_store::redact_url(url),
            format!("no study {name:?} in this store"),
        )
    })?;
    let mut recorder = DirRecorder::new(dir.path(), url);
    Study::load(experiment, store, &record)?.export(&mut recorder, stop)
}
