use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::RunError;

/// The folder of one experiment, held under an exclusive lock for as long as this value
/// lives, so that two processes never drive the same experiment.
pub struct ExperimentDir {
    path: PathBuf,
    _lock: File,
}

const LOCK: &str = "archer.lock";
/// The SQLite database inside the folder (when the study is not on PostgreSQL).
pub const STORE_FILE: &str = "study.db";
/// Where the folder records its store location and provenance.
pub const RUN_FILE: &str = "run.json";

impl ExperimentDir {
    /// A new experiment folder; refuses a folder that already holds anything.
    pub fn create(path: &Path) -> Result<Self, RunError> {
        if path.exists() {
            let used = std::fs::read_dir(path)
                .map_err(|e| RunError::io(path, e))?
                .next()
                .is_some();
            if used {
                return Err(RunError::OutputExists {
                    path: path.to_path_buf(),
                });
            }
        }
        std::fs::create_dir_all(path).map_err(|e| RunError::io(path, e))?;
        Self::lock(path)
    }

    /// An existing experiment folder (to resume or inspect).
    pub fn open(path: &Path) -> Result<Self, RunError> {
        if !path.join(RUN_FILE).is_file() {
            return Err(RunError::io(
                path,
                format!("not an experiment folder (no {RUN_FILE}); `archer search` creates one"),
            ));
        }
        Self::lock(path)
    }

    fn lock(path: &Path) -> Result<Self, RunError> {
        let lock_path = path.join(LOCK);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| RunError::io(&lock_path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
                return Err(RunError::Busy {
                    path: path.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(RunError::io(&lock_path, e)),
        }
        file.set_len(0)
            .and_then(|_| writeln!(file, "pid {}", std::process::id()))
            .map_err(|e| RunError::io(&lock_path, e))?;
        Ok(ExperimentDir {
            path: path.to_path_buf(),
            _lock: file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite file of this experiment.
    pub fn sqlite_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }
}
