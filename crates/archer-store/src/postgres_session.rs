use archer_core::Trial;
use postgres::types::FromSql;
use postgres::{Client, GenericClient, NoTls, Row};

use crate::codec::{
    assemble, check_update, crash_attempts, int, json, lost_worker_error, mark_lost, now, Change,
    Stored, TrialRow, TRIAL_COLUMNS,
};
use crate::{NewStudy, Store, StoreError, StudyId, StudyRecord, TrialChanges, SCHEMA_VERSION};

/// One migration per schema version, as for SQLite. They name tables without a schema and
/// run in one transaction with `SET LOCAL search_path` to [`PG_SCHEMA`]; everything else
/// names tables `archer.…`, so no session setting is needed (a transaction-mode pooler such
/// as pgbouncer may hand each transaction another server session).
const MIGRATIONS: [&str; 2] = [
    r#"
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
"#,
    // v2: see the SQLite migration. extra_float_digits = 3 makes float-to-text exact on
    // every server version (shortest exact form from PostgreSQL 12 on).
    r#"
SET LOCAL extra_float_digits = 3;
ALTER TABLE studies
    ADD COLUMN objectives TEXT,
    ADD COLUMN constraints TEXT NOT NULL DEFAULT '[]',
    ADD COLUMN seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN state_version BIGINT NOT NULL DEFAULT 0;
UPDATE studies SET objectives = '[' || objective || ']';
ALTER TABLE studies ALTER COLUMN objectives SET NOT NULL, DROP COLUMN objective;
ALTER TABLE trials
    DROP CONSTRAINT trials_state_check,
    ADD CONSTRAINT trials_state_check
        CHECK (state IN ('WAITING', 'RUNNING', 'PAUSED', 'COMPLETE', 'PRUNED', 'FAILED')),
    ADD COLUMN scores TEXT NOT NULL DEFAULT '[]',
    ADD COLUMN feasible BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN violation DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN attrs TEXT NOT NULL DEFAULT '{}',
    ADD COLUMN seq BIGINT;
UPDATE trials SET scores = json_build_array(score)::text WHERE state = 'COMPLETE' AND score IS NOT NULL;
UPDATE trials SET seq = number + 1;
ALTER TABLE trials ALTER COLUMN seq SET NOT NULL;
UPDATE studies s SET seq = COALESCE((SELECT MAX(t.seq) FROM trials t WHERE t.study_id = s.id), 0);
CREATE INDEX trials_by_seq ON trials (study_id, seq);
"#,
];

/// The SQL of schema v1 (unqualified names, to run with `search_path` set to
/// [`PG_SCHEMA`]), for upgrade tests that build a v1 database by hand.
#[doc(hidden)]
pub fn postgres_v1_schema_sql() -> &'static str {
    MIGRATIONS[0]
}

/// The PostgreSQL schema (namespace) holding Archer's tables. The SQL of this module spells
/// it out (`archer.trials`).
pub const PG_SCHEMA: &str = "archer";

/// High 32 bits of the per-study advisory-lock keys (the low 32 bits are the study id).
const STUDY_LOCK_SPACE: i64 = 0x4152_4348; // "ARCH"

/// Serialises migrations between processes (an arbitrary, fixed advisory-lock key; its high
/// 32 bits differ from `STUDY_LOCK_SPACE`).
const MIGRATION_LOCK: i64 = 0x4152_4348_4552; // "ARCHER"

/// The database server's clock, in Unix seconds: heartbeats, claims and the staleness check
/// all use it, so clients with skewed clocks agree.
const SERVER_NOW: &str = "EXTRACT(EPOCH FROM clock_timestamp())::float8";

/// One connection to the `archer` schema of a database: every `Store` operation as SQL.
/// Every write that changes a study's trials or strategy state first locks the study's row
/// (which also holds its change-sequence counter), then the trial's: one lock order, so
/// writers never deadlock, and sequence numbers follow commit order.
/// [`crate::PostgresStore`] wraps it to reconnect.
pub(crate) struct PgSession {
    client: Client,
}

const STUDY_COLUMNS: &str = "id, name, config_toml, seed, space, space_version, objectives, constraints, created_at, stop_reason";

/// Column `i` of `r`, or `Corrupt` when it is missing or of another type.
fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i).map_err(|e| {
        let column = r.columns().get(i).map_or("?", |c| c.name());
        StoreError::Corrupt(format!("column {column}: {e}"))
    })
}

