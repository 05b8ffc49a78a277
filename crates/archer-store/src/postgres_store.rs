use archer_core::{Objective, Trial};
use postgres::{Client, GenericClient, NoTls, Row};

use crate::codec::{check_update, lost_worker_error, now, TrialRow};
use crate::{NewStudy, Store, StoreError, StudyId, StudyRecord, SCHEMA_VERSION};

/// One migration per schema version, as for SQLite.
const MIGRATIONS: [&str; 1] = [r#"
CREATE TABLE studies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config_toml TEXT NOT NULL,
    seed TEXT NOT NULL,
    space TEXT NOT NULL,
    space_version INTEGER NOT NULL,
    objective TEXT NOT NULL,
    strategy_state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    stop_reason TEXT
);
CREATE TABLE trials (
    study_id BIGINT NOT NULL REFERENCES studies(id),
    number BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED')),
    arch TEXT NOT NULL,
    arch_hash TEXT NOT NULL,
    fidelity TEXT NOT NULL,
    metrics TEXT NOT NULL,
    score DOUBLE PRECISION,
    error TEXT,
    cost_seconds DOUBLE PRECISION NOT NULL,
    attempts BIGINT NOT NULL,
    worker TEXT,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    heartbeat_at DOUBLE PRECISION,
    PRIMARY KEY (study_id, number)
);
CREATE INDEX trials_by_state ON trials (study_id, state, number);
CREATE TABLE trial_values (
    study_id BIGINT NOT NULL,
    number BIGINT NOT NULL,
    step BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (study_id, number, step),
    FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
);
"#];

/// The PostgreSQL schema (namespace) holding Archer's tables.
pub const PG_SCHEMA: &str = "archer";

/// First key of the per-study advisory locks (the second is the study id).
const STUDY_LOCK_SPACE: i32 = 0x4152_4348; // "ARCH"

/// Serialises migrations between processes (an arbitrary, fixed advisory-lock key).
const MIGRATION_LOCK: i64 = 0x4152_4348_4552; // "ARCHER"

/// The multi-machine store, in the `archer` schema of the given database. Workers claim trials with `FOR UPDATE SKIP LOCKED`; changes to
/// a study's trials and strategy state serialise on the study's row lock.
pub struct PostgresStore {
    client: Client,
}

const TRIAL_COLUMNS: &str = "number, state, arch, arch_hash, fidelity, metrics, score, error, cost_seconds, attempts, worker, started_at, finished_at";
const STUDY_COLUMNS: &str =
    "id, name, config_toml, seed, space, space_version, objective, created_at, stop_reason";

fn trial_row(r: &Row) -> TrialRow {
    TrialRow {
        number: r.get(0),
        state: r.get(1),
        arch: r.get(2),
        arch_hash: r.get(3),
        fidelity: r.get(4),
        metrics: r.get(5),
        score: r.get(6),
        error: r.get(7),
        cost_seconds: r.get(8),
        attempts: r.get(9),
        worker: r.get(10),
        started_at: r.get(11),
        finished_at: r.get(12),
    }
}

fn study_record(r: &Row) -> Result<StudyRecord, StoreError> {
    let seed: String = r.get(3);
    let objective: Objective = serde_json::from_str(r.get::<_, &str>(6))?;
    Ok(StudyRecord {
        id: r.get(0),
        name: r.get(1),
        config_toml: r.get(2),
        seed: seed
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("seed {seed:?}")))?,
        space: r.get(4),
        space_version: r.get::<_, i32>(5) as u32,
        objective,
        created_at: r.get(7),
        stop_reason: r.get(8),
    })
}

