use std::path::Path;
use std::time::Duration;

use archer_core::{Objective, Trial};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::codec::{check_update, lost_worker_error, now, TrialRow};
use crate::{NewStudy, Store, StoreError, StudyId, StudyRecord, SCHEMA_VERSION};

/// One migration per schema version; `MIGRATIONS[v - 1]` brings a file from v-1 to v.
/// Old database files are kept as upgrade fixtures in `fixtures/store/`.
const MIGRATIONS: [&str; 1] = [r#"
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
"#];

/// The embedded store: one SQLite file in WAL mode. Several processes may open the same
/// file; writes take SQLite's write lock (`BEGIN IMMEDIATE`), waiting up to 30 s for it.
pub struct SqliteStore {
    conn: Connection,
    path: std::path::PathBuf,
    /// The open lock file while `lock_study` holds it.
    study_lock: Option<std::fs::File>,
}

const TRIAL_COLUMNS: &str = "number, state, arch, arch_hash, fidelity, metrics, score, error, cost_seconds, attempts, worker, started_at, finished_at";

fn row_to_trial_row(r: &rusqlite::Row) -> rusqlite::Result<TrialRow> {
    Ok(TrialRow {
        number: r.get(0)?,
        state: r.get(1)?,
        arch: r.get(2)?,
        arch_hash: r.get(3)?,
        fidelity: r.get(4)?,
        metrics: r.get(5)?,
        score: r.get(6)?,
        error: r.get(7)?,
        cost_seconds: r.get(8)?,
        attempts: r.get(9)?,
        worker: r.get(10)?,
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
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
    ))
}

/// The columns of [`STUDY_COLUMNS`], in order.
type StudyTuple = (
    StudyId,
    String,
    String,
    String,
    String,
    u32,
    String,
    f64,
    Option<String>,
);

fn study_record(t: StudyTuple) -> Result<StudyRecord, StoreError> {
    let (id, name, config_toml, seed, space, space_version, objective, created_at, stop_reason) = t;
    let objective: Objective = serde_json::from_str(&objective)?;
    Ok(StudyRecord {
        id,
        name,
        config_toml,
        seed: seed
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("seed {seed:?}")))?,
        space,
        space_version,
        objective,
        created_at,
        stop_reason,
    })
}

