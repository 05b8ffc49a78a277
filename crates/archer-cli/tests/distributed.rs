//! Three processes (the search and two workers) run one multi-objective, constrained study
//! in PostgreSQL; one worker is SIGKILLed while it holds a running trial. Every trial
//! completes exactly once, and the killed worker's trial is re-run by another after its
//! heartbeat goes stale. The other worker's database sessions are ended mid-study, as a
//! server restart would end them; it reconnects and carries on. The URL carries a password,
//! which nothing prints or writes down.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::repo;

fn url() -> String {
    std::env::var("ARCHER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/archer_test".into())
}

fn ensure_database() {
    let url = url();
    let (base, db) = url.rsplit_once('/').unwrap();
    let mut admin = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is required: {e}"));
    if admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .unwrap()
        .is_none()
    {
        let _ = admin.batch_execute(&format!("CREATE DATABASE \"{db}\""));
    }
}

const TRIALS: i64 = 40;

/// The id of study `name` once the search `main` has created it (until the search has
/// migrated a fresh database, the table does not exist yet).
fn wait_for_study(
    db: &mut postgres::Client,
    name: &str,
    main: &mut Child,
    deadline: Instant,
) -> i64 {
    loop {
        if let Some(r) = db
            .query_opt("SELECT id FROM archer.studies WHERE name = $1", &[&name])
            .ok()
            .flatten()
        {
            return r.get(0);
        }
        if let Some(status) = main.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(main.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the search exited ({status}) before its study appeared: {err}");
        }
        assert!(Instant::now() < deadline, "the study never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn three_workers_one_killed_mid_trial_every_trial_completes_once() {
    ensure_database();
    let name = format!(
        "dist-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("dist.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[study]
name = "{name}"
seed = 5
heartbeat_seconds = 0.2
grace_seconds = 1.0

[space]
name = "nb201"

[strategy]
name = "nsga2"
population = 8

[[objective]]
metric = "valid_acc"
direction = "max"

[[objective]]
metric = "params_m"
direction = "min"

[[constraint]]
metric = "params_m"
max = 1.0

[evaluator]
kind = "nb201"
table = "{}"
wall_seconds_per_query = 0.05

[budget]
trials = {TRIALS}
"#,
            repo()
                .join("data/nas-bench-201/nb201_results.csv.gz")
                .display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    // Trust authentication ignores the password, so it can be any secret.
    const SECRET: &str = "Sw0rdf1sh-never-printed";
    let url = url().replacen("postgres@", &format!("postgres:{SECRET}@"), 1);
    assert!(
        url.contains(SECRET),
        "the test URL names the user postgres: {url}"
    );
    let mut main = spawn(&[
        "search",
        cfg.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--storage",
        &url,
        "-q",
    ]);
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let study_id = wait_for_study(&mut db, &name, &mut main, deadline);
    // worker-a's sessions carry their own application name, so the test can end them.
    let app_a = format!("{name}-a");
    let url_a = format!("{url}?application_name={app_a}");
    let a = spawn(&[
        "worker",
        "--storage",
        &url_a,
        "--study",
        &name,
        "--id",
        "worker-a",
        "-q",
    ]);
    let mut b = spawn(&[
        "worker",
        "--storage",
        &url,
        "--study",
        &name,
        "--id",
        "worker-b",
        "-q",
    ]);

    // Kill worker-b while it holds a RUNNING trial.
    let victim: i64 = loop {
        let row = db
            .query_opt(
                "SELECT number FROM archer.trials WHERE study_id = $1 AND worker = 'worker-b' AND state = 'RUNNING'",
                &[&study_id],
            )
            .unwrap();
        if let Some(r) = row {
            break r.get(0);
        }
        assert!(Instant::now() < deadline, "worker-b never ran a trial");
        std::thread::sleep(Duration::from_millis(5));
    };
    b.kill().unwrap(); // SIGKILL

    // End worker-a's sessions twice, a little apart, as a database restart would. On a busy
    // machine worker-a may still be connecting (or reconnecting): wait for its session.
    for _ in 0..2 {
        while db
            .query(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = $1",
                &[&app_a],
            )
            .unwrap()
            .is_empty()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let ended = db
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&app_a],
            )
            .unwrap()
            .len();
        assert!(ended >= 1, "worker-a had no session to end");
        std::thread::sleep(Duration::from_millis(300));
    }

    let main_out = main.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&main_out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&main_out.stderr).into_owned();
    assert!(main_out.status.success(), "search failed: {stderr}");
    assert!(stdout.contains("trial budget reached"), "{stdout}");
    let a_out = a.wait_with_output().unwrap();
    assert!(
        a_out.status.success(),
        "worker-a failed: {}",
        String::from_utf8_lossy(&a_out.stderr)
    );
    let b_out = b.wait_with_output().unwrap();
    for (what, text) in [
        ("search stdout", stdout.clone()),
        ("search stderr", stderr),
        (
            "worker-a",
            String::from_utf8_lossy(&a_out.stdout).into_owned(),
        ),
        (
            "worker-a stderr",
            String::from_utf8_lossy(&a_out.stderr).into_owned(),
        ),
        (
            "worker-b",
            String::from_utf8_lossy(&b_out.stdout).into_owned(),
        ),
    ] {
        assert!(!text.contains(SECRET), "{what} shows the password: {text}");
    }

    let rows = db
        .query("SELECT number, state, attempts, worker FROM archer.trials WHERE study_id = $1 ORDER BY number", &[&study_id])
        .unwrap();
    let numbers: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        numbers,
        (0..rows.len() as i64).collect::<Vec<_>>(),
        "none lost, none twice"
    );
    assert!(rows.iter().all(|r| r.get::<_, String>(1) == "COMPLETE"));
    // Proposals over the params limit were rejected before evaluation (attempts 0); the
    // budget counts the evaluated ones.
    let evaluated = rows.iter().filter(|r| r.get::<_, i64>(2) > 0).count() as i64;
    assert_eq!(evaluated, TRIALS);
    let redone = rows.iter().find(|r| r.get::<_, i64>(0) == victim).unwrap();
    assert!(
        redone.get::<_, i64>(2) >= 2,
        "the killed worker's trial {victim} was re-run"
    );
    assert_ne!(
        redone.get::<_, Option<String>>(3).as_deref(),
        Some("worker-b")
    );
    let workers: std::collections::HashSet<String> = rows
        .iter()
        .filter_map(|r| r.get::<_, Option<String>>(3))
        .collect();
    assert!(workers.len() >= 2, "{workers:?}");
    for f in ["best.json", "trials.csv", "summary.json"] {
        assert!(out.join(f).is_file(), "missing export {f}");
    }
    let status = Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(["status", out.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let status_text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(!status_text.contains(SECRET), "status shows the password");
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(s["complete"].as_i64(), Some(rows.len() as i64));
    assert_eq!(s["objectives"].as_array().map(|a| a.len()), Some(2));
    assert!(s["pareto_front"].as_array().is_some_and(|f| !f.is_empty()));
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(SECRET),
                "{} holds the password",
                path.display()
            );
        }
    }
    let export = Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(["export", out.to_str().unwrap(), "--pareto"])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let front: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    let front = front.as_array().unwrap();
    assert!(!front.is_empty());
    assert!(front
        .iter()
        .all(|t| t["metrics"]["params_m"].as_f64().unwrap() <= 1.0));
}