fn trial_row(r: &Row) -> Result<TrialRow, StoreError> {
    Ok(TrialRow {
        number: get(r, 0)?,
        state: get(r, 1)?,
        arch: get(r, 2)?,
        arch_hash: get(r, 3)?,
        fidelity: get(r, 4)?,
        metrics: get(r, 5)?,
        score: get(r, 6)?,
        scores: get(r, 7)?,
        feasible: get(r, 8)?,
        violation: get(r, 9)?,
        attrs: get(r, 10)?,
        error: get(r, 11)?,
        cost_seconds: get(r, 12)?,
        attempts: get(r, 13)?,
        worker: get(r, 14)?,
        started_at: get(r, 15)?,
        finished_at: get(r, 16)?,
    })
}

fn study_record(r: &Row) -> Result<StudyRecord, StoreError> {
    let id: StudyId = get(r, 0)?;
    let seed: String = get(r, 3)?;
    Ok(StudyRecord {
        id,
        name: get(r, 1)?,
        config_toml: get(r, 2)?,
        seed: seed
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("study {id} seed {seed:?}")))?,
        space: get(r, 4)?,
        space_version: int(
            &format!("study {id} space_version"),
            i64::from(get::<i32>(r, 5)?),
        )?,
        objectives: json(&format!("study {id} objectives"), get(r, 6)?)?,
        constraints: json(&format!("study {id} constraints"), get(r, 7)?)?,
        created_at: get(r, 8)?,
        stop_reason: get(r, 9)?,
    })
}

/// The one-bigint advisory-lock key of a study: `STUDY_LOCK_SPACE` in the high half, the id
/// in the low half. Ids beyond 32 bits are refused rather than truncated onto another
/// study's key.
fn study_lock_key(study: StudyId) -> Result<i64, StoreError> {
    let id = u32::try_from(study).map_err(|_| StoreError::Database {
        backend: "postgres",
        reason: format!("study id {study} does not fit a 32-bit advisory-lock key"),
    })?;
    Ok((STUDY_LOCK_SPACE << 32) | i64::from(id))
}

