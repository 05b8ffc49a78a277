//! `archer bench oneshot nb201`: one-shot methods × seeds on CIFAR-10 under a CPU protocol
//! fixed in the repo (`bench/oneshot-nb201-cpu.toml`), each derived cell scored in the
//! NAS-Bench-201 table, beside the published figures.
//!
//! Each (method, seed) is an ordinary experiment folder `<output>/<method>-s<seed>`: a finished
//! one is read back, an unfinished one resumes from its last epoch's checkpoint, so the runs of
//! one benchmark may span several sessions (`--report-only` prints what is finished).
//! `--results DIR` also keeps every finished run as one JSON file in `DIR` (with the protocol
//! it ran under), and reads finished runs back from there first: a folder small enough to
//! commit, so that a benchmark spans machines whose run folders are gone.
//!
//! A finished run is read back only under the settings that made it: when a method's
//! `[methods.<name>]` (or `[rea]`) changes, that method's kept runs move to
//! `<results>/superseded/<n>/` and its run folders to `<output>/superseded/`, and they run
//! again; the other methods' runs stay. REA's runs are superseded the same way when the best
//! method's mean search time, their budget, changes. A changed `[experiment]` is refused.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use archer_bench::{mean, std_dev};
use archer_oneshot::run::{finished, Outcome};
use archer_runner::{launch, Event, ExperimentConfig, ExperimentDir, Overrides};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::out::say;
use crate::UsageError;

#[derive(Subcommand)]
pub enum OneshotBenchmark {
    /// The NAS-Bench-201 space searched on CIFAR-10; derived cells scored in the NB201 table.
    Nb201(OneshotNb201Args),
}

#[derive(Args)]
pub struct OneshotNb201Args {
    /// The protocol: a base experiment (`[experiment]`), its description (`protocol`) and
    /// per-method settings (`[methods.<name>]`, merged into `[strategy]`).
    #[arg(long, default_value = "bench/oneshot-nb201-cpu.toml")]
    protocol: PathBuf,
    /// Comma-separated one-shot methods (default: every method of the protocol).
    #[arg(long, value_delimiter = ',')]
    methods: Vec<String>,
    /// Seeds per method.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// The first seed (report on seeds 0…; tune on 100…).
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Folder of the runs (`<output>/<method>-s<seed>`).
    #[arg(long, default_value = "bench-out/oneshot-nb201")]
    output: PathBuf,
    /// Run nothing: report the finished runs among those asked for.
    #[arg(long)]
    report_only: bool,
    /// Also run REA with real training of every candidate (the protocol's `[rea]`) on the
    /// same data, each seed with the wall-clock budget of the best method's mean search time
    /// (`<output>/rea-s<seed>`), its winner scored in the same table.
    #[arg(long)]
    vs_rea: bool,
    /// Keep every finished run's outcome as `<results>/<method>-s<seed>.json` (and REA's as
    /// `rea-s<seed>.json`), with the protocol as `protocol.toml`, and read finished runs back
    /// from there before running anything. Refused when the folder holds runs of another
    /// `[experiment]`; runs of changed method settings are moved to `superseded/`.
    #[arg(long)]
    results: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// `--results`: finished runs, one JSON file each, under the protocol they ran under.
struct ResultsDir {
    dir: PathBuf,
}

impl ResultsDir {
    const PROTOCOL_FILE: &'static str = "protocol.toml";

