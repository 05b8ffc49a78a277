//! Which studies a dashboard shows: an experiment folder, a folder of experiment folders, or
//! every study of a PostgreSQL database. Each gets a URL-safe key; the server reaches only
//! the studies listed here, so a path parameter can never name anything else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use archer_runner::{RUN_FILE, STORE_FILE};

use crate::UiError;

/// One study the dashboard may show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudySource {
    /// The study's name in the URL: `[A-Za-z0-9_.-]+`, unique within the catalog.
    pub key: String,
    /// What `archer_store::open` takes: the SQLite file or the PostgreSQL URL.
    pub location: String,
    /// The study's name in that store.
    pub study: String,
    /// The experiment folder, when the study came from one.
    pub folder: Option<PathBuf>,
}

/// Folders below a target searched for experiment folders.
const MAX_DEPTH: usize = 3;

/// The studies behind `targets`, keyed by URL key, in the order found.
pub fn discover(targets: &[String]) -> Result<Vec<StudySource>, UiError> {
    let mut found = Vec::new();
    for target in targets {
        let before = found.len();
        if archer_store::is_postgres_url(target) {
            let mut store = archer_store::open_read_only(target)?;
            for record in store.studies()? {
                found.push((record.name.clone(), target.clone(), record.name, None));
            }
        } else {
            let mut folders = Vec::new();
            experiment_folders(Path::new(target), 0, &mut folders)?;
            for folder in folders {
                let (location, study) = folder_study(&folder)?;
                let label = folder
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| study.clone().unwrap_or_default());
                match study {
                    Some(name) => found.push((label, location, name, Some(folder))),
                    // A folder whose run.json names no study: every study of its store.
                    None => {
                        let mut store = archer_store::open_read_only(&location)?;
                        for record in store.studies()? {
                            let label = format!("{label}-{}", record.name);
                            found.push((
                                label,
                                location.clone(),
                                record.name,
                                Some(folder.clone()),
                            ));
                        }
                    }
                }
            }
        }
        if found.len() == before {
            return Err(UiError::NoStudies(archer_store::redact_url(target)));
        }
    }
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    Ok(found
        .into_iter()
        .map(|(label, location, study, folder)| {
            let base = slug(&label);
            let n = keys.entry(base.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 { base } else { format!("{base}-{n}") };
            StudySource {
                key,
                location,
                study,
                folder,
            }
        })
        .collect())
}

/// `text` with every character outside `[A-Za-z0-9_.-]` replaced by `-` (never empty, never
/// `.` or `..`).
pub fn slug(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        "study".to_string()
    } else {
        s
    }
}

/// Whether `key` could be a catalog key at all (checked before any lookup).
pub fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn experiment_folders(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), UiError> {
    if dir.join(RUN_FILE).is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if depth == 0 && !dir.is_dir() {
        return Err(UiError::Target {
            path: dir.to_path_buf(),
            reason: "no such folder".into(),
        });
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| UiError::Target {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut children: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    children.sort();
    for child in children {
        experiment_folders(&child, depth + 1, out)?;
    }
    Ok(())
}

/// The store location and study name an experiment folder's run.json records.
fn folder_study(folder: &Path) -> Result<(String, Option<String>), UiError> {
    let path = folder.join(RUN_FILE);
    let bad = |reason: String| UiError::Target {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let run: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let storage = run["storage"].as_str().unwrap_or(STORE_FILE);
    let location = if storage == STORE_FILE {
        let file = folder.join(STORE_FILE);
        if !file.is_file() {
            return Err(bad(format!("{} is missing", file.display())));
        }
        file.to_string_lossy().into_owned()
    } else {
        storage.to_string()
    };
    Ok((location, run["study"].as_str().map(String::from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe_and_never_climb() {
        assert_eq!(slug("nb201 rea/seed 1"), "nb201-rea-seed-1");
        assert_eq!(slug(".."), "study");
        assert_eq!(slug(""), "study");
        assert!(is_key("nb201-rea.2"));
        assert!(!is_key(".."));
        assert!(!is_key("a/b"));
        assert!(!is_key("%2e%2e"));
    }
}
