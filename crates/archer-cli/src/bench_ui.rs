//! `archer bench ui`: the dashboard under load. A bounded, closed-loop load generator on
//! loopback: N clients, each sending its next request when the last one answered, for a
//! fixed time, against a dashboard this command starts over the given studies. It reports
//! the latency percentiles of the study page and of the trial-table API, and, as the
//! reference run in the same command, of a static file under the same load: the floor of
//! this machine's HTTP stack, which the pages' cost is measured against.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use archer_rng::Rng;
use archer_ui::{Dashboard, ServeOptions};
use clap::Args;
use serde_json::{json, Value};

use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct UiBenchArgs {
    /// An experiment folder, a folder of them, or a postgres:// URL.
    target: String,
    /// The study to load (default: the only one, or the one with the most trials).
    #[arg(long)]
    study: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds each phase (static reference, then the dashboard) runs.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Seed of the clients' choices of page, sort column and offset.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Latencies of one kind of request, in milliseconds, sorted.
struct Latencies(Vec<f64>);

impl Latencies {
    fn new(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Latencies(ms)
    }

    /// Nearest rank; NaN when there are none.
    fn percentile(&self, p: f64) -> f64 {
        let v = &self.0;
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1]
    }

    fn report(&self, seconds: f64) -> Value {
        json!({
            "requests": self.0.len(),
            "per_second": self.0.len() as f64 / seconds,
            "p50_ms": self.percentile(50.0),
            "p90_ms": self.percentile(90.0),
            "p99_ms": self.percentile(99.0),
            "max_ms": self.percentile(100.0),
        })
    }
}

/// What a client asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Static,
    StudyPage,
    TrialTable,
}

fn get(agent: &ureq::Agent, url: &str) -> Result<usize> {
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .with_context(|| format!("GET {url}: reading the body"))?;
    Ok(body.len())
}

/// Draws a client's next request: its kind and URL.
type NextRequest = dyn Fn(&mut Rng) -> (Kind, String) + Send + Sync;

/// Runs `clients` closed-loop clients for `seconds`, each drawing its next request from
/// `next`; returns the latencies by kind and the first error, if any.
fn load(
    clients: usize,
    seconds: f64,
    seed: u64,
    next: Arc<NextRequest>,
) -> (Vec<(Kind, f64)>, Option<String>) {
    let results = Arc::new(Mutex::new(Vec::new()));
    let error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (results, error, next) = (results.clone(), error.clone(), next.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(60)))
                    .build()
                    .into();
                let mut rng = Rng::derive(seed, c as u64);
                let mut mine = Vec::new();
                while Instant::now() < until {
                    let (kind, url) = next(&mut rng);
                    let started = Instant::now();
                    match get(&agent, &url) {
                        Ok(_) => mine.push((kind, started.elapsed().as_secs_f64() * 1000.0)),
                        Err(e) => {
                            error
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(format!("{e:#}"));
                            break;
                        }
                    }
                }
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(mine);
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let out = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    let err = error.lock().unwrap_or_else(|p| p.into_inner()).take();
    (out, err)
}

pub fn run(args: UiBenchArgs) -> Result<()> {
    if args.clients == 0 || args.seconds <= 0.0 {
        return Err(UsageError("--clients and --seconds must be positive".into()).into());
    }
    let started = Instant::now();
    let dashboard = Dashboard::open(std::slice::from_ref(&args.target), None)?;
    let opened = started.elapsed().as_secs_f64();
    let key = match &args.study {
        Some(name) => archer_ui::catalog::slug(name),
        None => dashboard
            .largest()
            .ok_or_else(|| anyhow!("{}: no study opened", args.target))?,
    };
    let study = dashboard
        .study(&key)
        .ok_or_else(|| UsageError(format!("no study {key:?} in {}", args.target)))?;
    let snapshot = study.snapshot()?;
    let trials = snapshot.rows.len();
    let columns: Vec<String> = std::iter::once("number".to_string())
        .chain(["state", "arch", "cost"].map(String::from))
        .chain(
            archer_ui::pages::metric_columns(&snapshot)
                .iter()
                .map(|m| format!("m:{m}")),
        )
        .collect();
    drop(snapshot);
    let (tx, rx) = mpsc::channel();
    let options = ServeOptions {
        bind: "127.0.0.1".parse()?,
        port: 0,
        token: None,
    };
    std::thread::spawn(move || {
        let ready = tx.clone();
        if let Err(e) = archer_ui::serve(dashboard, &options, move |url| {
            let _ = ready.send(Ok(url.to_string()));
        }) {
            let _ = tx.send(Err(e.to_string()));
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| anyhow!("the dashboard did not start"))?
        .map_err(|e| anyhow!(e))?;
    let base = base.trim_end_matches('/').to_string();
    say(format!(
        "bench ui: study {key} ({trials} trials, opened in {opened:.1} s), {} clients for {} s per phase, on {base}",
        args.clients, args.seconds
    ))?;

    let reference_url = format!("{base}/static/style.css");
    let (reference, err) = load(
        args.clients,
        args.seconds,
        args.seed,
        Arc::new(move |_| (Kind::Static, reference_url.clone())),
    );
    if let Some(e) = err {
        return Err(anyhow!("the reference phase failed: {e}"));
    }
    let (study_url, api) = (
        format!("{base}/s/{key}"),
        format!("{base}/api/s/{key}/trials"),
    );
    let next = move |rng: &mut Rng| {
        if rng.chance(0.5) {
            (Kind::StudyPage, study_url.clone())
        } else {
            let sort = &columns[rng.below(columns.len())];
            let desc = rng.chance(0.5);
            let offset = rng.below(trials.max(1)) / 50 * 50;
            (
                Kind::TrialTable,
                format!("{api}?sort={sort}&desc={desc}&offset={offset}&limit=50"),
            )
        }
    };
    let (mixed, err) = load(args.clients, args.seconds, args.seed + 1, Arc::new(next));
    if let Some(e) = err {
        return Err(anyhow!("the dashboard phase failed: {e}"));
    }
    let pick = |results: &[(Kind, f64)], kind: Kind| {
        Latencies::new(
            results
                .iter()
                .filter(|r| r.0 == kind)
                .map(|r| r.1)
                .collect(),
        )
    };
    let reference = pick(&reference, Kind::Static);
    let page = pick(&mixed, Kind::StudyPage);
    let table = pick(&mixed, Kind::TrialTable);
    let summary = json!({
        "study": key,
        "trials": trials,
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "opened_seconds": opened,
        "reference_static_file": reference.report(args.seconds),
        "study_page": page.report(args.seconds),
        "trial_table_api": table.report(args.seconds),
        "p99_ratio_to_reference": {
            "study_page": page.percentile(99.0) / reference.percentile(99.0),
            "trial_table_api": table.percentile(99.0) / reference.percentile(99.0),
        },
    });
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&summary)?)?);
    }
    say(format!(
        "{:<28} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "request", "requests", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    ))?;
    for (name, l) in [
        ("static file (reference)", &reference),
        ("study page", &page),
        ("trial-table API page", &table),
    ] {
        say(format!(
            "{:<28} {:>9} {:>8.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            name,
            l.0.len(),
            l.0.len() as f64 / args.seconds,
            l.percentile(50.0),
            l.percentile(90.0),
            l.percentile(99.0),
            l.percentile(100.0)
        ))?;
    }
    say(format!(
        "p99 against the static file's: study page {:.1}x, trial-table API {:.1}x",
        page.percentile(99.0) / reference.percentile(99.0),
        table.percentile(99.0) / reference.percentile(99.0)
    ))?;
    Ok(())
}
