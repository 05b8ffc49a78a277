//! The PostgreSQL store: a [`PgSession`] that is re-established when its connection is lost.

use std::time::{Duration, Instant};

use archer_core::Trial;

use crate::postgres_session::PgSession;
use crate::{NewStudy, Store, StoreError, StudyId, StudyRecord, TrialChanges};

/// The multi-machine store, in the `archer` schema of the given database.
///
/// A lost connection (a database restart, a network cut) is reported once, as
/// [`StoreError::Disconnected`], by the operation that met it. That operation's transaction
/// did not commit, unless the connection went after the commit and before its
/// acknowledgement. The next operation reconnects, trying for up to the reconnect window
/// (`with_reconnect_window`), and fails with [`StoreError::Open`] if the server stays away.
/// A session advisory lock (`lock_study`) held across the loss is gone with the old
/// connection.
pub struct PostgresStore {
    session: PgSession,
    /// The URL as connected (with its password), kept to reconnect.
    url: String,
    reconnect_window: Duration,
    /// The last operation lost the connection (the socket may not look closed yet).
    lost: bool,
}

impl PostgresStore {
    /// How long an operation after a lost connection keeps trying to reconnect by default:
    /// long enough for a database restart.
    pub const DEFAULT_RECONNECT_WINDOW: Duration = Duration::from_secs(120);

    /// Connects (`postgres://user@host:port/database`) and brings the schema up to date.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(PostgresStore {
            session: PgSession::open(url)?,
            url: url.to_string(),
            reconnect_window: Self::DEFAULT_RECONNECT_WINDOW,
            lost: false,
        })
    }

    /// Sets how long an operation after a lost connection keeps trying to reconnect.
    pub fn with_reconnect_window(mut self, window: Duration) -> Self {
        self.reconnect_window = window;
        self
    }

    /// The schema version of the connected database.
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        self.run(|s| s.schema_version())
    }

    /// The session, re-established first if the last one was lost: attempts with a doubling
    /// pause (0.1 s to 5 s) until the reconnect window has passed.
    fn session(&mut self) -> Result<&mut PgSession, StoreError> {
        if self.lost || self.session.is_closed() {
            let deadline = Instant::now() + self.reconnect_window;
            let mut pause = Duration::from_millis(100);
            self.session = loop {
                match PgSession::open(&self.url) {
                    Ok(session) => break session,
                    Err(_) if Instant::now() + pause < deadline => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                    Err(e) => {
                        return Err(StoreError::Open {
                            location: crate::redact_url(&self.url),
                            reason: format!(
                                "the connection was lost, and reconnecting failed for {:.0} s: {e}",
                                self.reconnect_window.as_secs_f64()
                            ),
                        })
                    }
                }
            };
            self.lost = false;
        }
        Ok(&mut self.session)
    }

    /// Runs `op` on the live session, noting a lost connection for the next operation.
    fn run<T>(
        &mut self,
        op: impl FnOnce(&mut PgSession) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = op(self.session()?);
        if matches!(result, Err(StoreError::Disconnected { .. })) {
            self.lost = true;
        }
        result
    }
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_study(&mut self, study: &NewStudy) -> Result<StudyRecord, StoreError> {
        self.run(|s| s.create_study(study))
    }

    fn study(&mut self, name: &str) -> Result<Option<StudyRecord>, StoreError> {
        self.run(|s| s.study(name))
    }

    fn studies(&mut self) -> Result<Vec<StudyRecord>, StoreError> {
        self.run(|s| s.studies())
    }

    fn trials(&mut self, study: StudyId) -> Result<Vec<Trial>, StoreError> {
        self.run(|s| s.trials(study))
    }

    fn trials_since(&mut self, study: StudyId, after_seq: i64) -> Result<TrialChanges, StoreError> {
        self.run(|s| s.trials_since(study, after_seq))
    }

    fn strategy_state(&mut self, study: StudyId) -> Result<serde_json::Value, StoreError> {
        self.run(|s| s.strategy_state(study))
    }

    fn state_version(&mut self, study: StudyId) -> Result<i64, StoreError> {
        self.run(|s| s.state_version(study))
    }

    fn add_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.run(|s| s.add_trial(study, trial, strategy_state))
    }

    fn update_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        self.run(|s| s.update_trial(study, trial, strategy_state))
    }

    fn report_intermediate(
        &mut self,
        study: StudyId,
        trial: &Trial,
        step: u32,
        value: f64,
    ) -> Result<(), StoreError> {
        self.run(|s| s.report_intermediate(study, trial, step, value))
    }

    fn claim(&mut self, study: StudyId, worker: &str) -> Result<Option<Trial>, StoreError> {
        self.run(|s| s.claim(study, worker))
    }

    fn heartbeat(
        &mut self,
        study: StudyId,
        number: u64,
        worker: &str,
        attempt: u32,
    ) -> Result<bool, StoreError> {
        self.run(|s| s.heartbeat(study, number, worker, attempt))
    }

    fn requeue_stale(
        &mut self,
        study: StudyId,
        grace_seconds: f64,
        max_attempts: u32,
    ) -> Result<Vec<u64>, StoreError> {
        self.run(|s| s.requeue_stale(study, grace_seconds, max_attempts))
    }

    fn lock_study(&mut self, study: StudyId) -> Result<(), StoreError> {
        self.run(|s| s.lock_study(study))
    }

    fn unlock_study(&mut self, study: StudyId) -> Result<(), StoreError> {
        self.run(|s| s.unlock_study(study))
    }

    fn finish_study(&mut self, study: StudyId, stop_reason: &str) -> Result<(), StoreError> {
        self.run(|s| s.finish_study(study, stop_reason))
    }
}