impl PgSession {
    /// Connects (`postgres://user@host:port/database`) and brings the schema up to date.
    pub(crate) fn open(url: &str) -> Result<Self, StoreError> {
        let client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
            location: crate::redact_url(url),
            reason: e.to_string(),
        })?;
        let mut session = PgSession { client };
        session.migrate()?;
        Ok(session)
    }

    /// Whether the connection is known to be gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The schema version of the connected database.
    pub(crate) fn schema_version(&mut self) -> Result<i64, StoreError> {
        let row = self.client.query_one(
            "SELECT COALESCE(MAX(version), 0) FROM archer.archer_schema",
            &[],
        )?;
        get(&row, 0)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        // Archer's tables live in their own schema, so they never collide with another
        // application's (e.g. Optuna's `studies`) in a shared database. SET LOCAL ends
        // with this transaction.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}; SET LOCAL search_path TO {PG_SCHEMA}; \
             CREATE TABLE IF NOT EXISTS archer_schema (version BIGINT NOT NULL)"
        ))?;
        let row = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM archer_schema", &[])?;
        let version: i64 = get(&row, 0)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let start = usize::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {version}")))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO archer_schema (version) VALUES ($1)",
                &[&((i + 1) as i64)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Locks the study's row until the transaction ends (the first lock of every write).
    fn lock_study_row(tx: &mut impl GenericClient, study: StudyId) -> Result<(), StoreError> {
        tx.query_opt(
            "SELECT id FROM archer.studies WHERE id = $1 FOR UPDATE",
            &[&study],
        )?
        .ok_or(StoreError::NoSuchStudy(study))?;
        Ok(())
    }

    /// The study's next change sequence number (taken: the counter moves on). Locks the
    /// study's row.
    fn next_seq(tx: &mut impl GenericClient, study: StudyId) -> Result<i64, StoreError> {
        let row = tx
            .query_opt(
                "UPDATE archer.studies SET seq = seq + 1 WHERE id = $1 RETURNING seq",
                &[&study],
            )?
            .ok_or(StoreError::NoSuchStudy(study))?;
        get(&row, 0)
    }

    /// What [`check_update`] needs of the stored trial, row-locked.
    fn stored(
        tx: &mut impl GenericClient,
        study: StudyId,
        number: u64,
    ) -> Result<Stored, StoreError> {
        let row = tx
            .query_opt(
                "SELECT state, worker, attempts, attrs FROM archer.trials \
                 WHERE study_id = $1 AND number = $2 FOR UPDATE",
                &[&study, &(number as i64)],
            )?
            .ok_or(StoreError::NoSuchTrial { study, number })?;
        Ok(Stored {
            state: get(&row, 0)?,
            worker: get(&row, 1)?,
            attempts: get(&row, 2)?,
            attrs: get(&row, 3)?,
        })
    }

    /// Trials with a sequence number above `after_seq`, read within `tx`.
    fn load_trials(
        tx: &mut impl GenericClient,
        study: StudyId,
        after_seq: i64,
    ) -> Result<Vec<Trial>, StoreError> {
        let rows = tx
            .query(
                &format!(
                    "SELECT {TRIAL_COLUMNS} FROM archer.trials WHERE study_id = $1 AND seq > $2 ORDER BY number"
                ),
                &[&study, &after_seq],
            )?
            .iter()
            .map(trial_row)
            .collect::<Result<Vec<_>, _>>()?;
        let values = tx
            .query(
                "SELECT v.number, v.step, v.value FROM archer.trial_values v \
                 JOIN archer.trials t ON t.study_id = v.study_id AND t.number = v.number \
                 WHERE v.study_id = $1 AND t.seq > $2 ORDER BY v.number, v.step",
                &[&study, &after_seq],
            )?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        assemble(rows, values)
    }

    fn load_trial(
        tx: &mut impl GenericClient,
        study: StudyId,
        number: i64,
    ) -> Result<Trial, StoreError> {
        let row = tx.query_one(
            &format!(
                "SELECT {TRIAL_COLUMNS} FROM archer.trials WHERE study_id = $1 AND number = $2"
            ),
            &[&study, &number],
        )?;
        let values = tx
            .query(
                "SELECT number, step, value FROM archer.trial_values \
                 WHERE study_id = $1 AND number = $2 ORDER BY step",
                &[&study, &number],
            )?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        assemble(vec![trial_row(&row)?], values)?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("trial vanished while read".into()))
    }

    fn write_values(
        tx: &mut impl GenericClient,
        study: StudyId,
        trial: &Trial,
    ) -> Result<(), StoreError> {
        let number = trial.id as i64;
        tx.execute(
            "DELETE FROM archer.trial_values WHERE study_id = $1 AND number = $2",
            &[&study, &number],
        )?;
        for &(step, value) in &trial.intermediate {
            tx.execute(
                "INSERT INTO archer.trial_values (study_id, number, step, value) VALUES ($1, $2, $3, $4)",
                &[&study, &number, &i64::from(step), &value],
            )?;
        }
        Ok(())
    }

    fn save_state(
        tx: &mut impl GenericClient,
        study: StudyId,
        state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let n = tx.execute(
            "UPDATE archer.studies SET strategy_state = $1, state_version = state_version + 1 WHERE id = $2",
            &[&serde_json::to_string(state)?, &study],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchStudy(study));
        }
        Ok(())
    }

    fn read_snapshot(&mut self) -> Result<postgres::Transaction<'_>, StoreError> {
        Ok(self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?)
    }
}

impl Store for PgSession {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_study(&mut self, s: &NewStudy) -> Result<StudyRecord, StoreError> {
        let mut tx = self.client.transaction()?;
        let inserted = tx.query_opt(
            &format!(
                "INSERT INTO archer.studies (name, config_toml, seed, space, space_version, objectives, constraints, strategy_state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING RETURNING {STUDY_COLUMNS}"
            ),
            &[
                &s.name,
                &s.config_toml,
                &s.seed.to_string(),
                &s.space,
                &i32::try_from(s.space_version).map_err(|_| {
                    StoreError::Corrupt(format!("space version {} is too large", s.space_version))
                })?,
                &serde_json::to_string(&s.objectives)?,
                &serde_json::to_string(&s.constraints)?,
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
                &format!("SELECT {STUDY_COLUMNS} FROM archer.studies WHERE name = $1"),
                &[&name],
            )?
            .map(|r| study_record(&r))
            .transpose()
    }

    fn studies(&mut self) -> Result<Vec<StudyRecord>, StoreError> {
        self.client
            .query(
                &format!("SELECT {STUDY_COLUMNS} FROM archer.studies ORDER BY id"),
                &[],
            )?
            .iter()
            .map(study_record)
            .collect()
    }

    fn trials(&mut self, study: StudyId) -> Result<Vec<Trial>, StoreError> {
        let mut tx = self.read_snapshot()?;
        let trials = Self::load_trials(&mut tx, study, i64::MIN)?;
        tx.commit()?;
        Ok(trials)
    }

