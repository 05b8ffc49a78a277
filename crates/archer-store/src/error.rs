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
    /// The connection to the database server was lost during the operation (a restart, a
    /// network cut): the operation may be retried, and the store reconnects first.
    #[error("lost the connection to the {backend} server: {reason}")]
    Disconnected {
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
    /// The trial is not RUNNING under the caller's claim: another worker or another attempt
    /// holds it (fencing), or, for a per-step report, it is not RUNNING at all.
    #[error("trial {number} of study {study} is {state} under worker {holder:?} attempt {holder_attempt}, not under {worker:?} attempt {attempt}")]
    NotHolder {
        study: i64,
        number: u64,
        /// The stored state.
        state: String,
        /// The stored worker ("" when none).
        holder: String,
        /// The stored attempt count.
        holder_attempt: u32,
        /// The caller's `trial.worker` ("" when none).
        worker: String,
        /// The caller's `trial.attempts`.
        attempt: u32,
    },
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    #[error("the store's schema version {found} is newer than this build's ({supported}); upgrade archer")]
    TooNew { found: i64, supported: i64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // A value of the wrong type or range in a column is bad data, not a database failure.
        if matches!(
            e,
            rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
        ) {
            return StoreError::Corrupt(e.to_string());
        }
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
        // SQL states 08xxx (connection exception) and 57P0x (the server shutting down or
        // terminating the session), or a closed socket, mean the connection is gone.
        let code = e.code().map(|c| c.code());
        let lost = e.is_closed()
            || code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
            || (code.is_none()
                && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()));
        if lost {
            return StoreError::Disconnected {
                backend: "postgres",
                reason,
            };
        }
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
