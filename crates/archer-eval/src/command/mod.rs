//! `[evaluator] kind = "command"`: any program as the trainer, run once per trial.
//!
//! The protocol (README, "Your training code as the evaluator"):
//! - Archer writes the trial as JSON (`arch`: the labelled architecture, `arch_string`: the
//!   space's native string, `fidelity`, `seed`, `time_limit_seconds`, `checkpoint_dir`, ...)
//!   to `trial.json` in the trial's folder, names that file in `ARCHER_TRIAL`, and also
//!   writes it to the program's stdin;
//! - the program prints JSON lines on stdout: `{"step": 3, "valid_acc": 71.2}` for
//!   intermediate values and `{"final": {"valid_acc": 74.0, ...}}` at the end; any other
//!   output goes to the trial's log file;
//! - a pruner's or scheduler's stop sends SIGTERM to the program's process group, then
//!   SIGKILL after `grace_seconds`; so do the time and memory limits;
//! - a non-zero exit, a crash, a malformed report line or a missing final report make the
//!   trial FAILED, with the exit status and the last lines of stderr as its reason.

mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archer_core::{metric, Arch, Direction, Fidelity, MetricSpec, Metrics, Report, TrialCtx};
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::config::join;
use crate::registry::{EvalKind, EvaluatorSettings};
use crate::{EvalError, Evaluator};
use process::Running;
pub use process::STDERR_TAIL_LINES;

/// How long stdout is still read after the program exited while something keeps it open.
const EXITED_DRAIN: Duration = Duration::from_millis(500);

/// The environment variable that names the trial's JSON file.
pub const TRIAL_ENV: &str = "ARCHER_TRIAL";

pub(crate) static KIND: EvalKind<CommandSettings> = EvalKind::new("command", |c, ctx| {
    Ok(Arc::new(CommandEvaluator::new(
        c.clone(),
        ctx.space.clone(),
        ctx.told.to_vec(),
        &study_dir(c, ctx.study, ctx.output),
    )?))
});

fn default_time_limit() -> f64 {
    3600.0
}
fn default_grace() -> f64 {
    10.0
}
/// Where a study's trial folders go: `trials_dir/STUDY` when set, else `OUTPUT/trials` in
/// the experiment folder, else (a study without a folder) under the system's temporary
/// folder.
fn study_dir(c: &CommandSettings, study: &str, output: Option<&Path>) -> PathBuf {
    match (&c.trials_dir, output) {
        (Some(d), _) => d.join(study),
        (None, Some(o)) => o.join("trials"),
        (None, None) => std::env::temp_dir()
            .join("archer-command-trials")
            .join(format!("{study}-{}", std::process::id())),
    }
}

/// The settings of the command evaluator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// The program and its arguments, e.g. `["python3", "train.py"]`. A program given with a
    /// `/` is taken relative to `workdir`; one without is looked up on `PATH`.
    pub command: Vec<String>,
    /// Where the program runs (default: the experiment file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<PathBuf>,
    /// Each trial's folder (`trial.json`, `log.txt`, `checkpoint/`) is
    /// `TRIALS_DIR/STUDY/trial-N`; by default `trials/trial-N` in the experiment folder.
    /// A new study under the same name in the same `trials_dir` finds the old checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials_dir: Option<PathBuf>,
    /// Wall-clock seconds a trial may run before it is stopped and FAILED.
    #[serde(default = "default_time_limit")]
    pub time_limit_seconds: f64,
    /// Resident memory (MiB) the program's process group may use before it is stopped
    /// and FAILED; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mib: Option<u64>,
    /// Seconds between SIGTERM and SIGKILL when a trial is stopped.
    #[serde(default = "default_grace")]
    pub grace_seconds: f64,
    /// Metrics the program reports that are never searched on (a test accuracy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_out: Vec<String>,
    /// Further environment variables for the program.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl EvaluatorSettings for CommandSettings {
    fn validate(&self) -> Result<(), EvalError> {
        if self.command.is_empty() || self.command[0].is_empty() {
            return Err(EvalError::InvalidSetting(
                "evaluator.command must name a program, e.g. [\"python3\", \"train.py\"]".into(),
            ));
        }
        for (key, v, max) in [
            (
                "time_limit_seconds",
                self.time_limit_seconds,
                30.0 * 86400.0,
            ),
            ("grace_seconds", self.grace_seconds, 3600.0),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return Err(EvalError::InvalidSetting(format!(
                    "evaluator.{key} = {v}: between 0 and {max} seconds"
                )));
            }
        }
        if self.memory_limit_mib == Some(0) {
            return Err(EvalError::InvalidSetting(
                "evaluator.memory_limit_mib must be at least 1".into(),
            ));
        }
        if self.env.contains_key(TRIAL_ENV) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.env may not set {TRIAL_ENV}; Archer sets it"
            )));
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let workdir = join(base, self.workdir.as_deref().unwrap_or(Path::new(".")));
        self.trials_dir = self.trials_dir.as_ref().map(|d| join(base, d));
        self.workdir = Some(workdir);
    }
}