/// A declared space and the command evaluator over PostgreSQL: the search and a worker each
/// run the training script for their trials, and every trial completes once.
#[test]
fn a_worker_runs_training_commands_of_a_declared_space() {
    use std::os::unix::fs::PermissionsExt;
    ensure_database();
    let name = format!(
        "cmd-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("space.toml"),
        "name = \"cmd\"\nversion = 1\n[[int]]\nname = \"width\"\nlow = 1\nhigh = 64\n[[float]]\nname = \"lr\"\nlow = 0.001\nhigh = 0.1\nlog = true\n",
    )
    .unwrap();
    let script = tmp.path().join("train.sh");
    std::fs::write(
        &script,
        "#!/usr/bin/env bash\nw=$(sed -n 's/.*\"width\": \\([0-9]*\\).*/\\1/p' \"$ARCHER_TRIAL\")\nsleep 0.3\necho \"{\\\"final\\\": {\\\"valid_acc\\\": $w}}\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = tmp.path().join("cmd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[study]\nname = \"{name}\"\nseed = 2\nheartbeat_seconds = 0.2\ngrace_seconds = 2.0\n\n[space]\nfile = \"space.toml\"\n\n[strategy]\nname = \"rea\"\npopulation = 4\nsample = 2\n\n[evaluator]\nkind = \"command\"\ncommand = [\"./train.sh\"]\n\n[objective]\nmetric = \"valid_acc\"\n\n[budget]\ntrials = 16\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let url = url();
    let mut main = spawn(&[
        "search",
        cfg.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--storage",
        &url,
        "-q",
    ]);
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let study_id = wait_for_study(
        &mut db,
        &name,
        &mut main,
        Instant::now() + Duration::from_secs(60),
    );
    let worker = spawn(&[
        "worker",
        "--storage",
        &url,
        "--study",
        &name,
        "--id",
        "cmd-worker",
        "-q",
    ]);
    let main_out = main.wait_with_output().unwrap();
    assert!(
        main_out.status.success(),
        "search failed: {}",
        String::from_utf8_lossy(&main_out.stderr)
    );
    let w_out = worker.wait_with_output().unwrap();
    assert!(
        w_out.status.success(),
        "worker failed: {}",
        String::from_utf8_lossy(&w_out.stderr)
    );
    let rows = db
        .query(
            "SELECT state, worker FROM archer.trials WHERE study_id = $1",
            &[&study_id],
        )
        .unwrap();
    assert_eq!(rows.len(), 16);
    assert!(rows.iter().all(|r| r.get::<_, String>(0) == "COMPLETE"));
    let by_worker = rows
        .iter()
        .filter(|r| r.get::<_, Option<String>>(1).as_deref() == Some("cmd-worker"))
        .count();
    assert!(by_worker >= 1, "the worker ran no trial");
    assert!(by_worker < 16, "the search ran no trial");
}
