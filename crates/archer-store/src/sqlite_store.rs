use std::path::Path;
use std::time::Duration;

use archer_core::Trial;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::codec::{
    assemble, check_update, crash_attempts, int, json, lost_worker_error, mark_lost, now, Change,
    Stored, TrialRow, TRIAL_COLUMNS,
};
use crate::{NewStudy, Store, StoreError, StudyId, StudyRecord, TrialChanges, SCHEMA_VERSION};

/// One migration per schema version; `MIGRATIONS[v - 1]` brings a file from v-1 to v, in the
/// same transaction as [`after_migration`]'s step for v. Old database files are kept as
/// upgrade fixtures in `fixtures/store/`. Migrations run with foreign keys off (SQLite's
/// procedure for rebuilding a table), checked before commit.
const MIGRATIONS: [&str; 2] = [
    r#"
CREATE TABLE studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    config_toml TEXT NOT NULL,
    seed TEXT NOT NULL,
    space TEXT NOT NULL,
    space_version INTEGER NOT NULL,
    objective TEXT NOT NULL,
    strategy_state TEXT NOT NULL,
    created_at REAL NOT NULL,
    stop_reason TEXT
);
CREATE TABLE trials (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED')),
    arch TEXT NOT NULL,
    arch_hash TEXT NOT NULL,
    fidelity TEXT NOT NULL,
    metrics TEXT NOT NULL,
    score REAL,
    error TEXT,
    cost_seconds REAL NOT NULL,
    attempts INTEGER NOT NULL,
    worker TEXT,
    started_at REAL,
    finished_at REAL,
    heartbeat_at REAL,
    PRIMARY KEY (study_id, number)
);
CREATE INDEX trials_by_state ON trials (study_id, state, number);
CREATE TABLE trial_values (
    study_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    step INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (study_id, number, step),
    FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
);
"#,
    // v2: objectives and constraints replace the objective; the change sequence and the
    // strategy-state version; new trial columns and the PAUSED state (a CHECK constraint
    // changes only by rebuilding the table). `scores` is filled in by `after_migration`.
    r#"
ALTER TABLE studies ADD COLUMN objectives TEXT NOT NULL DEFAULT '[]';
ALTER TABLE studies ADD COLUMN constraints TEXT NOT NULL DEFAULT '[]';
ALTER TABLE studies ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE studies ADD COLUMN state_version INTEGER NOT NULL DEFAULT 0;
UPDATE studies SET objectives = '[' || objective || ']';
ALTER TABLE studies DROP COLUMN objective;
CREATE TABLE trials_v2 (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('WAITING', 'RUNNING', 'PAUSED', 'COMPLETE', 'PRUNED', 'FAILED')),
    arch TEXT NOT NULL,
    arch_hash TEXT NOT NULL,
    fidelity TEXT NOT NULL,
    metrics TEXT NOT NULL,
    score REAL,
    scores TEXT NOT NULL DEFAULT '[]',
    feasible INTEGER NOT NULL DEFAULT 1 CHECK (feasible IN (0, 1)),
    violation REAL NOT NULL DEFAULT 0,
    attrs TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    cost_seconds REAL NOT NULL,
    attempts INTEGER NOT NULL,
    worker TEXT,
    started_at REAL,
    finished_at REAL,
    heartbeat_at REAL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (study_id, number)
);
INSERT INTO trials_v2 (study_id, number, state, arch, arch_hash, fidelity, metrics, score, error,
    cost_seconds, attempts, worker, started_at, finished_at, heartbeat_at, seq)
SELECT study_id, number, state, arch, arch_hash, fidelity, metrics, score, error,
    cost_seconds, attempts, worker, started_at, finished_at, heartbeat_at, number + 1
FROM trials;
DROP TABLE trials;
ALTER TABLE trials_v2 RENAME TO trials;
CREATE INDEX trials_by_state ON trials (study_id, state, number);
CREATE INDEX trials_by_seq ON trials (study_id, seq);
UPDATE studies SET seq = (SELECT COALESCE(MAX(t.seq), 0) FROM trials t WHERE t.study_id = studies.id);
"#,
];