/// The program `argv0` as it will be run: a path (relative to `workdir`) when it has a
/// `/`, else the first match on `PATH`; it must be an executable file.
pub fn resolve_program(argv0: &str, workdir: &Path) -> Result<PathBuf, EvalError> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if argv0.contains('/') {
        let p = workdir.join(argv0);
        if !p.exists() {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.command: {} does not exist",
                p.display()
            )));
        }
        if !executable(&p) {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.command: {} is not an executable file (chmod +x it, or run it through an interpreter)",
                p.display()
            )));
        }
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(argv0))
        .find(|p| executable(p))
        .ok_or_else(|| {
            EvalError::InvalidSetting(format!(
                "evaluator.command: {argv0:?} is not an executable on PATH"
            ))
        })
}

/// One line of the program's stdout.
#[derive(Debug, PartialEq)]
enum Line {
    Step {
        step: u32,
        values: BTreeMap<String, f64>,
    },
    Final(BTreeMap<String, f64>),
    Other,
}

fn numbers(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let x = v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{k:?} is {v}, not a finite number"))?;
        out.insert(k.clone(), x);
    }
    Ok(out)
}

/// A line that starts with `{` is a report and must be well formed; others are output.
fn parse_line(line: &str) -> Result<Line, String> {
    let t = line.trim();
    if !t.starts_with('{') {
        return Ok(Line::Other);
    }
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(t).map_err(|e| format!("not a JSON object: {e}"))?;
    if let Some(f) = map.remove("final") {
        if !map.is_empty() {
            return Err("a final report holds only \"final\"".into());
        }
        let serde_json::Value::Object(f) = f else {
            return Err("\"final\" must be an object of metric values".into());
        };
        return Ok(Line::Final(numbers(&f)?));
    }
    let Some(step) = map.remove("step") else {
        return Err("a report needs \"step\" (intermediate) or \"final\"".into());
    };
    let step = step
        .as_u64()
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| format!("\"step\" is {step}, not a whole number"))?;
    Ok(Line::Step {
        step,
        values: numbers(&map)?,
    })
}

/// Runs the configured program for each trial (see the module documentation).
pub struct CommandEvaluator {
    settings: CommandSettings,
    program: PathBuf,
    workdir: PathBuf,
    space: Arc<dyn SearchSpace>,
    metrics: Vec<MetricSpec>,
    /// The metric whose intermediate values a pruner judges (the first objective).
    watched: Option<String>,
    study_dir: PathBuf,
}

impl CommandEvaluator {
    /// Checks that the program exists and is executable (before any trial starts).
    pub fn new(
        settings: CommandSettings,
        space: Arc<dyn SearchSpace>,
        told: Vec<MetricSpec>,
        study_dir: &Path,
    ) -> Result<Self, EvalError> {
        settings.validate()?;
        let workdir = settings
            .workdir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        if !workdir.is_dir() {
            return Err(EvalError::InvalidSetting(format!(
                "evaluator.workdir: {} is not a folder",
                workdir.display()
            )));
        }
        let program = resolve_program(&settings.command[0], &workdir)?;
        let watched = told.first().map(|m| m.name.clone());
        let mut metrics = told;
        for h in &settings.held_out {
            if metrics.iter().any(|m| &m.name == h) {
                return Err(EvalError::InvalidSetting(format!(
                    "evaluator.held_out names {h:?}, which the experiment searches on"
                )));
            }
            metrics.push(MetricSpec::new(
                h,
                Direction::Maximize,
                true,
                "held out, reported by the command",
            ));
        }
        metrics.push(MetricSpec::new(
            metric::TRAIN_SECONDS,
            Direction::Minimize,
            false,
            "wall-clock seconds the command ran",
        ));
        // The program runs in its own folder: every path it is given is absolute.
        let study_dir = std::path::absolute(study_dir).unwrap_or_else(|_| study_dir.to_path_buf());
        Ok(CommandEvaluator {
            settings,
            program,
            workdir,
            space,
            metrics,
            watched,
            study_dir,
        })
    }

