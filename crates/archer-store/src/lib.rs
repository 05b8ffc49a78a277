//! Durable record of studies and trials. SQLite (one file per experiment folder, WAL mode) is
//! the embedded default; PostgreSQL, selected by a `postgres://` URL, lets any number of
//! workers on any machines share one study. One conformance suite runs against both.

mod codec;
mod error;
mod open;
mod postgres_store;
mod record;
mod sqlite_store;
mod store;

pub use error::StoreError;
pub use open::{is_postgres_url, open};
pub use postgres_store::PostgresStore;
pub use record::{NewStudy, StudyId, StudyRecord};
pub use sqlite_store::SqliteStore;
pub use store::Store;

/// Schema version this build writes; older files are migrated when opened.
pub const SCHEMA_VERSION: i64 = 1;
