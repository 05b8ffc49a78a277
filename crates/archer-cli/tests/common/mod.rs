//! Helpers shared by the `archer` binary's integration tests.
// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Held by every test of a binary that trains with libtorch in an `archer` process, so that
/// they run one at a time: two such processes at once put four libtorch threads on this
/// machine's two cores, and the oversubscription made `oneshot.rs` take 385 s instead of 242 s
/// one at a time (`train.rs`: 133 s against 82 s). A test that failed while holding it does
/// not block the others.
pub fn one_trainer_at_a_time() -> MutexGuard<'static, ()> {
    static TRAINER: Mutex<()> = Mutex::new(());
    TRAINER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The first `train` training and `test` test images of the bundled MNIST subset
/// (`data/mnist-small`, 10,000 and 2,000), written as plain IDX files into `dir`, which is
/// returned. For tests whose retraining on all training images would dominate their time.
pub fn mnist_prefix(dir: &Path, train: usize, test: usize) -> PathBuf {
    use std::io::Read;
    std::fs::create_dir_all(dir).unwrap();
    let source = repo().join("data/mnist-small");
    for (file, count, header, record) in [
        ("train-images-idx3-ubyte", train, 16, 28 * 28),
        ("train-labels-idx1-ubyte", train, 8, 1),
        ("t10k-images-idx3-ubyte", test, 16, 28 * 28),
        ("t10k-labels-idx1-ubyte", test, 8, 1),
    ] {
        let packed = std::fs::File::open(source.join(format!("{file}.gz"))).unwrap();
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(packed)
            .read_to_end(&mut bytes)
            .unwrap();
        let have = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert!(count <= have, "{file} has {have} records, not {count}");
        bytes.truncate(header + count * record);
        bytes[4..8].copy_from_slice(&(count as u32).to_be_bytes());
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    dir.to_path_buf()
}

/// The text edit that points a config at [`mnist_prefix`] instead of the bundled subset:
/// (the subset's path, the prefix's path), the prefix written into `dir`.
pub fn mnist_prefix_edit(dir: &Path, train: usize, test: usize) -> (String, String) {
    let full = repo().join("data/mnist-small");
    let prefix = mnist_prefix(dir, train, test);
    (
        full.to_str().unwrap().to_string(),
        prefix.to_str().unwrap().to_string(),
    )
}

/// A finished command's stdout and stderr, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The only trial of a finished one-trial search, from its export.
pub fn only_trial(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("trials.jsonl")).unwrap();
    let trials: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(trials.len(), 1, "{text}");
    trials[0].clone()
}

/// Runs the `archer` binary in `cwd` and waits for it.
pub fn archer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// `archer search CFG --output DIR -q`, or `archer resume DIR -q` once DIR holds a run;
/// stderr piped, stdout discarded.
pub fn search_or_resume(cfg: &Path, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archer"));
    if dir.join("run.json").exists() {
        c.args(["resume", dir.to_str().unwrap(), "-q"]);
    } else {
        c.args([
            "search",
            cfg.to_str().unwrap(),
            "--output",
            dir.to_str().unwrap(),
            "-q",
        ]);
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// Rows of the folder's SQLite store matching `sql` (a `SELECT COUNT(*)`), 0 before the
/// store exists or while it cannot be read.
pub fn count_rows(dir: &Path, sql: &str) -> usize {
    let db = dir.join("study.db");
    if !db.exists() {
        return 0;
    }
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(&db, flags)
        .and_then(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)))
        .map_or(0, |n| n as usize)
}

/// Starts the search (or its resume) `kills` times and SIGKILLs it each time: three kills in
/// four land once `progress` has grown by 1 to `spread` (so they always interrupt work in
/// progress whatever the machine's speed), every fourth at a random moment of `startup`.
/// Panics if a run ends on its own first.
pub fn kill_repeatedly(
    cfg: &Path,
    dir: &Path,
    kills: usize,
    spread: usize,
    startup: Duration,
    progress: &dyn Fn(&Path) -> usize,
) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for kill in 0..kills {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = search_or_resume(cfg, dir).spawn().unwrap();
        if kill % 4 == 3 {
            std::thread::sleep(startup.mul_f64((x % 1000) as f64 / 1000.0));
        } else {
            let target = progress(dir) + 1 + (x as usize % spread);
            while progress(dir) < target && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(
                status.success(),
                "a run ended on its own with an error: {err}"
            );
            panic!("the search finished after {kill} kills; make it longer");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
}