    /// The folder of trial `id`.
    pub fn trial_dir(&self, id: u64) -> PathBuf {
        self.study_dir.join(format!("trial-{id}"))
    }

    /// Stops the program (SIGTERM, then SIGKILL after the grace period) and fails the
    /// trial with `what`.
    fn stopped(&self, what: String, run: &mut Running) -> EvalError {
        run.terminate(Duration::from_secs_f64(self.settings.grace_seconds));
        self.failed(what, run)
    }

    fn failed(&self, what: String, run: &Running) -> EvalError {
        let tail = run.stderr_tail();
        EvalError::Training(if tail.is_empty() {
            what
        } else {
            format!("{what}; last lines of stderr:\n{tail}")
        })
    }
}

impl Evaluator for CommandEvaluator {
    fn name(&self) -> &str {
        "command"
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        self.metrics.clone()
    }

    fn evaluate(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, EvalError> {
        let dir = self.trial_dir(ctx.trial_id());
        self.run(arch, fidelity, ctx, &dir, "search")
    }

    fn retrain(
        &self,
        arch: &Arch,
        epochs: u32,
        seed: u64,
        output: &Path,
    ) -> Option<Result<Metrics, EvalError>> {
        let fidelity = Fidelity {
            epochs: Some(epochs),
            ..Fidelity::full()
        };
        let mut ctx = TrialCtx::new(0, seed);
        Some(self.run(arch, &fidelity, &mut ctx, output, "retrain"))
    }

    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({
            "evaluator": "command",
            "program": self.program,
            "settings": self.settings,
            "study_dir": self.study_dir,
        })
    }
}