/// The Rust half of migration `to` (run right after `MIGRATIONS[to - 1]`, same transaction).
fn after_migration(tx: &Connection, to: usize) -> Result<(), StoreError> {
    if to == 2 {
        // A v1 COMPLETE trial's score is its one objective's score. Written from Rust:
        // SQLite's own REAL-to-text conversion keeps only 15 digits.
        let scored: Vec<(i64, i64, f64)> = {
            let mut stmt = tx.prepare(
                "SELECT study_id, number, score FROM trials WHERE state = 'COMPLETE' AND score IS NOT NULL",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            rows
        };
        let mut stmt =
            tx.prepare("UPDATE trials SET scores = ?3 WHERE study_id = ?1 AND number = ?2")?;
        for (study, number, score) in scored {
            stmt.execute(params![study, number, serde_json::to_string(&[score])?])?;
        }
    }
    Ok(())
}

/// The embedded store: one SQLite file in WAL mode. Several processes may open the same
/// file; writes take SQLite's write lock (`BEGIN IMMEDIATE`), waiting up to 30 s for it,
/// so every write of a study is serialised and change sequence numbers follow commit order.
pub struct SqliteStore {
    conn: Connection,
    path: std::path::PathBuf,
    /// The open lock file while `lock_study` holds it.
    study_lock: Option<std::fs::File>,
}

fn row_to_trial_row(r: &rusqlite::Row) -> rusqlite::Result<TrialRow> {
    Ok(TrialRow {
        number: r.get(0)?,
        state: r.get(1)?,
        arch: r.get(2)?,
        arch_hash: r.get(3)?,
        fidelity: r.get(4)?,
        metrics: r.get(5)?,
        score: r.get(6)?,
        scores: r.get(7)?,
        feasible: r.get(8)?,
        violation: r.get(9)?,
        attrs: r.get(10)?,
        error: r.get(11)?,
        cost_seconds: r.get(12)?,
        attempts: r.get(13)?,
        worker: r.get(14)?,
        started_at: r.get(15)?,
        finished_at: r.get(16)?,
    })
}

fn study_from_row(r: &rusqlite::Row) -> rusqlite::Result<StudyTuple> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

/// The columns of [`STUDY_COLUMNS`], in order.
type StudyTuple = (
    StudyId,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    f64,
    Option<String>,
);

fn study_record(t: StudyTuple) -> Result<StudyRecord, StoreError> {
    let (
        id,
        name,
        config_toml,
        seed,
        space,
        space_version,
        objectives,
        constraints,
        created_at,
        stop_reason,
    ) = t;
    Ok(StudyRecord {
        id,
        name,
        config_toml,
        seed: seed
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("study {id} seed {seed:?}")))?,
        space,
        space_version: int(&format!("study {id} space_version"), space_version)?,
        objectives: json(&format!("study {id} objectives"), &objectives)?,
        constraints: json(&format!("study {id} constraints"), &constraints)?,
        created_at,
        stop_reason,
    })
}

