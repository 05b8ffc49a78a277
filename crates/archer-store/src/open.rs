use std::path::Path;

use crate::{PostgresStore, SqliteStore, Store, StoreError};

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Opens a store: a `postgres://` or `postgresql://` URL selects PostgreSQL (a missing
/// password comes from `PGPASSWORD` or `.pgpass`), anything else is the path of a SQLite
/// file.
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if is_postgres_url(location) {
        Ok(Box::new(connect_postgres(location)?))
    } else {
        Ok(Box::new(SqliteStore::open(Path::new(location))?))
    }
}

/// Opens a store to read only, as [`open`] does otherwise: a SQLite file must exist and is
/// opened read-only (never created or migrated); PostgreSQL is connected to as usual (the
/// caller only reads).
pub fn open_read_only(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if is_postgres_url(location) {
        Ok(Box::new(connect_postgres(location)?))
    } else {
        Ok(Box::new(SqliteStore::open_read_only(Path::new(location))?))
    }
}

/// `url` with any password replaced by `***` (`postgres://user:***@host/db`), for every
/// place a store location is shown or written down. Anything that is not a PostgreSQL URL
/// is returned as it is.
pub fn redact_url(url: &str) -> String {
    if !is_postgres_url(url) {
        return url.to_string();
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    // A `password=` query parameter (libpq accepts one) too.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// The parts of a PostgreSQL URL that `.pgpass` lines match on.
struct UrlParts {
    user: String,
    password: Option<String>,
    host: String,
    port: String,
    database: String,
}

fn url_parts(url: &str) -> UrlParts {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (u.to_string(), Some(p.to_string())),
        None => (userinfo.to_string(), None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (hostport.to_string(), "5432".to_string()),
    };
    let database = tail
        .trim_start_matches('/')
        .split('?')
        .next()
        .unwrap_or("")
        .to_string();
    UrlParts {
        user,
        password,
        host,
        port,
        database,
    }
}

/// The password for a URL that carries none (or the redacted `***`), as PostgreSQL's own
/// tools find it: `PGPASSWORD`, else the first matching line of `PGPASSFILE` or
/// `~/.pgpass` (`host:port:database:user:password`, `*` matching anything).
fn password_for(parts: &UrlParts) -> Option<String> {
    if let Ok(p) = std::env::var("PGPASSWORD") {
        return Some(p);
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(file).ok()?;
    let user = if parts.user.is_empty() {
        std::env::var("PGUSER").unwrap_or_default()
    } else {
        parts.user.clone()
    };
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let fields: Vec<&str> = line.splitn(5, ':').collect();
        let [h, p, d, u, pw] = fields[..] else {
            continue;
        };
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if matches(h, &parts.host)
            && matches(p, &parts.port)
            && matches(d, &parts.database)
            && matches(u, &user)
        {
            return Some(pw.to_string());
        }
    }
    None
}

/// `url` with the password filled in from [`password_for`] when it has none.
fn with_password(url: &str) -> String {
    let parts = url_parts(url);
    if parts.password.as_deref().is_some_and(|p| p != "***") {
        return url.to_string();
    }
    let Some(password) = password_for(&parts) else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{scheme}://{}:{encoded}@{hostport}{tail}", parts.user)
}

/// Connects to PostgreSQL at `url`, taking a missing password from `PGPASSWORD` or
/// `.pgpass`; errors show the URL redacted.
pub fn connect_postgres(url: &str) -> Result<PostgresStore, StoreError> {
    PostgresStore::connect(&with_password(url)).map_err(|e| match e {
        StoreError::Open { reason, .. } => StoreError::Open {
            location: redact_url(url),
            reason,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        assert_eq!(
            redact_url("postgres://alice:s3cret@db.example:5432/archer?sslmode=disable&password=x"),
            "postgres://alice:***@db.example:5432/archer?sslmode=disable&password=***"
        );
        assert_eq!(redact_url("postgres://bob@h/db"), "postgres://bob@h/db");
        assert_eq!(redact_url("study.db"), "study.db");
        assert_eq!(redact_url("postgresql://u:p@h"), "postgresql://u:***@h");
    }

    #[test]
    fn url_parts_are_what_pgpass_matches() {
        let p = url_parts("postgres://u:pw@host:6000/db?x=1");
        assert_eq!(
            (
                p.user.as_str(),
                p.password.as_deref(),
                p.host.as_str(),
                p.port.as_str(),
                p.database.as_str()
            ),
            ("u", Some("pw"), "host", "6000", "db")
        );
        assert_eq!(url_parts("postgres://u@h/db").port, "5432");
    }
}
