//! Durable record of studies and trials. SQLite (one file per experiment folder, WAL mode) is
//! the embedded default; PostgreSQL, selected by a `postgres://` URL, lets any number of
//! workers on any machines share one study. One conformance suite runs against both.

mod codec;
mod error;
mod open;
mod postgres_session;
mod postgres_store;
mod record;
mod sqlite_store;
mod store;

pub use error::StoreError;
pub use open::{connect_postgres, is_postgres_url, open, open_read_only, redact_url};
#[doc(hidden)]
pub use postgres_session::{postgres_v1_schema_sql, PG_SCHEMA};
pub use postgres_store::PostgresStore;
pub use record::{NewStudy, StudyId, StudyRecord, TrialChanges};
pub use sqlite_store::SqliteStore;
pub use store::Store;

/// Schema version this build writes; older files are migrated when opened.
/// v2: several objectives and constraints per study; per-trial scores, feasibility,
/// violation, attrs and change sequence; the PAUSED state; strategy-state versions.
pub const SCHEMA_VERSION: i64 = 2;

/// The trial attribute `requeue_stale` sets (to `true`) on a trial it fails because its
/// worker stopped heartbeating; see the late-result rule of [`Store::update_trial`].
pub const LOST_WORKER_ATTR: &str = "lost_worker";
