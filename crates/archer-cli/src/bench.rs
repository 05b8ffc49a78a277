use std::path::PathBuf;
use std::sync::Arc;

use crate::out::say;
use anyhow::{Context, Result};
use archer_bench::mo::{parse_constraint, MoBench, OptunaReference};
use archer_bench::nb201::Nb201Bench;
use archer_bench::predictor_bench::{self, PredictorBench};
use archer_core::{Direction, Objective};
use archer_eval::Evaluator;
use archer_eval::{Nb201Dataset, Nb201Table, Nb201ZeroCost, NB201_ZERO_COST_PROXIES};
use archer_strategy::{PredictorConfig, StrategyConfig};
use clap::{Args, Subcommand};

use crate::UsageError;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Strategies × seeds on NAS-Bench-201 with a simulated clock, beside the published figures.
    Nb201(Nb201Args),
    /// Strategies × seeds on an experiment whose evaluator is a results table
    /// (`kind = "table"`), on its simulated clock.
    Table(crate::bench_table::TableArgs),
    /// Multi-fidelity schedulers (SH, Hyperband, ASHA, BOHB) against full-fidelity search
    /// on the learning curves of 200 NAS-Bench-201 cells, on simulated workers.
    #[command(name = "nb201-curves")]
    Nb201Curves(crate::bench_curves::CurvesArgs),
    /// Ranking quality (Kendall τ, Spearman ρ) of each predictor on held-out architectures.
    Predictors {
        #[command(subcommand)]
        benchmark: PredictorsBenchmark,
    },
    /// Counts the parameters and FLOPs of every NAS-Bench-201 network from its description
    /// and compares them with the table (tolerances 0.5 % and 1 %).
    #[command(name = "nb201-size")]
    Nb201Size(SizeArgs),
    /// Trials per second through the whole loop: in memory, SQLite, PostgreSQL, and Optuna's
    /// RDB storage on the same workload.
    Store(StoreArgs),
    /// Training-step and forward times of the reference networks on libtorch, beside the
    /// same networks in PyTorch (bench/engine_reference.py) run by a given Python.
    #[cfg(feature = "train")]
    Engine(crate::bench_engine::EngineArgs),
    /// One DARTS and one GDAS search step of the NAS-Bench-201 supernet on libtorch, beside
    /// the same supernet in PyTorch (bench/oneshot_reference.py) run by a given Python.
    #[cfg(feature = "train")]
    #[command(name = "oneshot-engine")]
    OneshotEngine(crate::bench_oneshot_engine::OneshotEngineArgs),
    /// One-shot methods × seeds under the CPU protocol in bench/oneshot-nb201-cpu.toml, each
    /// derived cell scored in the NAS-Bench-201 table beside the published figures; runs
    /// resume from their checkpoints.
    #[cfg(feature = "train")]
    Oneshot {
        #[command(subcommand)]
        benchmark: crate::bench_oneshot::OneshotBenchmark,
    },
    /// The dashboard under load: N concurrent clients on loopback against `archer ui`'s
    /// study page and trial-table API, beside a static file under the same load.
    Ui(crate::bench_ui::UiBenchArgs),
    /// Whole experiments (search, then the same retraining of each winner) over seeds at
    /// one budget: a multi-fidelity search against a single-fidelity one on real data.
    #[cfg(feature = "train")]
    Compare(crate::bench_compare::CompareArgs),
}

#[derive(Args)]
pub struct SizeArgs {
    /// Comma-separated datasets whose networks to check: cifar10, cifar100, imagenet16-120.
    #[arg(
        long,
        default_value = "cifar10,cifar100,imagenet16-120",
        value_delimiter = ','
    )]
    dataset: Vec<String>,
    /// The NB201 results table.
    #[arg(long, default_value = "data/nas-bench-201/nb201_results.csv.gz")]
    table: PathBuf,
    /// Count the networks as built on libtorch (every module instantiated) instead of on
    /// their descriptions.
    #[arg(long)]
    engine: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum PredictorsBenchmark {
    /// On the NAS-Bench-201 table's validation accuracy.
    Nb201(PredictorsArgs),
}