const STUDY_COLUMNS: &str =
    "id, name, config_toml, seed, space, space_version, objective, created_at, stop_reason";

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
        conn.pragma_update(None, "foreign_keys", "ON")
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
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_trial(tx: &Connection, study: StudyId, number: i64) -> Result<Trial, StoreError> {
        let row = tx.query_row(
            &format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE study_id = ?1 AND number = ?2"),
            params![study, number],
            row_to_trial_row,
        )?;
        let mut stmt = tx.prepare_cached("SELECT step, value FROM trial_values WHERE study_id = ?1 AND number = ?2 ORDER BY step")?;
        let values = stmt
            .query_map(params![study, number], |r| {
                Ok((r.get::<_, i64>(0)? as u32, r.get(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        row.into_trial(values)
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
            stmt.execute(params![study, trial.id as i64, step as i64, value])?;
        }
        Ok(())
    }

    fn save_state(
        tx: &Connection,
        study: StudyId,
        state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let n = tx.execute(
            "UPDATE studies SET strategy_state = ?1 WHERE id = ?2",
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
            "INSERT INTO studies (name, config_toml, seed, space, space_version, objective, strategy_state, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                s.name,
                s.config_toml,
                s.seed.to_string(),
                s.space,
                s.space_version,
                serde_json::to_string(&s.objective)?,
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
        let rows = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {TRIAL_COLUMNS} FROM trials WHERE study_id = ?1 ORDER BY number"
            ))?;
            let rows = stmt
                .query_map(params![study], row_to_trial_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        let mut values: Vec<Vec<(u32, f64)>> = (0..rows.len()).map(|_| Vec::new()).collect();
        {
            let mut stmt = tx.prepare("SELECT number, step, value FROM trial_values WHERE study_id = ?1 ORDER BY number, step")?;
            let mut q = stmt.query(params![study])?;
            while let Some(r) = q.next()? {
                let n: i64 = r.get(0)?;
                if let Some(v) = values.get_mut(n as usize) {
                    v.push((r.get::<_, i64>(1)? as u32, r.get(2)?));
                }
            }
        }
        tx.commit()?;
        rows.into_iter()
            .zip(values)
            .map(|(r, v)| r.into_trial(v))
            .collect()
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
        Ok(serde_json::from_str(
            &text.ok_or(StoreError::NoSuchStudy(study))?,
        )?)
    }

    fn add_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next: i64 = tx.query_row(
            "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?1",
            params![study],
            |r| r.get(0),
        )?;
        if trial.id as i64 != next {
            return Err(StoreError::Corrupt(format!(
                "trial number {} is not the next one ({next})",
                trial.id
            )));
        }
        let r = TrialRow::from_trial(trial)?;
        tx.execute(
            &format!("INSERT INTO trials ({TRIAL_COLUMNS}, study_id, heartbeat_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
            params![r.number, r.state, r.arch, r.arch_hash, r.fidelity, r.metrics, r.score, r.error, r.cost_seconds, r.attempts, r.worker, r.started_at, r.finished_at, study, now()],
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT state, worker FROM trials WHERE study_id = ?1 AND number = ?2",
                params![study, trial.id as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (state, holder) = current.ok_or(StoreError::NoSuchTrial {
            study,
            number: trial.id,
        })?;
        check_update(study, trial, state, holder)?;
        let r = TrialRow::from_trial(trial)?;
        tx.execute(
            "UPDATE trials SET state = ?3, arch = ?4, arch_hash = ?5, fidelity = ?6, metrics = ?7, score = ?8, error = ?9, \
             cost_seconds = ?10, attempts = ?11, worker = ?12, started_at = ?13, finished_at = ?14, heartbeat_at = ?15 \
             WHERE study_id = ?1 AND number = ?2",
            params![study, r.number, r.state, r.arch, r.arch_hash, r.fidelity, r.metrics, r.score, r.error, r.cost_seconds, r.attempts, r.worker, r.started_at, r.finished_at, now()],
        )?;
        Self::write_values(&tx, study, trial)?;
        if let Some(s) = strategy_state {
            Self::save_state(&tx, study, s)?;
        }
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
        let t = now();
        tx.execute(
            "UPDATE trials SET state = 'RUNNING', worker = ?3, heartbeat_at = ?4, started_at = ?4, attempts = attempts + 1 \
             WHERE study_id = ?1 AND number = ?2",
            params![study, number, worker, t],
        )?;
        let trial = Self::load_trial(&tx, study, number)?;
        tx.commit()?;
        Ok(Some(trial))
    }

    fn heartbeat(&mut self, study: StudyId, number: u64, worker: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE trials SET heartbeat_at = ?4 WHERE study_id = ?1 AND number = ?2 AND state = 'RUNNING' AND worker = ?3",
            params![study, number as i64, worker, now()],
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
        let stale: Vec<(i64, i64, Option<String>)> = {
            let mut stmt = tx.prepare(
                "SELECT number, attempts, worker FROM trials WHERE study_id = ?1 AND state = 'RUNNING' \
                 AND (heartbeat_at IS NULL OR heartbeat_at <= ?2) ORDER BY number",
            )?;
            let rows = stmt
                .query_map(params![study, t - grace_seconds], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            rows
        };
        for (number, attempts, worker) in &stale {
            if *attempts >= max_attempts as i64 {
                tx.execute(
                    "UPDATE trials SET state = 'FAILED', error = ?3, finished_at = ?4 WHERE study_id = ?1 AND number = ?2",
                    params![study, number, lost_worker_error(worker.as_deref(), *attempts), t],
                )?;
            } else {
                tx.execute(
                    "UPDATE trials SET state = 'WAITING', worker = NULL, heartbeat_at = NULL WHERE study_id = ?1 AND number = ?2",
                    params![study, number],
                )?;
            }
        }
        tx.commit()?;
        Ok(stale.into_iter().map(|(n, _, _)| n as u64).collect())
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
