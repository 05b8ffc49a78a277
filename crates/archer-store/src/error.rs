use thiserror::Error;

/// Why a store operation failed. Database errors carry the backend's message.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open store {location}: {reason}")]
    Open { location: String, reason: String },
    #[error("{backend} error: {reason}")]
    Database {
        backend: &'static str,
        reason: String,
    },
    #[error("study {0:?} already exists in this store")]
    StudyExists(String),
    #[error("no study with id {0} in this store")]
    NoSuchStudy(i64),
    #[error("trial {number} of study {study} does not exist")]
    NoSuchTrial { study: i64, number: u64 },
    #[error("trial {number} of study {study} is already {state} and cannot change")]
    TrialFinished {
        study: i64,
        number: u64,
        state: String,
    },
    #[error("trial {number} of study {study} is held by worker {holder:?}, not {worker:?}")]
    NotHolder {
        study: i64,
        number: u64,
        holder: String,
        worker: String,
    },
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    #[error("the store's schema version {found} is newer than this build's ({supported}); upgrade archer")]
    TooNew { found: i64, supported: i64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database {
            backend: "sqlite",
            reason: e.to_string(),
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // `Display` of a server error omits its detail; the Debug form names the SQL state.
        let reason = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => e.to_string(),
        };
        StoreError::Database {
            backend: "postgres",
            reason,
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