#[derive(Args)]
pub struct PredictorsArgs {
    /// cifar10, cifar100 or imagenet16-120.
    #[arg(long, default_value = "cifar10")]
    dataset: String,
    /// Comma-separated predictors: gp (exponential kernel over Hamming distance), gp_path,
    /// gp_wl, mlp, forest.
    #[arg(
        long,
        default_value = "gp,gp_path,gp_wl,mlp,forest",
        value_delimiter = ','
    )]
    predictors: Vec<String>,
    /// Comma-separated training-set sizes.
    #[arg(long, default_value = "20,100,500", value_delimiter = ',')]
    train_sizes: Vec<usize>,
    /// Held-out architectures per trial.
    #[arg(long, default_value_t = 1000)]
    test_size: usize,
    /// Fit on raw validation accuracies instead of their Gaussian-copula transform (the
    /// transform the model-based strategies use).
    #[arg(long)]
    raw_targets: bool,
    /// Independent (train, test) draws per size.
    #[arg(long, default_value_t = 5)]
    trials: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The NB201 results table.
    #[arg(long, default_value = "data/nas-bench-201/nb201_results.csv.gz")]
    table: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StoreArgs {
    /// Trials per backend.
    #[arg(long, default_value_t = 1000)]
    trials: u64,
    /// PostgreSQL to measure (skipped if not given).
    #[arg(long)]
    postgres: Option<String>,
    /// A Python with optuna (and psycopg2 for PostgreSQL) to run bench/optuna_store.py.
    #[arg(long)]
    optuna_python: Option<PathBuf>,
    /// The NB201 results table.
    #[arg(long, default_value = "data/nas-bench-201/nb201_results.csv.gz")]
    table: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct Nb201Args {
    /// Comma-separated datasets searched: cifar10, cifar100, imagenet16-120 (or `all`). With
    /// more than one, each gets its own sub-folder of --output.
    #[arg(long, default_value = "cifar10", value_delimiter = ',')]
    dataset: Vec<String>,
    /// Comma-separated strategies: random, rea, ls, reinforce, ga, ga_gen, metaqnn, genet, bo,
    /// bananas, npenas, and with the `train` feature rl-lstm, ppo, nao; the
    /// variants bo_path, bo_wl, bo_ucb, bananas_its, bananas_forest, bananas_gp, npenas_mlp,
    /// npenas_forest, and model-based ones with +zc (zero-cost warm start), e.g. bo+zc.
    #[arg(long, default_value = "random,rea,ls", value_delimiter = ',')]
    strategies: Vec<String>,
    /// A TOML file of further strategies to run, each a table `[strategy.LABEL]` written like
    /// an experiment's `[strategy]` section (e.g. `name = "bananas"`, `acquisition = "ucb"`)
    /// and reported as LABEL.
    #[arg(long)]
    strategy_file: Option<PathBuf>,
    /// Zero-cost proxy table, read when a strategy has a warm start (+zc).
    #[arg(
        long,
        default_value = "data/nas-bench-201/nb201_zero_cost_proxies.csv.gz"
    )]
    zero_cost_table: PathBuf,
    /// The proxy used for warm starts: naswot, synflow, logsynflow, nregions, zen.
    #[arg(long, default_value = "naswot")]
    zero_cost_proxy: String,
    /// Time `ask` of every strategy with this many architectures evaluated (one extra run
    /// per strategy; 0 skips it).
    #[arg(long, default_value_t = 150)]
    ask_timing_at: usize,
    /// Runs per strategy (seeds first-seed, first-seed+1, ...).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Simulated seconds per run.
    #[arg(long, default_value_t = 12000.0)]
    budget_seconds: f64,
    /// The NB201 results table.
    #[arg(long, default_value = "data/nas-bench-201/nb201_results.csv.gz")]
    table: PathBuf,
    /// Folder for summary.json, runs.csv and the anytime curves (CSV).
    #[arg(long, default_value = "bench-out/nb201")]
    output: PathBuf,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Worker threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Allow strategies to re-evaluate architectures they have already seen.
    #[arg(long)]
    no_dedup: bool,
    /// Multi-objective search: comma-separated METRIC:max|min, two or three of the table's
    /// numeric metrics (valid_acc, params_m, flops_m, latency_ms_DEVICE), e.g.
    /// valid_acc:max,latency_ms_pixel3:min. Judged by hypervolume against the true front.
    /// Use random, nsga2, mo-rea, parego-bo, parego-bananas.
    #[arg(long, value_delimiter = ',')]
    objectives: Vec<String>,
    /// A hard constraint METRIC:max:VALUE or METRIC:min:VALUE (VALUE a number or pNN, the
    /// NN-th percentile over the table), e.g. latency_ms_pixel3:max:p25. Repeatable.
    #[arg(long)]
    constraint: Vec<String>,
    /// The latency table, read when an objective or constraint names latency_ms_DEVICE.
    #[arg(long, default_value = "data/nas-bench-201/nb201_latency_help.csv.gz")]
    latency_table: PathBuf,
    /// A Python with optuna: also run Optuna's NSGAIISampler (bench/optuna_nsga2.py) on the
    /// same objectives, budget, seeds and clock, reported as optuna-nsga2.
    #[arg(long)]
    optuna_python: Option<PathBuf>,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Nb201(args) => nb201(args),
        BenchCommand::Table(args) => crate::bench_table::run(args),
        BenchCommand::Nb201Curves(args) => crate::bench_curves::run(args),
        BenchCommand::Store(args) => store(args),
        BenchCommand::Predictors {
            benchmark: PredictorsBenchmark::Nb201(args),
        } => predictors(args),
        BenchCommand::Nb201Size(args) => nb201_size(args),
        #[cfg(feature = "train")]
        BenchCommand::Engine(args) => crate::bench_engine::run(args),
        #[cfg(feature = "train")]
        BenchCommand::OneshotEngine(args) => crate::bench_oneshot_engine::run(args),
        #[cfg(feature = "train")]
        BenchCommand::Oneshot { benchmark } => crate::bench_oneshot::run(benchmark),
        #[cfg(feature = "train")]
        BenchCommand::Compare(args) => crate::bench_compare::run(args),
        BenchCommand::Ui(args) => crate::bench_ui::run(args),
    }
}

