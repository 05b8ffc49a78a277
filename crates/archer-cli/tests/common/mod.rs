//! Helpers shared by the `archer` binary's integration tests.
// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs the `archer` binary in `cwd` and waits for it.
pub fn archer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}
