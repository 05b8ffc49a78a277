//! `archer`: neural architecture search from the command line.

mod bench;
#[cfg(feature = "train")]
mod bench_compare;
mod bench_curves;
#[cfg(feature = "train")]
mod bench_engine;
#[cfg(feature = "train")]
mod bench_oneshot;
#[cfg(feature = "train")]
mod bench_oneshot_engine;
mod bench_table;
mod bench_ui;
mod inspect;
#[cfg(feature = "train")]
mod model;
mod out;
mod progress;
mod search;
mod spaces;
mod ui;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "archer",
    version,
    about = "Neural architecture search: find the best architecture for your task"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a search described by an experiment file.
    Search(search::SearchArgs),
    /// Continue an interrupted search from its experiment folder.
    Resume(search::ResumeArgs),
    /// Join a study held in PostgreSQL as one more worker (any machine).
    Worker(worker::WorkerArgs),
    /// Summarise a study: trials by state, the best so far.
    Status(inspect::StatusArgs),
    /// The best architectures (or the Pareto set) of a study, as JSON.
    Export(inspect::ExportArgs),
    /// Check an experiment file (and load its data) without running it.
    Validate(search::ValidateArgs),
    /// Benchmark strategies over many seeds on a tabular benchmark.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// List the built-in search spaces, or explain one.
    Spaces(spaces::SpacesArgs),
    /// Serve a dashboard of studies (folders or PostgreSQL), read-only, in the browser.
    Ui(ui::UiArgs),
    /// Write a study's dashboard pages as one self-contained HTML file.
    Report(ui::ReportArgs),
    /// Train an architecture from scratch (a study's best, or one from a file), measure it
    /// on the test set, and save it (safetensors, manifest, TorchScript).
    #[cfg(feature = "train")]
    Retrain(model::RetrainArgs),
    /// Reload a saved model and measure it on its test set again.
    #[cfg(feature = "train")]
    Evaluate(model::EvaluateArgs),
}

/// Bad input (exit 2) as opposed to a failure while running (exit 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    // A panicking evaluator is caught and its trial marked FAILED with the message; say it
    // in one line rather than with Rust's backtrace dump. Any other panic is a bug in Archer.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        eprintln!("archer: panic{place}: {what}");
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Search(args) => search::run(args),
        Command::Resume(args) => search::resume(args),
        Command::Worker(args) => worker::run(args),
        Command::Status(args) => inspect::status(args),
        Command::Export(args) => inspect::export(args),
        Command::Validate(args) => search::validate(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Spaces(args) => spaces::run(args),
        Command::Ui(args) => ui::ui(args),
        Command::Report(args) => ui::report(args),
        #[cfg(feature = "train")]
        Command::Retrain(args) => model::retrain_cmd(args),
        #[cfg(feature = "train")]
        Command::Evaluate(args) => model::evaluate_cmd(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let usage = e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<archer_runner::ConfigError>().is_some()
                || matches!(
                    e.downcast_ref::<archer_runner::RunError>(),
                    Some(archer_runner::RunError::Config(_))
                );
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