fn nb201_size(args: SizeArgs) -> Result<()> {
    let datasets = args
        .dataset
        .iter()
        .map(|d| {
            Nb201Dataset::parse(d.trim()).ok_or_else(|| {
                UsageError(format!(
                    "--dataset {d:?}; accepted: cifar10, cifar100, imagenet16-120"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let table = load_full_table(&args.table)?;
    let checks = datasets
        .into_iter()
        .map(|d| check_sizes(&table, d, args.engine))
        .collect::<Result<Vec<_>>>()?;
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&checks)?)?);
    }
    say(format!(
        "{:<16} {:>8} {:>18} {:>18} {:>17} {:>17}",
        "network",
        "checked",
        "params mismatches",
        "params max error",
        "FLOPs mismatches",
        "FLOPs max error"
    ))?;
    for c in &checks {
        say(format!(
            "{:<16} {:>8} {:>18} {:>17.4}% {:>17} {:>16.4}%",
            c.dataset,
            c.checked,
            c.params_mismatches,
            100.0 * c.params_max_rel_err,
            c.flops_mismatches,
            100.0 * c.flops_max_rel_err
        ))?;
    }
    say("Tolerances: params 0.5 %, FLOPs 1 % of the table's cifar10/cifar100/imagenet16 _params_M and _flops_M.")?;
    Ok(())
}

#[cfg(feature = "train")]
fn check_sizes(
    table: &Nb201Table,
    dataset: Nb201Dataset,
    engine: bool,
) -> Result<archer_bench::size_bench::SizeCheck> {
    use archer_bench::size_bench;
    Ok(if engine {
        let built = |space: &_, arch: &_, config| {
            archer_train::engine_bench::nb201_built_size(space, arch, config)
                .map_err(|e| e.to_string())
        };
        size_bench::check_sizes_with(table, dataset, &built, "libtorch network")?
    } else {
        size_bench::check_sizes(table, dataset)?
    })
}

#[cfg(not(feature = "train"))]
fn check_sizes(
    table: &Nb201Table,
    dataset: Nb201Dataset,
    engine: bool,
) -> Result<archer_bench::size_bench::SizeCheck> {
    if engine {
        anyhow::bail!(UsageError(
            "--engine needs the `train` feature (libtorch); this archer was built without it"
                .into()
        ));
    }
    Ok(archer_bench::size_bench::check_sizes(table, dataset)?)
}

fn predictors(args: PredictorsArgs) -> Result<()> {
    let dataset = Nb201Dataset::parse(&args.dataset).ok_or_else(|| {
        UsageError(format!(
            "--dataset {:?}; accepted: cifar10, cifar100, imagenet16-120",
            args.dataset
        ))
    })?;
    let predictors = args
        .predictors
        .iter()
        .map(|p| {
            PredictorConfig::by_name(p.trim()).ok_or_else(|| {
                UsageError(format!(
                    "--predictors: unknown predictor {p:?}; accepted: {}",
                    PredictorConfig::VARIANTS.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.train_sizes.iter().any(|&n| n < 2) || args.test_size < 2 || args.trials == 0 {
        return Err(UsageError(
            "--train-sizes and --test-size must be at least 2, --trials at least 1".into(),
        )
        .into());
    }
    let table = load_full_table(&args.table)?;
    let bench = PredictorBench {
        table,
        dataset,
        predictors,
        train_sizes: args.train_sizes,
        test_size: args.test_size,
        trials: args.trials,
        seed: args.seed,
        copula: !args.raw_targets,
    };
    let scores = bench.run()?;
    if args.json {
        say(serde_json::to_string_pretty(&scores)?)?;
    } else {
        say(predictor_bench::render(dataset, &scores).trim_end())?;
    }
    Ok(())
}

/// Runs bench/optuna_store.py; its trials per second.
fn optuna(python: &PathBuf, table: &std::path::Path, storage: &str, trials: u64) -> Result<f64> {
    let script = PathBuf::from("bench/optuna_store.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args([
            "--table",
            &table.display().to_string(),
            "--storage",
            storage,
            "--trials",
            &trials.to_string(),
        ])
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("optuna_store.py output")?;
    v["trials_per_second"]
        .as_f64()
        .context("optuna_store.py printed no trials_per_second")
}

/// The same database as SQLAlchemy names it with the psycopg2 driver.
fn optuna_postgres_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    format!("postgresql+psycopg2://{rest}")
}

fn store(args: StoreArgs) -> Result<()> {
    use archer_bench::nb201::loop_throughput;
    let table = load_full_table(&args.table)?;
    let tmp = std::env::temp_dir().join(format!("archer-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let memory = loop_throughput(table.clone(), args.trials, None)?;
    rows.push(serde_json::json!({"backend": "memory", "archer_trials_per_second": memory}));
    let sqlite = archer_store::SqliteStore::open(&tmp.join("archer.db"))?;
    let archer_sqlite = loop_throughput(table.clone(), args.trials, Some(Box::new(sqlite)))?;
    let optuna_sqlite = match &args.optuna_python {
        Some(py) => Some(optuna(
            py,
            &args.table,
            &format!("sqlite:///{}", tmp.join("optuna.db").display()),
            args.trials,
        )?),
        None => None,
    };
    rows.push(serde_json::json!({"backend": "sqlite", "archer_trials_per_second": archer_sqlite,
        "optuna_trials_per_second": optuna_sqlite, "ratio": optuna_sqlite.map(|o| archer_sqlite / o)}));
    if let Some(url) = &args.postgres {
        let pg = archer_store::connect_postgres(url)?;
        let archer_pg = loop_throughput(table.clone(), args.trials, Some(Box::new(pg)))?;
        let optuna_pg = match &args.optuna_python {
            Some(py) => Some(optuna(
                py,
                &args.table,
                &optuna_postgres_url(url),
                args.trials,
            )?),
            None => None,
        };
        rows.push(
            serde_json::json!({"backend": "postgres", "archer_trials_per_second": archer_pg,
            "optuna_trials_per_second": optuna_pg, "ratio": optuna_pg.map(|o| archer_pg / o)}),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if args.json {
        return Ok(say(serde_json::to_string_pretty(&rows)?)?);
    }
    say(format!(
        "Whole-loop throughput, random search on the NAS-Bench-201 table, {} trials per backend",
        args.trials
    ))?;
    say(format!(
        "{:<10} {:>18} {:>18} {:>12}",
        "backend", "archer trials/s", "optuna trials/s", "archer/optuna"
    ))?;
    for r in &rows {
        let f = |k: &str| r[k].as_f64().map_or("-".to_string(), |v| format!("{v:.1}"));
        say(format!(
            "{:<10} {:>18} {:>18} {:>12}",
            r["backend"].as_str().unwrap_or(""),
            f("archer_trials_per_second"),
            f("optuna_trials_per_second"),
            r["ratio"]
                .as_f64()
                .map_or("-".to_string(), |v| format!("{v:.1}x"))
        ))?;
    }
    Ok(())
}

/// A data file named by a default path relative to the checkout (`data/...`), found from an
/// installed binary too: the path as given if it exists, else under `$ARCHER_DATA`, beside
/// the executable (`<exe dir>/data`, `<exe dir>/../../data` for `target/release`), or in the
/// source tree this binary was built from.
pub fn data_file(path: &std::path::Path) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_path_buf();
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let (Some(d), Ok(rest)) = (std::env::var_os("ARCHER_DATA"), path.strip_prefix("data")) {
        candidates.push(PathBuf::from(d).join(rest));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        candidates.push(exe_dir.join(path));
        candidates.push(exe_dir.join("../..").join(path));
    }
    candidates.push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(path));
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

/// The NB201 table at `path` (see [`data_file`]), refused unless it holds every cell of the
/// space: a partial table would turn every statistic into NaN.
fn load_full_table(path: &std::path::Path) -> Result<Arc<Nb201Table>> {
    let path = data_file(path);
    let table = Nb201Table::load(&path).map_err(|e| {
        UsageError(format!(
            "{e} (pass --table PATH or set ARCHER_DATA to the folder holding nas-bench-201/; the full table ships in data/nas-bench-201/)"
        ))
    })?;
    let table = Arc::new(table);
    let evaluator =
        archer_eval::Nb201Evaluator::new(table.clone(), Nb201Dataset::Cifar10, 12, Vec::new())?;
    evaluator
        .check_space(&archer_space::Nb201Space::default())
        .map_err(|e| UsageError(format!("--table: {e}")))?;
    Ok(table)
}

/// `METRIC:max|min`.
fn parse_objective(text: &str) -> Result<Objective, UsageError> {
    let (metric, dir) = text.trim().rsplit_once(':').ok_or_else(|| {
        UsageError(format!(
            "--objectives {text:?}: write METRIC:max or METRIC:min"
        ))
    })?;
    let direction = match dir {
        "max" => Direction::Maximize,
        "min" => Direction::Minimize,
        _ => {
            return Err(UsageError(format!(
                "--objectives {text:?}: the direction is max or min"
            )))
        }
    };
    Ok(Objective {
        metric: metric.to_string(),
        direction,
    })
}

/// `bench nb201 --objectives ... [--constraint ...]`.
fn multi_objective(
    args: &Nb201Args,
    table: Arc<Nb201Table>,
    datasets: &[Nb201Dataset],
    strategies: Vec<(String, StrategyConfig)>,
    threads: usize,
) -> Result<()> {
    let objectives = if args.objectives.is_empty() {
        vec![Objective::maximize(archer_core::metric::VALID_ACC)]
    } else {
        args.objectives
            .iter()
            .map(|o| parse_objective(o))
            .collect::<Result<Vec<_>, _>>()?
    };
    if objectives.len() > 3 {
        return Err(UsageError("--objectives: at most three".into()).into());
    }
    let names = objectives.iter().map(|o| o.metric.clone());
    let needs_latency = names
        .chain(
            args.constraint
                .iter()
                .map(|c| c.split(':').next().unwrap_or("").to_string()),
        )
        .any(|m| m.starts_with("latency_ms_"));
    let table = if needs_latency {
        let t = Nb201Table::load(&data_file(&args.table))?
            .with_latency(&data_file(&args.latency_table))
            .map_err(|e| UsageError(format!("--latency-table: {e}")))?;
        Arc::new(t)
    } else {
        table
    };
    let optuna = args.optuna_python.as_ref().map(|python| OptunaReference {
        python: python.clone(),
        script: data_file(std::path::Path::new("bench/optuna_nsga2.py")),
    });
    let mut json = Vec::new();
    for (i, &dataset) in datasets.iter().enumerate() {
        let constraints = args
            .constraint
            .iter()
            .map(|c| parse_constraint(c, &table, dataset))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| UsageError(e.to_string()))?;
        let output = if datasets.len() > 1 {
            args.output.join(dataset.name())
        } else {
            args.output.clone()
        };
        let bench = MoBench {
            table: table.clone(),
            dataset,
            objectives: objectives.clone(),
            constraints,
            strategies: strategies.clone(),
            seeds: args.seeds,
            first_seed: args.first_seed,
            budget_seconds: args.budget_seconds,
            deduplicate: !args.no_dedup,
            threads,
            curve_points: 100,
            optuna: optuna.clone(),
            work_dir: output.clone(),
        };
        let report = bench.run()?;
        report
            .write(&output)
            .with_context(|| format!("writing bench results to {}", output.display()))?;
        if args.json {
            for s in &report.summaries {
                json.push(serde_json::to_value(s)?);
            }
        } else {
            if i > 0 {
                say("")?;
            }
            say(report.render().trim_end())?;
            say(format!(
                "Curves, fronts and per-run results: {}",
                output.display()
            ))?;
        }
    }
    if args.json {
        say(serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}

/// The `[strategy.LABEL]` tables of a `--strategy-file`, each validated, in label order.
fn strategy_file(path: &std::path::Path) -> Result<Vec<(String, StrategyConfig)>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        strategy: std::collections::BTreeMap<String, StrategyConfig>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("--strategy-file {}: {e}", path.display())))?;
    let file: File = toml::from_str(&text)
        .map_err(|e| UsageError(format!("--strategy-file {}: {e}", path.display())))?;
    for (label, s) in &file.strategy {
        archer_predict::check_strategy(s).map_err(|e| {
            UsageError(format!(
                "--strategy-file {}, [strategy.{label}]: {e}",
                path.display()
            ))
        })?;
    }
    Ok(file.strategy.into_iter().collect())
}

/// `--strategies` labels as checked strategy configurations, with the labels they are
/// reported under.
pub(crate) fn parse_strategies(
    labels: &[String],
) -> Result<Vec<(String, StrategyConfig)>, UsageError> {
    labels
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let config = archer_predict::strategy_by_label(s.trim())
                .and_then(|c| archer_predict::check_strategy(&c).map(|_| c))
                .map_err(|e| UsageError(format!("--strategies: {e}")))?;
            Ok((archer_predict::strategy_label(&config), config))
        })
        .collect()
}

fn nb201(args: Nb201Args) -> Result<()> {
    let mut datasets = Vec::new();
    for name in &args.dataset {
        if name.trim() == "all" {
            datasets.extend(Nb201Dataset::ALL);
            continue;
        }
        datasets.push(Nb201Dataset::parse(name.trim()).ok_or_else(|| {
            UsageError(format!(
                "--dataset {name:?}; accepted: cifar10, cifar100, imagenet16-120, all"
            ))
        })?);
    }
    let mut strategies = parse_strategies(&args.strategies)?;
    if let Some(path) = &args.strategy_file {
        strategies.extend(strategy_file(path)?);
    }
    let mut labels = std::collections::HashSet::new();
    for (label, _) in &strategies {
        if !labels.insert(label.clone()) {
            return Err(UsageError(format!(
                "strategy {label} is listed twice (--strategies and --strategy-file share it)"
            ))
            .into());
        }
    }
    if args.seeds == 0 {
        return Err(UsageError("--seeds must be at least 1".into()).into());
    }
    if !(args.budget_seconds.is_finite() && args.budget_seconds > 0.0) {
        return Err(UsageError(format!(
            "--budget-seconds {} must be positive",
            args.budget_seconds
        ))
        .into());
    }
    let table = load_full_table(&args.table)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !args.objectives.is_empty() || !args.constraint.is_empty() {
        return multi_objective(&args, table, &datasets, strategies, threads);
    }
    let wants_zero_cost = strategies
        .iter()
        .any(|(_, s)| archer_predict::strategy_warm_start(s).is_some());
    let mut json = Vec::new();
    for (i, &dataset) in datasets.iter().enumerate() {
        let zero_cost = if wants_zero_cost {
            Some(Arc::new(
                Nb201ZeroCost::load(&args.zero_cost_table, dataset, &args.zero_cost_proxy)
                    .map_err(|e| {
                        UsageError(format!(
                            "{e} (--zero-cost-table PATH --zero-cost-proxy {})",
                            NB201_ZERO_COST_PROXIES.join("|")
                        ))
                    })?,
            ))
        } else {
            None
        };
        let bench = Nb201Bench {
            table: table.clone(),
            dataset,
            strategies: strategies.clone(),
            seeds: args.seeds,
            first_seed: args.first_seed,
            budget_seconds: args.budget_seconds,
            deduplicate: !args.no_dedup,
            threads,
            curve_points: 100,
            zero_cost,
            ask_timing_at: args.ask_timing_at,
        };
        let report = bench.run()?;
        let output = if datasets.len() > 1 {
            args.output.join(dataset.name())
        } else {
            args.output.clone()
        };
        report
            .write(&output)
            .with_context(|| format!("writing bench results to {}", output.display()))?;
        if args.json {
            json.extend(report.summaries.iter().map(|s| {
                let mut v = serde_json::to_value(s).expect("plain data");
                if let Some(t) = report.ask_timing.iter().find(|t| t.strategy == s.strategy) {
                    v["ask_ms_median"] = serde_json::json!(t.median_ms);
                    v["ask_ms_max"] = serde_json::json!(t.max_ms);
                    v["ask_timing_evaluated"] = serde_json::json!(t.evaluated);
                }
                v
            }));
        } else {
            if i > 0 {
                say("")?;
            }
            say(report.render().trim_end())?;
            say(format!("Curves and per-run results: {}", output.display()))?;
        }
    }
    if args.json {
        say(serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}
