use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use archer_core::{History, Trial};
use serde_json::json;

use crate::{Experiment, RunError, StudySummary, RUN_FILE};

/// Where a study's results are exported. The study's store is the durable record; a recorder
/// writes what people read, at the start and at the end of each run.
pub trait Recorder {
    fn begin(&mut self, experiment: &Experiment) -> Result<(), RunError>;
    fn end(
        &mut self,
        summary: &StudySummary,
        history: &History,
        strategy_state: &serde_json::Value,
        experiment: &Experiment,
    ) -> Result<(), RunError>;
}

/// Keeps nothing: for benchmarks, where the summary is all that is needed.
pub struct NullRecorder;

impl Recorder for NullRecorder {
    fn begin(&mut self, _: &Experiment) -> Result<(), RunError> {
        Ok(())
    }
    fn end(
        &mut self,
        _: &StudySummary,
        _: &History,
        _: &serde_json::Value,
        _: &Experiment,
    ) -> Result<(), RunError> {
        Ok(())
    }
}

/// Writes the experiment folder:
/// - at the first start: `experiment.toml` (the configuration as run: paths resolved,
///   overrides applied) and `run.json` (provenance: versions, seed, command line, store,
///   data files and their SHA-256);
/// - at the end of every run (first or resumed): `trials.jsonl`, `trials.csv`, `best.json`,
///   `summary.json`, `anytime.csv`, `strategy_state.json`.
pub struct DirRecorder {
    dir: PathBuf,
    storage: String,
}

impl DirRecorder {
    /// `storage`: where the study's store is (`study.db` or a PostgreSQL URL), for `run.json`.
    pub fn new(dir: impl Into<PathBuf>, storage: &str) -> Self {
        DirRecorder {
            dir: dir.into(),
            // A password in a PostgreSQL URL is never written down: the store takes it from
            // PGPASSWORD or ~/.pgpass when the study is opened again.
            storage: archer_store::redact_url(storage),
        }
    }

    fn write(&self, name: &str, contents: &str) -> Result<(), RunError> {
        write_atomically(&self.dir.join(name), contents.as_bytes())
    }
}

/// Writes via a temporary file and a rename, so a crash never leaves a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = path.with_extension("tmp");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| RunError::io(path, e))
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).expect("plain data serialises") + "\n"
}

impl Recorder for DirRecorder {
    fn begin(&mut self, experiment: &Experiment) -> Result<(), RunError> {
        if self.dir.join(RUN_FILE).exists() {
            return Ok(()); // resuming: keep the first run's record
        }
        self.write("experiment.toml", &experiment.config.to_toml())?;
        let space = &experiment.space;
        let run = json!({
            "archer_version": env!("CARGO_PKG_VERSION"),
            "created_at": chrono::Utc::now(),
            "command": std::env::args().map(|a| archer_store::redact_url(&a)).collect::<Vec<_>>(),
            "study": experiment.config.study.name,
            "storage": self.storage,
            "seed": experiment.config.study.seed,
            "space": {"name": space.name(), "version": space.version(), "size": space.size().to_string()},
            "strategy": experiment.config.strategy,
            "objectives": experiment.objectives,
            "constraints": experiment.constraints,
            "evaluator": experiment.evaluator.provenance(),
            "zero_cost": experiment.zero_cost.as_ref().map(|z| z.provenance()),
        });
        self.write(RUN_FILE, &pretty(&run))
    }