    fn trials_since(&mut self, study: StudyId, after_seq: i64) -> Result<TrialChanges, StoreError> {
        let mut tx = self.read_snapshot()?;
        let row = tx
            .query_opt("SELECT seq FROM archer.studies WHERE id = $1", &[&study])?
            .ok_or(StoreError::NoSuchStudy(study))?;
        let seq: i64 = get(&row, 0)?;
        let trials = Self::load_trials(&mut tx, study, after_seq)?;
        tx.commit()?;
        Ok(TrialChanges { trials, seq })
    }

    fn strategy_state(&mut self, study: StudyId) -> Result<serde_json::Value, StoreError> {
        let row = self
            .client
            .query_opt(
                "SELECT strategy_state FROM archer.studies WHERE id = $1",
                &[&study],
            )?
            .ok_or(StoreError::NoSuchStudy(study))?;
        json(&format!("study {study} strategy_state"), get(&row, 0)?)
    }

    fn state_version(&mut self, study: StudyId) -> Result<i64, StoreError> {
        let row = self
            .client
            .query_opt(
                "SELECT state_version FROM archer.studies WHERE id = $1",
                &[&study],
            )?
            .ok_or(StoreError::NoSuchStudy(study))?;
        get(&row, 0)
    }

    fn add_trial(
        &mut self,
        study: StudyId,
        trial: &Trial,
        strategy_state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let r = TrialRow::from_trial(trial)?;
        let mut tx = self.client.transaction()?;
        let seq = Self::next_seq(&mut tx, study)?;
        let row = tx.query_one(
            "SELECT COALESCE(MAX(number) + 1, 0) FROM archer.trials WHERE study_id = $1",
            &[&study],
        )?;
        let next: i64 = get(&row, 0)?;
        if r.number != next {
            return Err(StoreError::Corrupt(format!(
                "trial number {} is not the next one ({next})",
                trial.id
            )));
        }
        tx.execute(
            &format!(
                "INSERT INTO archer.trials ({TRIAL_COLUMNS}, study_id, heartbeat_at, seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, {SERVER_NOW}, $19)"
            ),
            &[
                &r.number, &r.state, &r.arch, &r.arch_hash, &r.fidelity, &r.metrics, &r.score,
                &r.scores, &r.feasible, &r.violation, &r.attrs, &r.error, &r.cost_seconds,
                &r.attempts, &r.worker, &r.started_at, &r.finished_at, &study, &seq,
            ],
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
        let r = TrialRow::from_trial(trial)?;
        let mut tx = self.client.transaction()?;
        // Study row first (taking the sequence number), trial row second; a refusal rolls
        // both back.
        let seq = Self::next_seq(&mut tx, study)?;
        let stored = Self::stored(&mut tx, study, trial.id)?;
        check_update(study, trial, &stored, Change::Replace)?;
        tx.execute(
            &format!(
                "UPDATE archer.trials SET state = $3, arch = $4, arch_hash = $5, fidelity = $6, metrics = $7, \
                 score = $8, scores = $9, feasible = $10, violation = $11, attrs = $12, error = $13, \
                 cost_seconds = $14, attempts = $15, worker = $16, started_at = $17, finished_at = $18, \
                 heartbeat_at = {SERVER_NOW}, seq = $19 WHERE study_id = $1 AND number = $2"
            ),
            &[
                &study, &r.number, &r.state, &r.arch, &r.arch_hash, &r.fidelity, &r.metrics,
                &r.score, &r.scores, &r.feasible, &r.violation, &r.attrs, &r.error,
                &r.cost_seconds, &r.attempts, &r.worker, &r.started_at, &r.finished_at, &seq,
            ],
        )?;
        Self::write_values(&mut tx, study, trial)?;
        if let Some(s) = strategy_state {
            Self::save_state(&mut tx, study, s)?;
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
        let mut tx = self.client.transaction()?;
        let seq = Self::next_seq(&mut tx, study)?;
        let stored = Self::stored(&mut tx, study, trial.id)?;
        check_update(study, trial, &stored, Change::Report)?;
        let number = trial.id as i64;
        tx.execute(
            "INSERT INTO archer.trial_values (study_id, number, step, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (study_id, number, step) DO UPDATE SET value = EXCLUDED.value",
            &[&study, &number, &i64::from(step), &value],
        )?;
        tx.execute(
            "UPDATE archer.trials SET seq = $3 WHERE study_id = $1 AND number = $2",
            &[&study, &number, &seq],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn claim(&mut self, study: StudyId, worker: &str) -> Result<Option<Trial>, StoreError> {
        let mut tx = self.client.transaction()?;
        Self::lock_study_row(&mut tx, study)?;
        let Some(row) = tx.query_opt(
            "SELECT number FROM archer.trials WHERE study_id = $1 AND state = 'WAITING' \
             ORDER BY number LIMIT 1 FOR UPDATE",
            &[&study],
        )?
        else {
            return Ok(None);
        };
        let number: i64 = get(&row, 0)?;
        let seq = Self::next_seq(&mut tx, study)?;
        tx.execute(
            &format!(
                "UPDATE archer.trials SET state = 'RUNNING', worker = $3, heartbeat_at = {SERVER_NOW}, \
                 started_at = {SERVER_NOW}, attempts = attempts + 1, seq = $4 \
                 WHERE study_id = $1 AND number = $2"
            ),
            &[&study, &number, &worker, &seq],
        )?;
        let trial = Self::load_trial(&mut tx, study, number)?;
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
        let n = self.client.execute(
            &format!(
                "UPDATE archer.trials SET heartbeat_at = {SERVER_NOW} WHERE study_id = $1 AND number = $2 \
                 AND state = 'RUNNING' AND worker = $3 AND attempts = $4"
            ),
            &[&study, &(number as i64), &worker, &i64::from(attempt)],
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
        Self::lock_study_row(&mut tx, study)?;
        let stale = tx
            .query(
                &format!(
                    "SELECT number, attempts, worker, attrs FROM archer.trials WHERE study_id = $1 \
                     AND state = 'RUNNING' AND (heartbeat_at IS NULL OR heartbeat_at <= {SERVER_NOW} - $2::float8) \
                     ORDER BY number FOR UPDATE"
                ),
                &[&study, &grace_seconds],
            )?
            .iter()
            .map(|r| {
                Ok((
                    get::<i64>(r, 0)?,
                    get::<i64>(r, 1)?,
                    get::<Option<String>>(r, 2)?,
                    get::<String>(r, 3)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut changed = Vec::with_capacity(stale.len());
        for (number, attempts, worker, attrs) in &stale {
            let seq = Self::next_seq(&mut tx, study)?;
            if crash_attempts(*number, *attempts, attrs)? >= i64::from(max_attempts) {
                tx.execute(
                    &format!(
                        "UPDATE archer.trials SET state = 'FAILED', error = $3, finished_at = {SERVER_NOW}, \
                         attrs = $4, seq = $5 WHERE study_id = $1 AND number = $2"
                    ),
                    &[
                        &study,
                        number,
                        &lost_worker_error(worker.as_deref(), *attempts),
                        &mark_lost(*number, attrs)?,
                        &seq,
                    ],
                )?;
            } else {
                tx.execute(
                    "UPDATE archer.trials SET state = 'WAITING', worker = NULL, heartbeat_at = NULL, seq = $3 \
                     WHERE study_id = $1 AND number = $2",
                    &[&study, number, &seq],
                )?;
            }
            changed.push(int::<u64>("trial number", *number)?);
        }
        tx.commit()?;
        Ok(changed)
    }

    fn lock_study(&mut self, study: StudyId) -> Result<(), StoreError> {
        // Session-level advisory lock: released by unlock or when the connection closes.
        self.client
            .execute("SELECT pg_advisory_lock($1)", &[&study_lock_key(study)?])?;
        Ok(())
    }

    fn unlock_study(&mut self, study: StudyId) -> Result<(), StoreError> {
        self.client
            .execute("SELECT pg_advisory_unlock($1)", &[&study_lock_key(study)?])?;
        Ok(())
    }

    fn finish_study(&mut self, study: StudyId, stop_reason: &str) -> Result<(), StoreError> {
        let n = self.client.execute(
            "UPDATE archer.studies SET stop_reason = $1 WHERE id = $2",
            &[&stop_reason, &study],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchStudy(study));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_lock_keys_are_distinct_and_never_truncated() {
        assert_eq!(study_lock_key(1).unwrap(), 0x4152_4348_0000_0001);
        assert_eq!(
            study_lock_key(i64::from(u32::MAX)).unwrap(),
            0x4152_4348_FFFF_FFFF
        );
        assert_ne!(
            study_lock_key(1).unwrap(),
            study_lock_key(1 << 32 | 1).unwrap_or(0)
        );
        assert!(study_lock_key(1 << 32).is_err());
        assert!(study_lock_key(-1).is_err());
        assert_ne!(study_lock_key(0x4552).unwrap(), MIGRATION_LOCK);
    }
}