impl CommandEvaluator {
    /// One run of the program for `arch` in folder `dir`; `mode` is `search` (a trial) or
    /// `retrain` (the winner, from scratch, at the `[retrain]` epochs).
    fn run(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
        dir: &Path,
        mode: &str,
    ) -> Result<Metrics, EvalError> {
        self.space
            .check(arch)
            .map_err(|e| EvalError::InvalidSetting(e.to_string()))?;
        let checkpoint = dir.join("checkpoint");
        let io = |what: &str, e: std::io::Error| {
            EvalError::Training(format!("{what} {}: {e}", dir.display()))
        };
        // A trial folder left by another architecture (a new study reusing trials_dir, an
        // earlier run of this folder) must not hand its checkpoint to this one.
        let owner = dir.join("arch_hash");
        let hash = self.space.canonical_hash(arch);
        if std::fs::read_to_string(&owner).is_ok_and(|h| h.trim() != hash) && checkpoint.exists() {
            std::fs::remove_dir_all(&checkpoint)
                .map_err(|e| io("cannot clear the checkpoint of", e))?;
        }
        std::fs::create_dir_all(&checkpoint).map_err(|e| io("cannot create", e))?;
        std::fs::write(&owner, format!("{hash}\n"))
            .map_err(|e| io("cannot write arch_hash in", e))?;
        let trial_file = dir.join("trial.json");
        let log_file = dir.join("log.txt");
        let input = serde_json::json!({
            "mode": mode,
            "trial": ctx.trial_id(),
            "space": self.space.name(),
            "space_version": self.space.version(),
            "arch": self.space.labelled(arch),
            "arch_string": self.space.format(arch),
            "fidelity": fidelity,
            "seed": ctx.seed(),
            "time_limit_seconds": self.settings.time_limit_seconds,
            "checkpoint_dir": checkpoint,
            "resume_step": ctx.resume_step(),
            "log_file": log_file,
            "report_metric": self.watched,
        });
        let text = serde_json::to_string_pretty(&input).unwrap_or_default() + "\n";
        std::fs::write(&trial_file, &text).map_err(|e| io("cannot write trial.json in", e))?;
        let mut argv = vec![self.program.display().to_string()];
        argv.extend(self.settings.command[1..].iter().cloned());
        let mut env: Vec<(String, String)> = self.settings.env.clone().into_iter().collect();
        env.push((TRIAL_ENV.into(), trial_file.display().to_string()));
        let mut run = Running::spawn(&argv, &self.workdir, &env, &text, &log_file)
            .map_err(|e| EvalError::Training(format!("cannot start {}: {e}", argv.join(" "))))?;
        let grace = Duration::from_secs_f64(self.settings.grace_seconds);
        let deadline = run.started + Duration::from_secs_f64(self.settings.time_limit_seconds);
        let mut next_memory_check = Instant::now();
        let mut last = None;
        // When the program has exited but something it started keeps stdout open, the
        // lines already written are read for a moment longer, then the result stands.
        let mut exited_at: Option<Instant> = None;
        // Wall seconds charged to the trial through `ctx` so far.
        let mut charged = 0.0;
        loop {
            match run.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    run.log(&line);
                    match parse_line(&line) {
                        Ok(Line::Other) => {}
                        Ok(Line::Final(m)) => last = Some(m),
                        Ok(Line::Step { step, values }) => {
                            let watched = self.watched.as_ref().and_then(|w| values.get(w));
                            if let Some(&v) = watched {
                                // The trial's cost is the program's wall time so far, so a
                                // trial stopped or paused here is charged what it used.
                                let ran = run.started.elapsed().as_secs_f64();
                                ctx.charge_seconds(ran - charged);
                                charged = ran;
                                if ctx.report(step, v) == Report::Prune {
                                    run.terminate(grace);
                                    return Err(EvalError::Pruned { step });
                                }
                            }
                        }
                        Err(reason) => {
                            return Err(self.stopped(
                                format!("malformed report on stdout ({reason}): {line}"),
                                &mut run,
                            ));
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if run.try_wait().is_some() {
                        let at = *exited_at.get_or_insert_with(Instant::now);
                        if at.elapsed() >= EXITED_DRAIN {
                            break;
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= deadline {
                return Err(self.stopped(
                    format!(
                        "exceeded its time limit of {} s (evaluator.time_limit_seconds)",
                        self.settings.time_limit_seconds
                    ),
                    &mut run,
                ));
            }
            if let Some(limit) = self.settings.memory_limit_mib {
                if Instant::now() >= next_memory_check {
                    next_memory_check = Instant::now() + Duration::from_millis(250);
                    if let Some(used) = run.resident_mib().filter(|&u| u > limit) {
                        return Err(self.stopped(
                            format!(
                                "used {used} MiB, over its memory limit of {limit} MiB (evaluator.memory_limit_mib)"
                            ),
                            &mut run,
                        ));
                    }
                }
            }
        }
        // stdout is closed: the program is exiting (or closed it and hangs on).
        let Some(status) = run.wait_until(deadline) else {
            return Err(self.stopped(
                format!(
                    "closed its stdout but did not exit within its time limit of {} s",
                    self.settings.time_limit_seconds
                ),
                &mut run,
            ));
        };
        let seconds = run.started.elapsed().as_secs_f64();
        ctx.charge_seconds(seconds - charged);
        if !status.success() {
            use std::os::unix::process::ExitStatusExt;
            let how = match (status.code(), status.signal()) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(s)) => format!("was killed by signal {s}"),
                _ => format!("ended with {status}"),
            };
            return Err(self.failed(format!("{} {how}", argv.join(" ")), &run));
        }
        let Some(values) = last else {
            return Err(self.failed(
                format!(
                    "{} exited without a final report ({{\"final\": {{...}}}} on stdout)",
                    argv.join(" ")
                ),
                &run,
            ));
        };
        let searched = self.watched.as_ref().filter(|_| mode == "search");
        if let Some(w) = searched.filter(|w| !values.contains_key(*w)) {
            return Err(self.failed(
                format!("the final report has no {w:?}, the metric searched on"),
                &run,
            ));
        }
        let mut m = Metrics::new();
        for (k, v) in values {
            m.insert(&k, v);
        }
        if m.get(metric::TRAIN_SECONDS).is_none() {
            m.insert(metric::TRAIN_SECONDS, seconds);
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_parse_and_malformed_ones_are_named() {
        assert_eq!(parse_line("epoch 3 done"), Ok(Line::Other));
        assert_eq!(
            parse_line(r#"{"step": 3, "valid_acc": 71.2}"#),
            Ok(Line::Step {
                step: 3,
                values: [("valid_acc".to_string(), 71.2)].into()
            })
        );
        assert_eq!(
            parse_line(r#"{"final": {"valid_acc": 74.0}}"#),
            Ok(Line::Final([("valid_acc".to_string(), 74.0)].into()))
        );
        for bad in [
            r#"{"step": 3, "valid_acc": "high"}"#,
            r#"{"valid_acc": 1}"#,
            r#"{"step": -1}"#,
            r#"{"final": 3}"#,
            r#"{"step": 1"#,
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }
}