    /// Opens (creating) `dir` for `protocol`. A folder kept under the same base experiment
    /// stays usable when only some methods' settings (or `[rea]`) changed: the runs of those
    /// methods are moved to `superseded/<n>/` with the protocol they ran under, and the folder
    /// takes the new protocol. An error when the base experiment differs (every run is then
    /// another protocol's).
    fn open(dir: &Path, protocol: &Protocol) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let kept = dir.join(Self::PROTOCOL_FILE);
        let results = ResultsDir {
            dir: dir.to_path_buf(),
        };
        let text = match std::fs::read_to_string(&kept) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                archer_runner::write_atomically(&kept, protocol.text.as_bytes())?;
                return Ok(results);
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", kept.display())),
        };
        let old = Protocol::parse(&text, &kept)?;
        if old.experiment != protocol.experiment {
            bail!(UsageError(format!(
                "--results {}: its runs were made under another protocol than {} (the [experiment] of {} differs); use another folder",
                dir.display(),
                protocol.file.display(),
                kept.display()
            )));
        }
        let mut stale: std::collections::BTreeSet<&str> = old
            .methods
            .keys()
            .chain(protocol.methods.keys())
            .filter(|m| old.methods.get(*m) != protocol.methods.get(*m))
            .map(String::as_str)
            .collect();
        if old.rea != protocol.rea {
            stale.insert("rea");
        }
        let stale: Vec<&str> = stale.into_iter().collect();
        if let Some(moved) = results.supersede(&stale, &text)? {
            eprintln!(
                "--results {}: the settings of {} changed; their earlier runs moved to {}",
                dir.display(),
                stale.join(", "),
                moved.display()
            );
        }
        if text != protocol.text {
            archer_runner::write_atomically(&kept, protocol.text.as_bytes())?;
        }
        Ok(results)
    }

    /// The kept runs of each of `prefixes` (`<prefix>-s<seed>.json`), as file stems.
    fn runs_of(&self, prefixes: &[&str]) -> Result<Vec<String>> {
        let mut stems = Vec::new();
        for entry in std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?
        {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let is_run_of = |p: &&str| {
                stem.strip_prefix(p)
                    .and_then(|rest| rest.strip_prefix("-s"))
                    .is_some_and(|seed| seed.parse::<u64>().is_ok())
            };
            if prefixes.iter().any(is_run_of) {
                stems.push(stem.to_string());
            }
        }
        Ok(stems)
    }

    /// Moves the kept runs of each of `prefixes` to a new `superseded/<n>/` folder, with
    /// `protocol_text` (the protocol they ran under) beside them; that folder, or `None` when
    /// there was nothing to move.
    fn supersede(&self, prefixes: &[&str], protocol_text: &str) -> Result<Option<PathBuf>> {
        let stems = self.runs_of(prefixes)?;
        if stems.is_empty() {
            return Ok(None);
        }
        let to = superseded_folder(&self.dir, "");
        std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
        archer_runner::write_atomically(&to.join(Self::PROTOCOL_FILE), protocol_text.as_bytes())?;
        for stem in stems {
            let name = format!("{stem}.json");
            let (from, into) = (self.dir.join(&name), to.join(&name));
            std::fs::rename(&from, &into)
                .with_context(|| format!("moving {} to {}", from.display(), into.display()))?;
        }
        Ok(Some(to))
    }

    /// Moves every kept REA run to `superseded/<n>/` when one of them ran under another
    /// wall-clock budget than `wall_seconds` (or an unrecorded one): the best method's mean
    /// search time, which REA is measured against, has changed since.
    fn supersede_rea_of_other_budgets(&self, wall_seconds: f64, protocol_text: &str) -> Result<()> {
        let mut other = false;
        for stem in self.runs_of(&["rea"])? {
            if let Some(row) = self.read::<ReaRow>(&stem)? {
                other |= row.budget_seconds != Some(wall_seconds);
            }
        }
        if !other {
            return Ok(());
        }
        if let Some(moved) = self.supersede(&["rea"], protocol_text)? {
            eprintln!(
                "--results {}: REA's runs were made under another budget than {wall_seconds:.1} s; moved to {}",
                self.dir.display(),
                moved.display()
            );
        }
        Ok(())
    }

    fn read<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let file = self.dir.join(format!("{name}.json"));
        match std::fs::read_to_string(&file) {
            Ok(text) => Ok(Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", file.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
        }
    }

    fn keep<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)? + "\n";
        Ok(archer_runner::write_atomically(
            &self.dir.join(format!("{name}.json")),
            text.as_bytes(),
        )?)
    }
}

/// Mean and standard deviation on CIFAR-10, CIFAR-100 and ImageNet16-120, where published.
type Published = [Option<(f64, f64)>; 3];

/// The published NB201 figures (CIFAR-10 search, test accuracy on the three datasets, mean and
/// standard deviation where given), from `../shared/RESULTS.md` and the methods' READMEs.
const PUBLISHED: &[(&str, &str, Published)] = &[
    (
        "darts1",
        "NB201 paper (all-skip cell)",
        [Some((54.30, 0.0)), Some((15.61, 0.0)), Some((16.32, 0.0))],
    ),
    (
        "darts2",
        "NB201 paper (all-skip cell)",
        [Some((54.30, 0.0)), Some((15.61, 0.0)), Some((16.32, 0.0))],
    ),
    (
        "gdas",
        "NB201 paper",
        [
            Some((93.61, 0.09)),
            Some((70.70, 0.30)),
            Some((41.84, 0.90)),
        ],
    ),
    (
        "snas",
        "DrNAS README",
        [
            Some((92.77, 0.83)),
            Some((69.34, 1.98)),
            Some((43.16, 2.64)),
        ],
    ),
    (
        "drnas",
        "DrNAS README",
        [Some((94.36, 0.0)), Some((73.51, 0.0)), Some((46.34, 0.0))],
    ),
    (
        "rsps",
        "NB201 paper",
        [
            Some((87.66, 1.69)),
            Some((46.60, 6.57)),
            Some((30.78, 6.12)),
        ],
    ),
    ("spos", "no published NB201 figure", [None, None, None]),
    (
        "enas",
        "NB201 paper (all-skip cell)",
        [Some((54.30, 0.0)), Some((15.61, 0.0)), Some((16.32, 0.0))],
    ),
];

/// One (method, seed) run, as printed.
#[derive(Clone, Debug, Serialize)]
struct RunRow {
    method: String,
    seed: u64,
    genotype: String,
    test_acc_cifar10: f64,
    test_acc_cifar100: f64,
    test_acc_imagenet16: f64,
    /// Supernet training (every epoch, over resumes) and the selection; trust apart.
    search_seconds: f64,
    /// The peak resident set of the process that finished the run (MiB).
    peak_rss_mb: f64,
    /// The search step's time over one training step of the chosen cell as an ordinary
    /// network of the supernet's size (absent in runs kept before it was measured: NaN).
    step_ratio: f64,
    /// The memory the supernet's training added over what that network's training adds.
    memory_ratio: f64,
    kendall_tau: f64,
    spearman: f64,
    precision_top5: f64,
    kendall_tau_no_recal: f64,
    spearman_no_recal: f64,
    /// The supernet's inherited, recalibrated validation accuracy of the cell (%).
    valid_acc: f64,
    epochs: u32,
    step_ms: f64,
    trust_seconds: f64,
    /// Edges of the cell on `skip_connect`, and on `none`: DARTS's collapse shows here.
    skip_edges: usize,
    none_edges: usize,
}