const STUDY_COLUMNS: &str = "id, name, config_toml, seed, space, space_version, objectives, constraints, created_at, stop_reason";

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            location: path.display().to_string(),
            reason: e.to_string(),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(open_err)?;
        // WAL: readers never block the writer. synchronous=NORMAL keeps every committed
        // transaction through a process crash (kill -9); only an OS crash may lose the last
        // few, never corrupting the file.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        // Off while migrating (a table rebuild), on for everything else.
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(open_err)?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            study_lock: None,
        };
        store.migrate().map_err(|e| match e {
            StoreError::Database { reason, .. } => StoreError::Open {
                location: path.display().to_string(),
                reason,
            },
            other => other,
        })?;
        store
            .conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        Ok(store)
    }

    /// Opens an existing database for reading only (the dashboard): nothing is created,
    /// migrated or written. A file of another schema version is an error that says how to
    /// bring it up to date.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            location: path.display().to_string(),
            reason,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| open_err(e.to_string()))?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            study_lock: None,
        };
        let version = store
            .schema_version()
            .map_err(|e| open_err(e.to_string()))?;
        if version != SCHEMA_VERSION {
            return Err(open_err(format!(
                "schema version {version}; this build reads {SCHEMA_VERSION} (`archer status` on \
                 its folder brings it up to date once)"
            )));
        }
        Ok(store)
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let start = usize::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {version}")))?;
        if start == MIGRATIONS.len() {
            return Ok(());
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
            tx.execute_batch(sql)?;
            after_migration(&tx, i + 1)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(StoreError::Corrupt(format!(
                "a row of table {table} refers to a missing row"
            )));
        }
        tx.commit()?;
        Ok(())
    }

    /// Trials with a sequence number above `after_seq`, read within `tx`.
    fn load_trials(
        tx: &Connection,
        study: StudyId,
        after_seq: i64,
    ) -> Result<Vec<Trial>, StoreError> {
        let rows = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {TRIAL_COLUMNS} FROM trials WHERE study_id = ?1 AND seq > ?2 ORDER BY number"
            ))?;
            let rows = stmt
                .query_map(params![study, after_seq], row_to_trial_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        let mut stmt = tx.prepare_cached(
            "SELECT v.number, v.step, v.value FROM trial_values v \
             JOIN trials t ON t.study_id = v.study_id AND t.number = v.number \
             WHERE v.study_id = ?1 AND t.seq > ?2 ORDER BY v.number, v.step",
        )?;
        let values = stmt
            .query_map(params![study, after_seq], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        assemble(rows, values)
    }

    fn load_trial(tx: &Connection, study: StudyId, number: i64) -> Result<Trial, StoreError> {
        let row = tx.query_row(
            &format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE study_id = ?1 AND number = ?2"),
            params![study, number],
            row_to_trial_row,
        )?;
        let mut stmt = tx.prepare_cached(
            "SELECT number, step, value FROM trial_values WHERE study_id = ?1 AND number = ?2 ORDER BY step",
        )?;
        let values = stmt
            .query_map(params![study, number], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        assemble(vec![row], values)?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("trial vanished while read".into()))
    }

    /// What [`check_update`] needs of the stored trial.
    fn stored(tx: &Connection, study: StudyId, number: u64) -> Result<Stored, StoreError> {
        tx.query_row(
            "SELECT state, worker, attempts, attrs FROM trials WHERE study_id = ?1 AND number = ?2",
            params![study, number as i64],
            |r| {
                Ok(Stored {
                    state: r.get(0)?,
                    worker: r.get(1)?,
                    attempts: r.get(2)?,
                    attrs: r.get(3)?,
                })
            },
        )
        .optional()?
        .ok_or(StoreError::NoSuchTrial { study, number })
    }

    /// The study's next change sequence number (taken: the counter moves on).
    fn next_seq(tx: &Connection, study: StudyId) -> Result<i64, StoreError> {
        tx.query_row(
            "UPDATE studies SET seq = seq + 1 WHERE id = ?1 RETURNING seq",
            params![study],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::NoSuchStudy(study))
    }

    fn set_seq(tx: &Connection, study: StudyId, number: i64) -> Result<(), StoreError> {
        let seq = Self::next_seq(tx, study)?;
        tx.execute(
            "UPDATE trials SET seq = ?3 WHERE study_id = ?1 AND number = ?2",
            params![study, number, seq],
        )?;
        Ok(())
    }

    fn write_values(tx: &Connection, study: StudyId, trial: &Trial) -> Result<(), StoreError> {
        tx.execute(
            "DELETE FROM trial_values WHERE study_id = ?1 AND number = ?2",
            params![study, trial.id as i64],
        )?;
        let mut stmt = tx.prepare_cached(
            "INSERT INTO trial_values (study_id, number, step, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for &(step, value) in &trial.intermediate {
            stmt.execute(params![study, trial.id as i64, i64::from(step), value])?;
        }
        Ok(())
    }

    fn save_state(
        tx: &Connection,
        study: StudyId,
        state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let n = tx.execute(
            "UPDATE studies SET strategy_state = ?1, state_version = state_version + 1 WHERE id = ?2",
            params![serde_json::to_string(state)?, study],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchStudy(study));
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn create_study(&mut self, s: &NewStudy) -> Result<StudyRecord, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT id FROM studies WHERE name = ?1",
                params![s.name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::StudyExists(s.name.clone()));
        }
        tx.execute(
            "INSERT INTO studies (name, config_toml, seed, space, space_version, objectives, constraints, strategy_state, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                s.name,
                s.config_toml,
                s.seed.to_string(),
                s.space,
                s.space_version,
                serde_json::to_string(&s.objectives)?,
                serde_json::to_string(&s.constraints)?,
                serde_json::to_string(&s.strategy_state)?,
                now()
            ],
        )?;
        tx.commit()?;
        self.study(&s.name)?
            .ok_or_else(|| StoreError::Corrupt("study vanished after insert".into()))
    }

    fn study(&mut self, name: &str) -> Result<Option<StudyRecord>, StoreError> {
        let t = self
            .conn
            .query_row(
                &format!("SELECT {STUDY_COLUMNS} FROM studies WHERE name = ?1"),
                params![name],
                study_from_row,
            )
            .optional()?;
        t.map(study_record).transpose()
    }

    fn studies(&mut self) -> Result<Vec<StudyRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {STUDY_COLUMNS} FROM studies ORDER BY id"))?;
        let rows = stmt
            .query_map([], study_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(study_record).collect()
    }

    fn trials(&mut self, study: StudyId) -> Result<Vec<Trial>, StoreError> {
        let tx = self.conn.transaction()?;
        let trials = Self::load_trials(&tx, study, i64::MIN)?;
        tx.commit()?;
        Ok(trials)
    }

    fn trials_since(&mut self, study: StudyId, after_seq: i64) -> Result<TrialChanges, StoreError> {
        // One read transaction: one WAL snapshot for the counter and the rows.
        let tx = self.conn.transaction()?;
        let seq: i64 = tx
            .query_row(
                "SELECT seq FROM studies WHERE id = ?1",
                params![study],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NoSuchStudy(study))?;
        let trials = Self::load_trials(&tx, study, after_seq)?;
        tx.commit()?;
        Ok(TrialChanges { trials, seq })
    }

    fn strategy_state(&mut self, study: StudyId) -> Result<serde_json::Value, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT strategy_state FROM studies WHERE id = ?1",
                params![study],
                |r| r.get(0),
            )
            .optional()?;
        json(
            &format!("study {study} strategy_state"),
            &text.ok_or(StoreError::NoSuchStudy(study))?,
        )
    }

    fn state_version(&mut self, study: StudyId) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT state_version FROM studies WHERE id = ?1",
                params![study],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NoSuchStudy(study))
    }

    fn add_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let r = TrialRow::from_trial(trial)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next: i64 = tx.query_row(
            "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?1",
            params![study],
            |r| r.get(0),
        )?;
        if r.number != next {
            return Err(StoreError::Corrupt(format!(
                "trial number {} is not the next one ({next})",
                trial.id
            )));
        }
        let seq = Self::next_seq(&tx, study)?;
        tx.execute(
            &format!(
                "INSERT INTO trials ({TRIAL_COLUMNS}, study_id, heartbeat_at, seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ),
            params![
                r.number, r.state, r.arch, r.arch_hash, r.fidelity, r.metrics, r.score, r.scores,
                r.feasible, r.violation, r.attrs, r.error, r.cost_seconds, r.attempts, r.worker,
                r.started_at, r.finished_at, study, now(), seq
            ],
        )?;
        Self::write_values(&tx, study, trial)?;
        Self::save_state(&tx, study, strategy_state)?;
        tx.commit()?;
        Ok(())
    }

    fn update_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let r = TrialRow::from_trial(trial)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored = Self::stored(&tx, study, trial.id)?;
        check_update(study, trial, &stored, Change::Replace)?;
        let seq = Self::next_seq(&tx, study)?;
        tx.execute(
            "UPDATE trials SET state = ?3, arch = ?4, arch_hash = ?5, fidelity = ?6, metrics = ?7, score = ?8, \
             scores = ?9, feasible = ?10, violation = ?11, attrs = ?12, error = ?13, cost_seconds = ?14, \
             attempts = ?15, worker = ?16, started_at = ?17, finished_at = ?18, heartbeat_at = ?19, seq = ?20 \
             WHERE study_id = ?1 AND number = ?2",
            params![
                study, r.number, r.state, r.arch, r.arch_hash, r.fidelity, r.metrics, r.score,
                r.scores, r.feasible, r.violation, r.attrs, r.error, r.cost_seconds, r.attempts,
                r.worker, r.started_at, r.finished_at, now(), seq
            ],
        )?;
        Self::write_values(&tx, study, trial)?;
        if let Some(s) = strategy_state {
            Self::save_state(&tx, study, s)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn report_intermediate(
        &mut self,
        study: StudyId,
        trial: &Trial,
        step: u32,
        value: f64,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored = Self::stored(&tx, study, trial.id)?;
        check_update(study, trial, &stored, Change::Report)?;
        tx.execute(
            "INSERT INTO trial_values (study_id, number, step, value) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (study_id, number, step) DO UPDATE SET value = excluded.value",
            params![study, trial.id as i64, i64::from(step), value],
        )?;
        Self::set_seq(&tx, study, trial.id as i64)?;
        tx.commit()?;
        Ok(())
    }

    fn claim(&mut self, study: StudyId, worker: &str) -> Result<Option<Trial>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let number: Option<i64> = tx
            .query_row(
                "SELECT number FROM trials WHERE study_id = ?1 AND state = 'WAITING' ORDER BY number LIMIT 1",
                params![study],
                |r| r.get(0),
            )
            .optional()?;
        let Some(number) = number else {
            return Ok(None);
        };
        let seq = Self::next_seq(&tx, study)?;
        tx.execute(
            "UPDATE trials SET state = 'RUNNING', worker = ?3, heartbeat_at = ?4, started_at = ?4, \
             attempts = attempts + 1, seq = ?5 WHERE study_id = ?1 AND number = ?2",
            params![study, number, worker, now(), seq],
        )?;
        let trial = Self::load_trial(&tx, study, number)?;
        tx.commit()?;
        Ok(Some(trial))
    }

    fn heartbeat(
        &mut self,
        study: StudyId,
        number: u64,
        worker: &str,
        attempt: u32,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE trials SET heartbeat_at = ?5 WHERE study_id = ?1 AND number = ?2 \
             AND state = 'RUNNING' AND worker = ?3 AND attempts = ?4",
            params![study, number as i64, worker, i64::from(attempt), now()],
        )?;
        Ok(n == 1)
    }

    fn requeue_stale(
        &mut self,
        study: StudyId,
        grace_seconds: f64,
        max_attempts: u32,
    ) -> Result<Vec<u64>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let t = now();
        let stale: Vec<(i64, i64, Option<String>, String)> = {
            let mut stmt = tx.prepare(
                "SELECT number, attempts, worker, attrs FROM trials WHERE study_id = ?1 AND state = 'RUNNING' \
                 AND (heartbeat_at IS NULL OR heartbeat_at <= ?2) ORDER BY number",
            )?;
            let rows = stmt
                .query_map(params![study, t - grace_seconds], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<Result<_, _>>()?;
            rows
        };
        let mut changed = Vec::with_capacity(stale.len());
        for (number, attempts, worker, attrs) in &stale {
            let seq = Self::next_seq(&tx, study)?;
            if crash_attempts(*number, *attempts, attrs)? >= i64::from(max_attempts) {
                tx.execute(
                    "UPDATE trials SET state = 'FAILED', error = ?3, finished_at = ?4, attrs = ?5, seq = ?6 \
                     WHERE study_id = ?1 AND number = ?2",
                    params![
                        study,
                        number,
                        lost_worker_error(worker.as_deref(), *attempts),
                        t,
                        mark_lost(*number, attrs)?,
                        seq
                    ],
                )?;
            } else {
                tx.execute(
                    "UPDATE trials SET state = 'WAITING', worker = NULL, heartbeat_at = NULL, seq = ?3 \
                     WHERE study_id = ?1 AND number = ?2",
                    params![study, number, seq],
                )?;
            }
            changed.push(int::<u64>("trial number", *number)?);
        }
        tx.commit()?;
        Ok(changed)
    }

    fn lock_study(&mut self, study: StudyId) -> Result<(), StoreError> {
        // An OS file lock beside the database: released by unlock or when the process dies.
        let lock_path = self.path.with_extension(format!("study{study}.lock"));
        let io = |e: std::io::Error| StoreError::Database {
            backend: "sqlite",
            reason: format!("{}: {e}", lock_path.display()),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        self.study_lock = Some(file);
        Ok(())
    }

    fn unlock_study(&mut self, _study: StudyId) -> Result<(), StoreError> {
        // Dropping the file releases the lock.
        self.study_lock = None;
        Ok(())
    }

    fn finish_study(&mut self, study: StudyId, stop_reason: &str) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE studies SET stop_reason = ?1 WHERE id = ?2",
            params![stop_reason, study],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchStudy(study));
        }
        Ok(())
    }
}