    fn end(
        &mut self,
        summary: &StudySummary,
        history: &History,
        strategy_state: &serde_json::Value,
        experiment: &Experiment,
    ) -> Result<(), RunError> {
        let space = &experiment.space;
        let mut jsonl = String::new();
        for t in history.trials() {
            jsonl.push_str(&serde_json::to_string(t).expect("plain data serialises"));
            jsonl.push('\n');
        }
        self.write("trials.jsonl", &jsonl)?;
        self.write(
            "trials.csv",
            &trials_csv(history, |t| space.format(&t.arch)),
        )?;
        if let Some(best) = &summary.best {
            let best_json = json!({
                "trial": best.id,
                "arch_str": space.format(&best.arch),
                "arch_labelled": space.labelled(&best.arch),
                "arch": best.arch,
                "arch_hash": best.arch_hash,
                "objective": experiment.primary(),
                "score": best.score,
                "metrics": best.metrics,
            });
            self.write("best.json", &pretty(&best_json))?;
        }
        let mut s = serde_json::to_value(summary).expect("plain data serialises");
        if let Some(best) = &summary.best {
            s["best_arch_str"] = json!(space.format(&best.arch));
        }
        if !summary.ask_seconds.is_empty() {
            s["ask_ms"] = ask_ms(&summary.ask_seconds);
        }
        if experiment.objectives.len() > 1 {
            let front: Vec<serde_json::Value> = history
                .pareto_front()
                .into_iter()
                .map(|t| {
                    json!({
                        "trial": t.id,
                        "arch_str": space.format(&t.arch),
                        "arch_labelled": space.labelled(&t.arch),
                        "arch": t.arch,
                        "metrics": t.metrics,
                    })
                })
                .collect();
            self.write(
                "pareto.json",
                &pretty(&json!({"objectives": experiment.objectives, "front": front})),
            )?;
        }
        self.write("summary.json", &pretty(&s))?;
        let mut anytime = String::from("trials,sim_seconds,incumbent_trial,incumbent_score\n");
        for p in &summary.trajectory {
            let score = experiment
                .primary()
                .score(&p.incumbent_metrics)
                .unwrap_or(f64::NAN);
            anytime.push_str(&format!(
                "{},{},{},{}\n",
                p.trials, p.sim_seconds, p.incumbent, score
            ));
        }
        self.write("anytime.csv", &anytime)?;
        self.write("strategy_state.json", &pretty(strategy_state))
    }
}

/// One row per trial; metric columns are the union of all metric names, sorted.
fn trials_csv(history: &History, format: impl Fn(&Trial) -> String) -> String {
    let mut names: Vec<&str> = history
        .trials()
        .iter()
        .flat_map(|t| t.metrics.names())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "id",
        "state",
        "arch",
        "arch_hash",
        "score",
        "feasible",
        "violation",
        "cost_seconds",
        "attempts",
        "error",
    ];
    header.extend(&names);
    w.write_record(&header).expect("in-memory write");
    for t in history.trials() {
        let mut row = vec![
            t.id.to_string(),
            t.state.as_str().to_string(),
            format(t),
            t.arch_hash.clone(),
            t.score.map(|s| s.to_string()).unwrap_or_default(),
            t.feasible.to_string(),
            t.violation.to_string(),
            t.cost_seconds.to_string(),
            t.attempts.to_string(),
            t.error.clone().unwrap_or_default(),
        ];
        row.extend(
            names
                .iter()
                .map(|n| t.metrics.get(n).map(|v| v.to_string()).unwrap_or_default()),
        );
        w.write_record(&row).expect("in-memory write");
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("csv is UTF-8")
}

/// How long the strategy took to propose, in this process's run: the number of asks, their
/// median and maximum, and the median and maximum of the last 10 (the strategy at its
/// largest history), in milliseconds.
fn ask_ms(seconds: &[f64]) -> serde_json::Value {
    let stats = |s: &[f64]| {
        let mut ms: Vec<f64> = s.iter().map(|x| x * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        (ms[ms.len() / 2], ms[ms.len() - 1])
    };
    let (median, max) = stats(seconds);
    let (last_median, last_max) = stats(&seconds[seconds.len().saturating_sub(10)..]);
    json!({
        "asks": seconds.len(),
        "median": median,
        "max": max,
        "last_10_median": last_median,
        "last_10_max": last_max,
    })
}