#[derive(Debug, Serialize)]
struct MethodRow {
    method: String,
    runs: usize,
    seeds: Vec<u64>,
    #[serde(flatten)]
    table: TableMeans,
    mean_search_seconds: f64,
    mean_kendall_tau: f64,
    mean_spearman: f64,
    published_source: &'static str,
    published: Published,
}

/// Mean and standard deviation of the table accuracies of a set of cells.
#[derive(Debug, Serialize)]
struct TableMeans {
    mean_cifar10: f64,
    std_cifar10: f64,
    mean_cifar100: f64,
    std_cifar100: f64,
    mean_imagenet16: f64,
    std_imagenet16: f64,
}

impl TableMeans {
    /// Of `(CIFAR-10, CIFAR-100, ImageNet16-120)` accuracies.
    fn of(accs: impl Iterator<Item = [f64; 3]>) -> Self {
        let accs: Vec<[f64; 3]> = accs.collect();
        let column = |i: usize| accs.iter().map(|a| a[i]).collect::<Vec<f64>>();
        let (c10, c100, in16) = (column(0), column(1), column(2));
        TableMeans {
            mean_cifar10: mean(&c10),
            std_cifar10: std_dev(&c10),
            mean_cifar100: mean(&c100),
            std_cifar100: std_dev(&c100),
            mean_imagenet16: mean(&in16),
            std_imagenet16: std_dev(&in16),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    protocol: String,
    protocol_file: PathBuf,
    /// Per method: epochs, C, N as the protocol sets them.
    settings: BTreeMap<String, String>,
    methods: Vec<MethodRow>,
    runs: Vec<RunRow>,
    /// Runs asked for and not finished (`--report-only`).
    missing: Vec<String>,
    /// `--vs-rea`: multi-trial search at the best method's search time.
    #[serde(skip_serializing_if = "Option::is_none")]
    rea: Option<ReaComparison>,
    /// Wall seconds this invocation spent running.
    wall_seconds: f64,
}

/// REA with real training at the one-shot method's search time, seed by seed.
#[derive(Debug, Serialize)]
struct ReaComparison {
    /// The one-shot method with the best mean CIFAR-10 table accuracy, and its mean search
    /// seconds: each REA seed's `budget.wall_seconds`.
    against: String,
    wall_seconds: f64,
    description: String,
    runs: Vec<ReaRow>,
    #[serde(flatten)]
    table: TableMeans,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
struct ReaRow {
    seed: u64,
    genotype: String,
    trials: u64,
    /// The winner's validation accuracy after its low-fidelity training (%).
    valid_acc: f64,
    test_acc_cifar10: f64,
    test_acc_cifar100: f64,
    test_acc_imagenet16: f64,
    wall_seconds: f64,
    /// The wall-clock budget it ran under (the best method's mean search seconds then);
    /// absent in rows kept before it was recorded.
    #[serde(default)]
    budget_seconds: Option<f64>,
}

/// The protocol file: a base experiment, per-method settings, and REA's.
struct Protocol {
    file: PathBuf,
    /// The file as it was read (`--results` keeps it beside the runs).
    text: String,
    description: String,
    experiment: toml::Table,
    methods: toml::Table,
    /// `[rea]`: `description`, `strategy` (REA's settings), and entries set in `[evaluator]`
    /// (the network and its low-fidelity training).
    rea: Option<toml::Table>,
}

impl Protocol {
    fn load(file: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the protocol {}", file.display()))?;
        Self::parse(&text, file)
    }

    /// The protocol written in `text`, read from `file` (relative paths are `file`'s).
    fn parse(text: &str, file: &Path) -> Result<Self> {
        let mut table: toml::Table =
            toml::from_str(text).with_context(|| format!("parsing {}", file.display()))?;
        let take = |t: &mut toml::Table, key: &str| {
            t.remove(key).ok_or_else(|| {
                UsageError(format!(
                    "{}: the protocol needs a `{key}` entry",
                    file.display()
                ))
            })
        };
        let description = match take(&mut table, "protocol")? {
            toml::Value::String(s) => s,
            _ => bail!(UsageError(format!(
                "{}: `protocol` is text",
                file.display()
            ))),
        };
        let (Some(experiment), Some(methods)) = (
            take(&mut table, "experiment")?.as_table().cloned(),
            take(&mut table, "methods")?.as_table().cloned(),
        ) else {
            bail!(UsageError(format!(
                "{}: `experiment` and `methods` are tables",
                file.display()
            )));
        };
        let rea = match table.remove("rea") {
            None => None,
            Some(toml::Value::Table(t)) => Some(t),
            Some(_) => bail!(UsageError(format!("{}: `rea` is a table", file.display()))),
        };
        if let Some(key) = table.keys().next() {
            bail!(UsageError(format!(
                "{}: unknown key `{key}`; a protocol holds protocol, experiment, methods and rea",
                file.display()
            )));
        }
        Ok(Protocol {
            file: file.to_path_buf(),
            text: text.to_string(),
            description,
            experiment,
            methods,
            rea,
        })
    }

    /// The experiment of `method`: the base with `[methods.<method>]` merged into
    /// `[strategy]` and the method named.
    fn experiment(&self, method: &str) -> Result<ExperimentConfig> {
        self.config(&self.experiment_doc(method)?)
    }

    /// The experiment document `experiment` reads.
    fn experiment_doc(&self, method: &str) -> Result<toml::Table> {
        let Some(own) = self.methods.get(method).and_then(|m| m.as_table()) else {
            bail!(UsageError(format!(
                "{}: no [methods.{method}]; the protocol has {}",
                self.file.display(),
                self.methods.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        let mut doc = self.experiment.clone();
        let strategy = doc
            .entry("strategy")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(strategy) = strategy.as_table_mut() else {
            bail!(UsageError(format!(
                "{}: experiment.strategy is a table",
                self.file.display()
            )));
        };
        for (k, v) in own {
            strategy.insert(k.clone(), v.clone());
        }
        strategy.insert("name".into(), toml::Value::String(method.into()));
        if let Some(study) = doc.get_mut("study").and_then(|s| s.as_table_mut()) {
            study.insert(
                "name".into(),
                toml::Value::String(format!("oneshot-nb201-{method}")),
            );
        }
        Ok(doc)
    }

    /// The experiment `doc` describes, its relative paths taken from the protocol's folder.
    fn config(&self, doc: &toml::Table) -> Result<ExperimentConfig> {
        let text = toml::to_string(doc)?;
        let base = self.file.parent().unwrap_or(Path::new("."));
        Ok(ExperimentConfig::from_toml(&text, base, &self.file)?)
    }

    /// REA's experiment document and description: the base with `[strategy]` replaced by
    /// `rea.strategy`, the other entries of `[rea]` set in `[evaluator]`, and the wall-clock
    /// budget `wall_seconds`.
    fn rea_experiment(&self, wall_seconds: f64) -> Result<(toml::Table, String)> {
        let Some(rea) = &self.rea else {
            bail!(UsageError(format!(
                "{}: --vs-rea needs a [rea] table (strategy, and the evaluator's network and training)",
                self.file.display()
            )));
        };
        let mut doc = self.experiment.clone();
        let mut description = String::new();
        for (k, v) in rea {
            match (k.as_str(), v) {
                ("description", toml::Value::String(d)) => description = d.clone(),
                ("strategy", toml::Value::Table(t)) => {
                    doc.insert("strategy".into(), toml::Value::Table(t.clone()));
                }
                (_, value) => {
                    let evaluator = doc
                        .entry("evaluator")
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    if let Some(e) = evaluator.as_table_mut() {
                        e.insert(k.clone(), value.clone());
                    }
                }
            }
        }
        let mut budget = toml::Table::new();
        budget.insert("wall_seconds".into(), toml::Value::Float(wall_seconds));
        doc.insert("budget".into(), toml::Value::Table(budget));
        if let Some(study) = doc.get_mut("study").and_then(|s| s.as_table_mut()) {
            study.insert(
                "name".into(),
                toml::Value::String("oneshot-nb201-rea".into()),
            );
        }
        Ok((doc, description))
    }

    /// The NB201 table the protocol's trust names.
    fn table(&self) -> Result<archer_eval::Nb201Table> {
        let config = self.experiment(
            self.methods
                .keys()
                .next()
                .ok_or_else(|| UsageError("the protocol has no [methods]".into()))?,
        )?;
        let path = config
            .strategy
            .settings
            .get("trust")
            .and_then(|t| t.get("table"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| {
                UsageError(format!(
                    "{}: --vs-rea scores REA's winner in the table of experiment.strategy.trust",
                    self.file.display()
                ))
            })?;
        Ok(archer_eval::Nb201Table::load(Path::new(path))?)
    }

    /// `epochs E, C c, N n` of `method`, from its merged settings.
    fn settings_of(&self, method: &str) -> Result<String> {
        let c = self.experiment(method)?;
        let s = &c.strategy.settings;
        let kind = archer_oneshot::method_kind(method)
            .ok_or_else(|| UsageError(format!("{method:?} is not a one-shot method")))?;
        let get = |k: &str| s.get(k).map(|v| v.to_string());
        Ok(format!(
            "{} epochs, C = {}, N = {}",
            get("epochs").unwrap_or_else(|| kind.default_epochs.to_string()),
            get("channels").unwrap_or_else(|| "16".into()),
            get("depth").unwrap_or_else(|| "5".into()),
        ))
    }
}

pub fn run(benchmark: OneshotBenchmark) -> Result<()> {
    let OneshotBenchmark::Nb201(args) = benchmark;
    let protocol = Protocol::load(&args.protocol)?;
    let methods: Vec<String> = if args.methods.is_empty() {
        archer_oneshot::METHODS
            .iter()
            .map(|m| m.name.to_string())
            .filter(|m| protocol.methods.contains_key(m))
            .collect()
    } else {
        args.methods.iter().map(|m| m.trim().to_string()).collect()
    };
    let mut settings = BTreeMap::new();
    for m in &methods {
        if archer_oneshot::method_kind(m).is_none() {
            bail!(UsageError(format!(
                "--methods: {m:?} is not a one-shot method; accepted: {}",
                archer_oneshot::METHODS
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        settings.insert(m.clone(), protocol.settings_of(m)?);
    }
    let results = match &args.results {
        Some(dir) => Some(ResultsDir::open(dir, &protocol)?),
        None => None,
    };
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    // Seed by seed, so that an interrupted benchmark has every method's early seeds.
    for seed in args.first_seed..args.first_seed + args.seeds {
        for method in &methods {
            let name = format!("{method}-s{seed}");
            let kept = match &results {
                Some(r) => r.read::<Outcome>(&name)?,
                None => None,
            };
            let outcome = if kept.is_some() {
                kept
            } else {
                let doc = protocol.experiment_doc(method)?;
                match run_dir(&args.output, &name, &doc, args.report_only)? {
                    None => None,
                    Some(dir) if args.report_only => finished(&dir.join("oneshot"))?,
                    Some(dir) => {
                        let o = run_one(&protocol, &doc, method, seed, &dir)?;
                        if let Some(r) = &results {
                            r.keep(&name, &o)?;
                        }
                        Some(o)
                    }
                }
            };
            match outcome {
                Some(o) => {
                    let row = run_row(method, seed, &o);
                    eprintln!(
                        "[{method} seed {seed}] {} : {:.2} / {:.2} / {:.2} in the table; search {:.0} s, tau {:.3}",
                        row.genotype,
                        row.test_acc_cifar10,
                        row.test_acc_cifar100,
                        row.test_acc_imagenet16,
                        row.search_seconds,
                        row.kendall_tau
                    );
                    runs.push(row);
                }
                None => missing.push(format!("{method}-s{seed}")),
            }
        }
    }
    let methods_rows: Vec<MethodRow> = methods.iter().map(|m| method_row(m, &runs)).collect();
    let rea = if args.vs_rea {
        Some(compare_with_rea(
            &protocol,
            &methods_rows,
            &args,
            results.as_ref(),
        )?)
    } else {
        None
    };
    let report = Report {
        protocol: protocol.description.clone(),
        protocol_file: protocol.file.clone(),
        settings,
        methods: methods_rows,
        runs,
        missing,
        rea,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(&args.output)?;
    std::fs::write(
        args.output.join("report.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    if args.json {
        say(serde_json::to_string_pretty(&report)?)?;
    } else {
        say(render(&report))?;
    }
    Ok(())
}

/// What a run folder of this benchmark was built from: the experiment document before the
/// seed and folder are set (for REA, with its wall-clock budget).
const BENCH_SETTINGS_FILE: &str = "bench-settings.toml";

/// The run folder `<output>/<name>` for an experiment built from `doc`. A folder this
/// benchmark made from another document (a method's settings changed since, or REA's budget)
/// is not read back: it is moved to `<output>/superseded/<name>-<n>` and the run starts
/// afresh, or, with `report_only`, the run counts as not finished (`None`). Folders without
/// the settings file (made before it was kept) are read back as they are.
fn run_dir(
    output: &Path,
    name: &str,
    doc: &toml::Table,
    report_only: bool,
) -> Result<Option<PathBuf>> {
    let dir = std::path::absolute(output.join(name))?;
    let file = dir.join(BENCH_SETTINGS_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(dir)),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    if toml::from_str::<toml::Table>(&text).ok().as_ref() == Some(doc) {
        return Ok(Some(dir));
    }
    if report_only {
        eprintln!(
            "[{name}] {} was made under other settings; not reported",
            dir.display()
        );
        return Ok(None);
    }
    move_aside(output, name, &dir, "was made under other settings")?;
    Ok(Some(dir))
}

/// The first `<parent>/superseded/<prefix><n>` (n = 1, 2, …) that does not exist yet.
fn superseded_folder(parent: &Path, prefix: &str) -> PathBuf {
    let root = parent.join("superseded");
    (1..)
        .map(|n| root.join(format!("{prefix}{n}")))
        .find(|d| !d.exists())
        .expect("an unused number")
}

/// Moves the run folder `dir` (`<output>/<name>`) to `<output>/superseded/<name>-<n>`, saying
/// `why` it is not read back.
fn move_aside(output: &Path, name: &str, dir: &Path, why: &str) -> Result<()> {
    let to = superseded_folder(&std::path::absolute(output)?, &format!("{name}-"));
    let root = to.parent().expect("under superseded/");
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    std::fs::rename(dir, &to)
        .with_context(|| format!("moving {} to {}", dir.display(), to.display()))?;
    eprintln!(
        "[{name}] {} {why}; moved to {}",
        dir.display(),
        to.display()
    );
    Ok(())
}

/// Starts the experiment of `doc` in `dir` with `seed`, keeping `doc` there
/// ([`BENCH_SETTINGS_FILE`]); or reopens the one already there.
fn start_or_reopen(
    protocol: &Protocol,
    doc: &toml::Table,
    seed: u64,
    dir: &Path,
) -> Result<(archer_runner::Study, archer_runner::DirRecorder)> {
    if dir.join(archer_runner::RUN_FILE).is_file() {
        return Ok(launch::reopen(
            &ExperimentDir::open(dir)?,
            &Overrides::default(),
        )?);
    }
    let mut config = protocol.config(doc)?;
    config.apply(&Overrides {
        output: Some(dir.to_path_buf()),
        seed: Some(seed),
        ..Overrides::default()
    });
    let experiment = config.validate()?;
    let created = ExperimentDir::create(dir)?;
    archer_runner::write_atomically(
        &dir.join(BENCH_SETTINGS_FILE),
        toml::to_string(doc)?.as_bytes(),
    )?;
    Ok(launch::start(experiment, &created, None)?)
}

/// Runs (or resumes, or reads back) one method and seed in `dir`, from `doc`.
fn run_one(
    protocol: &Protocol,
    doc: &toml::Table,
    method: &str,
    seed: u64,
    dir: &Path,
) -> Result<Outcome> {
    if let Some(done) = finished(&dir.join("oneshot"))? {
        return Ok(done);
    }
    let resuming = dir.join(archer_runner::RUN_FILE).is_file();
    eprintln!(
        "[{method} seed {seed}] {} {}",
        if resuming { "resuming" } else { "starting in" },
        dir.display()
    );
    let (mut study, mut recorder) = start_or_reopen(protocol, doc, seed, dir)?;
    study
        .run(&mut recorder, &mut |event| {
            if let Event::OneShotEpoch {
                epoch,
                of,
                train_loss,
                genotype,
                table_acc,
                seconds,
            } = event
            {
                eprintln!(
                    "[{method} seed {seed}] epoch {epoch}/{of}: loss {train_loss:.3}, {seconds:.1} s{}{}",
                    genotype.map(|g| format!(", {g}")).unwrap_or_default(),
                    table_acc.map(|a| format!(" ({a:.2} in the table)")).unwrap_or_default()
                );
            }
        })
        .with_context(|| format!("{method} seed {seed} in {}", dir.display()))?;
    finished(&dir.join("oneshot"))?.ok_or_else(|| {
        anyhow::anyhow!(
            "{method} seed {seed}: the study ended without a one-shot outcome in {}",
            dir.display()
        )
    })
}

/// REA at the best method's mean search time, seed by seed (each run resumes or is read back
/// as the one-shot runs are).
fn compare_with_rea(
    protocol: &Protocol,
    methods: &[MethodRow],
    args: &OneshotNb201Args,
    results: Option<&ResultsDir>,
) -> Result<ReaComparison> {
    let best = methods
        .iter()
        .filter(|m| m.runs > 0 && m.table.mean_cifar10.is_finite())
        .max_by(|a, b| a.table.mean_cifar10.total_cmp(&b.table.mean_cifar10))
        .ok_or_else(|| UsageError("--vs-rea: no one-shot run has finished yet".into()))?;
    let wall_seconds = best.mean_search_seconds;
    let table = protocol.table()?;
    let (doc, description) = protocol.rea_experiment(wall_seconds)?;
    let space = protocol.config(&doc)?.validate()?.space;
    if let Some(r) = results {
        r.supersede_rea_of_other_budgets(wall_seconds, &protocol.text)?;
    }
    let mut runs = Vec::new();
    for seed in args.first_seed..args.first_seed + args.seeds {
        let name = format!("rea-s{seed}");
        if let Some(row) = results
            .map(|r| r.read::<ReaRow>(&name))
            .transpose()?
            .flatten()
        {
            runs.push(row);
            continue;
        }
        let Some(dir) = run_dir(&args.output, &name, &doc, args.report_only)? else {
            continue;
        };
        let summary_file = dir.join("rea-summary.json");
        if let Ok(text) = std::fs::read_to_string(&summary_file) {
            let row = serde_json::from_str::<ReaRow>(&text)?;
            if row.budget_seconds == Some(wall_seconds) {
                if let Some(r) = results {
                    r.keep(&name, &row)?;
                }
                runs.push(row);
                continue;
            }
            // Finished under another budget (a folder made before its settings were kept):
            // reopening it would return its old winner under the new budget's label.
            if !args.report_only {
                move_aside(&args.output, &name, &dir, "ran under another budget")?;
            }
        }
        if args.report_only {
            continue;
        }
        let (mut study, mut recorder) = start_or_reopen(protocol, &doc, seed, &dir)?;
        eprintln!(
            "[rea seed {seed}] {wall_seconds:.0} wall s (the mean search time of {}) in {}",
            best.method,
            dir.display()
        );
        let summary = study
            .run(&mut recorder, &mut |_| {})
            .with_context(|| format!("rea seed {seed} in {}", dir.display()))?;
        let winner = summary.best.as_ref().ok_or_else(|| {
            anyhow::anyhow!("rea seed {seed}: no trial finished in {wall_seconds:.0} s")
        })?;
        let acc = |d| {
            table
                .record(&winner.arch, d)
                .map_or(f64::NAN, |r| r.test_acc)
        };
        let row = ReaRow {
            seed,
            genotype: space.format(&winner.arch),
            trials: summary.trials,
            valid_acc: winner.metrics.get("valid_acc").unwrap_or(f64::NAN),
            test_acc_cifar10: acc(archer_eval::Nb201Dataset::Cifar10),
            test_acc_cifar100: acc(archer_eval::Nb201Dataset::Cifar100),
            test_acc_imagenet16: acc(archer_eval::Nb201Dataset::ImageNet16),
            wall_seconds: summary.wall_seconds,
            budget_seconds: Some(wall_seconds),
        };
        eprintln!(
            "[rea seed {seed}] {} trials, winner {} : {:.2} / {:.2} / {:.2} in the table",
            row.trials,
            row.genotype,
            row.test_acc_cifar10,
            row.test_acc_cifar100,
            row.test_acc_imagenet16
        );
        std::fs::write(&summary_file, serde_json::to_string_pretty(&row)? + "\n")?;
        if let Some(r) = results {
            r.keep(&name, &row)?;
        }
        runs.push(row);
    }
    Ok(ReaComparison {
        against: best.method.clone(),
        wall_seconds,
        description,
        table: TableMeans::of(runs.iter().map(|r| {
            [
                r.test_acc_cifar10,
                r.test_acc_cifar100,
                r.test_acc_imagenet16,
            ]
        })),
        runs,
    })
}

fn run_row(method: &str, seed: u64, o: &Outcome) -> RunRow {
    let m = |k: &str| o.metrics.get(k).copied().unwrap_or(f64::NAN);
    let ops: Vec<&str> = o
        .genotype
        .split('|')
        .filter_map(|edge| edge.split('~').next())
        .filter(|op| !op.is_empty() && *op != "+")
        .collect();
    RunRow {
        method: method.to_string(),
        seed,
        genotype: o.genotype.clone(),
        test_acc_cifar10: m("test_acc_cifar10"),
        test_acc_cifar100: m("test_acc_cifar100"),
        test_acc_imagenet16: m("test_acc_imagenet16"),
        search_seconds: m("search_seconds"),
        peak_rss_mb: m("peak_rss_mib"),
        step_ratio: m("step_ratio"),
        memory_ratio: m("memory_ratio"),
        kendall_tau: m("kendall_tau"),
        spearman: m("spearman_rho"),
        precision_top5: m("precision_top5"),
        kendall_tau_no_recal: m("kendall_tau_no_recal"),
        spearman_no_recal: m("spearman_rho_no_recal"),
        valid_acc: m("valid_acc"),
        epochs: o.epochs.len() as u32,
        step_ms: m("step_ms"),
        trust_seconds: m("trust_seconds"),
        skip_edges: ops.iter().filter(|op| **op == "skip_connect").count(),
        none_edges: ops.iter().filter(|op| **op == "none").count(),
    }
}

fn method_row(method: &str, runs: &[RunRow]) -> MethodRow {
    let mine: Vec<&RunRow> = runs.iter().filter(|r| r.method == method).collect();
    let of = |f: fn(&RunRow) -> f64| mine.iter().map(|r| f(r)).collect::<Vec<f64>>();
    let (source, published) = PUBLISHED
        .iter()
        .find(|(m, _, _)| *m == method)
        .map_or(("", [None, None, None]), |(_, s, p)| (*s, *p));
    MethodRow {
        method: method.to_string(),
        runs: mine.len(),
        seeds: mine.iter().map(|r| r.seed).collect(),
        table: TableMeans::of(mine.iter().map(|r| {
            [
                r.test_acc_cifar10,
                r.test_acc_cifar100,
                r.test_acc_imagenet16,
            ]
        })),
        mean_search_seconds: mean(&of(|r| r.search_seconds)),
        mean_kendall_tau: mean(&of(|r| r.kendall_tau)),
        mean_spearman: mean(&of(|r| r.spearman)),
        published_source: source,
        published,
    }
}

fn pm(mean: f64, std: f64) -> String {
    if mean.is_nan() {
        "-".into()
    } else {
        format!("{mean:.2} ± {std:.2}")
    }
}

fn render(r: &Report) -> String {
    let mut out = format!("Protocol ({}): {}\n", r.protocol_file.display(), r.protocol);
    for (m, s) in &r.settings {
        let _ = writeln!(out, "  {m}: {s}");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<7} {:>5} {:<84} {:>7} {:>7} {:>7} {:>9} {:>8} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "method",
        "seed",
        "genotype",
        "C10",
        "C100",
        "IN16",
        "search s",
        "peak MB",
        "step x",
        "mem x",
        "tau",
        "rho",
        "tau norec"
    );
    for x in &r.runs {
        let _ = writeln!(
            out,
            "{:<7} {:>5} {:<84} {:>7.2} {:>7.2} {:>7.2} {:>9.0} {:>8.0} {:>7.1} {:>7.1} {:>7.3} {:>7.3} {:>9.3}",
            x.method,
            x.seed,
            x.genotype,
            x.test_acc_cifar10,
            x.test_acc_cifar100,
            x.test_acc_imagenet16,
            x.search_seconds,
            x.peak_rss_mb,
            x.step_ratio,
            x.memory_ratio,
            x.kendall_tau,
            x.spearman,
            x.kendall_tau_no_recal
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<7} {:>4} {:>15} {:>15} {:>15} {:>9}   published (C10 / C100 / IN16)",
        "method", "runs", "C10", "C100", "IN16", "search s"
    );
    for m in &r.methods {
        let published = m
            .published
            .iter()
            .map(|p| p.map_or("-".to_string(), |(a, s)| pm(a, s)))
            .collect::<Vec<_>>()
            .join(" / ");
        let _ = writeln!(
            out,
            "{:<7} {:>4} {:>15} {:>15} {:>15} {:>9}   {published} ({})",
            m.method,
            m.runs,
            pm(m.table.mean_cifar10, m.table.std_cifar10),
            pm(m.table.mean_cifar100, m.table.std_cifar100),
            pm(m.table.mean_imagenet16, m.table.std_imagenet16),
            if m.runs == 0 {
                "-".to_string()
            } else {
                format!("{:.0}", m.mean_search_seconds)
            },
            m.published_source
        );
    }
    if let Some(c) = &r.rea {
        let _ = writeln!(
            out,
            "\nREA with real training at {}'s mean search time ({:.0} wall s a seed): {}",
            c.against, c.wall_seconds, c.description
        );
        for x in &c.runs {
            let _ = writeln!(
                out,
                "rea     {:>5} {:<84} {:>7.2} {:>7.2} {:>7.2}   {} trials, {:.0} s",
                x.seed,
                x.genotype,
                x.test_acc_cifar10,
                x.test_acc_cifar100,
                x.test_acc_imagenet16,
                x.trials,
                x.wall_seconds
            );
        }
        let _ = writeln!(
            out,
            "rea     {:>4} {:>15} {:>15} {:>15}   against {}",
            c.runs.len(),
            pm(c.table.mean_cifar10, c.table.std_cifar10),
            pm(c.table.mean_cifar100, c.table.std_cifar100),
            pm(c.table.mean_imagenet16, c.table.std_imagenet16),
            c.against
        );
    }
    if !r.missing.is_empty() {
        let _ = writeln!(out, "\nNot finished yet: {}", r.missing.join(", "));
    }
    let _ = write!(out, "\nThis invocation: {:.0} s wall", r.wall_seconds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(epochs: i64) -> toml::Table {
        toml::from_str(&format!(
            "[strategy]\nname = \"drnas\"\nepochs = {epochs}\n"
        ))
        .unwrap()
    }

    #[test]
    fn only_the_named_methods_kept_runs_are_superseded_and_nothing_moves_for_none() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir {
            dir: dir.path().to_path_buf(),
        };
        for f in [
            "drnas-s0.json",
            "drnas-s12.json",
            "darts1-s0.json",
            "drnas-x.json",
        ] {
            std::fs::write(dir.path().join(f), "{}").unwrap();
        }
        assert_eq!(results.supersede(&["gdas"], "old").unwrap(), None);
        assert!(!dir.path().join("superseded").exists());
        let moved = results.supersede(&["drnas"], "old").unwrap().unwrap();
        assert_eq!(moved, dir.path().join("superseded/1"));
        let mut there: Vec<String> = std::fs::read_dir(&moved)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        there.sort();
        assert_eq!(there, ["drnas-s0.json", "drnas-s12.json", "protocol.toml"]);
        assert!(dir.path().join("darts1-s0.json").is_file());
        assert!(dir.path().join("drnas-x.json").is_file());
    }

    #[test]
    fn a_run_folder_of_other_settings_is_moved_aside_and_never_read_back() {
        let output = tempfile::tempdir().unwrap();
        let run = output.path().join("drnas-s0");
        // Made before the settings were kept: read back as it is.
        std::fs::create_dir_all(&run).unwrap();
        assert_eq!(
            run_dir(output.path(), "drnas-s0", &doc(10), false).unwrap(),
            Some(run.clone())
        );
        std::fs::write(
            run.join(BENCH_SETTINGS_FILE),
            toml::to_string(&doc(10)).unwrap(),
        )
        .unwrap();
        // The same settings: kept; other settings: not reported, and moved only when running.
        assert_eq!(
            run_dir(output.path(), "drnas-s0", &doc(10), false).unwrap(),
            Some(run.clone())
        );
        assert_eq!(
            run_dir(output.path(), "drnas-s0", &doc(20), true).unwrap(),
            None
        );
        assert!(run.join(BENCH_SETTINGS_FILE).is_file());
        assert_eq!(
            run_dir(output.path(), "drnas-s0", &doc(20), false).unwrap(),
            Some(run.clone())
        );
        assert!(!run.exists());
        let moved = output.path().join("superseded/drnas-s0-1");
        assert_eq!(
            std::fs::read_to_string(moved.join(BENCH_SETTINGS_FILE)).unwrap(),
            toml::to_string(&doc(10)).unwrap()
        );
    }
}