impl PostgresStore {
    /// Connects (`postgres://user@host:port/database`) and brings the schema up to date.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
            location: url.to_string(),
            reason: e.to_string(),
        })?;
        let mut store = PostgresStore { client };
        store.migrate()?;
        Ok(store)
    }

    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .client
            .query_one("SELECT COALESCE(MAX(version), 0) FROM archer_schema", &[])?
            .get(0))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        // Archer's tables live in their own schema, so they never collide with another
        // application's (e.g. Optuna's `studies`) in a shared database. SET (not SET LOCAL)
        // keeps the search path for the whole session.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}; SET search_path TO {PG_SCHEMA}"
        ))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS archer_schema (version BIGINT NOT NULL)")?;
        let version: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM archer_schema", &[])?
            .get(0);
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO archer_schema (version) VALUES ($1)",
                &[&((i + 1) as i64)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn lock_study_row(tx: &mut impl GenericClient, study: StudyId) -> Result<(), StoreError> {
        tx.query_opt("SELECT id FROM studies WHERE id = $1 FOR UPDATE", &[&study])?
            .ok_or(StoreError::NoSuchStudy(study))?;
        Ok(())
    }

    fn load_trial(
        tx: &mut impl GenericClient,
        study: StudyId,
        number: i64,
    ) -> Result<Trial, StoreError> {
        let row = tx.query_one(
            &format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE study_id = $1 AND number = $2"),
            &[&study, &number],
        )?;
        let values = tx
            .query("SELECT step, value FROM trial_values WHERE study_id = $1 AND number = $2 ORDER BY step", &[&study, &number])?
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u32, r.get::<_, f64>(1)))
            .collect();
        trial_row(&row).into_trial(values)
    }

    fn write_values(
        tx: &mut impl GenericClient,
        study: StudyId,
        trial: &Trial,
    ) -> Result<(), StoreError> {
        let number = trial.id as i64;
        tx.execute(
            "DELETE FROM trial_values WHERE study_id = $1 AND number = $2",
            &[&study, &number],
        )?;
        for &(step, value) in &trial.intermediate {
            tx.execute(
                "INSERT INTO trial_values (study_id, number, step, value) VALUES ($1, $2, $3, $4)",
                &[&study, &number, &(step as i64), &value],
            )?;
        }
        Ok(())
    }

    fn save_state(
        tx: &mut impl GenericClient,
        study: StudyId,
        state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        tx.execute(
            "UPDATE studies SET strategy_state = $1 WHERE id = $2",
            &[&serde_json::to_string(state)?, &study],
        )?;
        Ok(())
    }
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_study(&mut self, s: &NewStudy) -> Result<StudyRecord, StoreError> {
        let mut tx = self.client.transaction()?;
        let inserted = tx.query_opt(
            &format!(
                "INSERT INTO studies (name, config_toml, seed, space, space_version, objective, strategy_state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING RETURNING {STUDY_COLUMNS}"
            ),
            &[
                &s.name,
                &s.config_toml,
                &s.seed.to_string(),
                &s.space,
                &(s.space_version as i32),
                &serde_json::to_string(&s.objective)?,
                &serde_json::to_string(&s.strategy_state)?,
                &now(),
            ],
        )?;
        let row = inserted.ok_or_else(|| StoreError::StudyExists(s.name.clone()))?;
        let record = study_record(&row)?;
        tx.commit()?;
        Ok(record)
    }

    fn study(&mut self, name: &str) -> Result<Option<StudyRecord>, StoreError> {
        self.client
            .query_opt(
                &format!("SELECT {STUDY_COLUMNS} FROM studies WHERE name = $1"),
                &[&name],
            )?
            .map(|r| study_record(&r))
            .transpose()
    }

    fn studies(&mut self) -> Result<Vec<StudyRecord>, StoreError> {
        self.client
            .query(
                &format!("SELECT {STUDY_COLUMNS} FROM studies ORDER BY id"),
                &[],
            )?
            .iter()
            .map(study_record)
            .collect()
    }

    fn trials(&mut self, study: StudyId) -> Result<Vec<Trial>, StoreError> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()?;
        let rows = tx.query(
            &format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE study_id = $1 ORDER BY number"),
            &[&study],
        )?;
        let mut values: Vec<Vec<(u32, f64)>> = (0..rows.len()).map(|_| Vec::new()).collect();
        for r in tx.query("SELECT number, step, value FROM trial_values WHERE study_id = $1 ORDER BY number, step", &[&study])? {
            if let Some(v) = values.get_mut(r.get::<_, i64>(0) as usize) {
                v.push((r.get::<_, i64>(1) as u32, r.get(2)));
            }
        }
        tx.commit()?;
        rows.iter()
            .zip(values)
            .map(|(r, v)| trial_row(r).into_trial(v))
            .collect()
    }

    fn strategy_state(&mut self, study: StudyId) -> Result<serde_json::Value, StoreError> {
        let row = self
            .client
            .query_opt(
                "SELECT strategy_state FROM studies WHERE id = $1",
                &[&study],
            )?
            .ok_or(StoreError::NoSuchStudy(study))?;
        Ok(serde_json::from_str(row.get::<_, &str>(0))?)
    }

    fn add_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        Self::lock_study_row(&mut tx, study)?;
        let next: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = $1",
                &[&study],
            )?
            .get(0);
        if trial.id as i64 != next {
            return Err(StoreError::Corrupt(format!(
                "trial number {} is not the next one ({next})",
                trial.id
            )));
        }
        let r = TrialRow::from_trial(trial)?;
        tx.execute(
            &format!("INSERT INTO trials ({TRIAL_COLUMNS}, study_id, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"),
            &[&r.number, &r.state, &r.arch, &r.arch_hash, &r.fidelity, &r.metrics, &r.score, &r.error, &r.cost_seconds, &r.attempts, &r.worker, &r.started_at, &r.finished_at, &study, &now()],
        )?;
        Self::write_values(&mut tx, study, trial)?;
        Self::save_state(&mut tx, study, strategy_state)?;
        tx.commit()?;
        Ok(())
    }

    fn update_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        if strategy_state.is_some() {
            Self::lock_study_row(&mut tx, study)?;
        }
        let number = trial.id as i64;
        let current = tx
            .query_opt(
                "SELECT state, worker FROM trials WHERE study_id = $1 AND number = $2 FOR UPDATE",
                &[&study, &number],
            )?
            .ok_or(StoreError::NoSuchTrial {
                study,
                number: trial.id,
            })?;
        let state: String = current.get(0);
        let holder: Option<String> = current.get(1);
        check_update(study, trial, state, holder)?;
        let r = TrialRow::from_trial(trial)?;
        tx.execute(
            "UPDATE trials SET state = $3, arch = $4, arch_hash = $5, fidelity = $6, metrics = $7, score = $8, error = $9, \
             cost_seconds = $10, attempts = $11, worker = $12, started_at = $13, finished_at = $14, heartbeat_at = $15 \
             WHERE study_id = $1 AND number = $2",
            &[&study, &number, &r.state, &r.arch, &r.arch_hash, &r.fidelity, &r.metrics, &r.score, &r.error, &r.cost_seconds, &r.attempts, &r.worker, &r.started_at, &r.finished_at, &now()],
        )?;
        Self::write_values(&mut tx, study, trial)?;
        if let Some(s) = strategy_state {
            Self::save_state(&mut tx, study, s)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn claim(&mut self, study: StudyId, worker: &str) -> Result<Option<Trial>, StoreError> {
        let mut tx = self.client.transaction()?;
        let Some(row) = tx.query_opt(
            "SELECT number FROM trials WHERE study_id = $1 AND state = 'WAITING' ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED",
            &[&study],
        )?
        else {
            return Ok(None);
        };
        let number: i64 = row.get(0);
        let t = now();
        tx.execute(
            "UPDATE trials SET state = 'RUNNING', worker = $3, heartbeat_at = $4, started_at = $4, attempts = attempts + 1 \
             WHERE study_id = $1 AND number = $2",
            &[&study, &number, &worker, &t],
        )?;
        let trial = Self::load_trial(&mut tx, study, number)?;
        tx.commit()?;
        Ok(Some(trial))
    }

    fn heartbeat(&mut self, study: StudyId, number: u64, worker: &str) -> Result<bool, StoreError> {
        let n = self.client.execute(
            "UPDATE trials SET heartbeat_at = $4 WHERE study_id = $1 AND number = $2 AND state = 'RUNNING' AND worker = $3",
            &[&study, &(number as i64), &worker, &now()],
        )?;
        Ok(n == 1)
    }

    fn requeue_stale(
        &mut self,
        study: StudyId,
        grace_seconds: f64,
        max_attempts: u32,
    ) -> Result<Vec<u64>, StoreError> {
        let mut tx = self.client.transaction()?;
        let t = now();
        let stale: Vec<(i64, i64, Option<String>)> = tx
            .query(
                "SELECT number, attempts, worker FROM trials WHERE study_id = $1 AND state = 'RUNNING' \
                 AND (heartbeat_at IS NULL OR heartbeat_at <= $2) ORDER BY number FOR UPDATE SKIP LOCKED",
                &[&study, &(t - grace_seconds)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        for (number, attempts, worker) in &stale {
            if *attempts >= max_attempts as i64 {
                tx.execute(
                    "UPDATE trials SET state = 'FAILED', error = $3, finished_at = $4 WHERE study_id = $1 AND number = $2",
                    &[&study, number, &lost_worker_error(worker.as_deref(), *attempts), &t],
                )?;
            } else {
                tx.execute(
                    "UPDATE trials SET state = 'WAITING', worker = NULL, heartbeat_at = NULL WHERE study_id = $1 AND number = $2",
                    &[&study, number],
                )?;
            }
        }
        tx.commit()?;
        Ok(stale.into_iter().map(|(n, _, _)| n as u64).collect())
    }

    fn lock_study(&mut self, study: StudyId) -> Result<(), StoreError> {
        // Session-level advisory lock: released by unlock or when the connection closes.
        self.client.execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&STUDY_LOCK_SPACE, &(study as i32)],
        )?;
        Ok(())
    }

    fn unlock_study(&mut self, study: StudyId) -> Result<(), StoreError> {
        self.client.execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&STUDY_LOCK_SPACE, &(study as i32)],
        )?;
        Ok(())
    }

    fn finish_study(&mut self, study: StudyId, stop_reason: &str) -> Result<(), StoreError> {
        let n = self.client.execute(
            "UPDATE studies SET stop_reason = $1 WHERE id = $2",
            &[&stop_reason, &study],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchStudy(study));
        }
        Ok(())
    }
}
