use std::path::Path;

use crate::{PostgresStore, SqliteStore, Store, StoreError};

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Opens a store: a `postgres://` or `postgresql://` URL selects PostgreSQL, anything else
/// is the path of a SQLite file.
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if is_postgres_url(location) {
        Ok(Box::new(PostgresStore::connect(location)?))
    } else {
        Ok(Box::new(SqliteStore::open(Path::new(location))?))
    }
}
