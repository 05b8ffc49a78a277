use anyhow::{Context, Result};
use archer_core::TrialState;
use archer_runner::launch;
use archer_runner::worker::WorkerEvent;
use clap::Args;

use crate::out::say;

#[derive(Args)]
pub struct WorkerArgs {
    /// The shared store: postgres://user@host:port/database.
    #[arg(long)]
    storage: String,
    /// The study to work on (created by `archer search ... --storage URL`).
    #[arg(long)]
    study: String,
    /// This worker's name in the store (default: host-pid).
    #[arg(long)]
    id: Option<String>,
    #[arg(long, short)]
    quiet: bool,
}

/// One line per finished trial on stderr, unless quiet.
pub fn log_event(id: &str, quiet: bool) -> impl FnMut(WorkerEvent) + '_ {
    move |event| {
        if quiet {
            return;
        }
        match event {
            WorkerEvent::Finished(t) if t.state == TrialState::Waiting => {
                eprintln!(
                    "[{id}] trial {} failed, will be retried: {}",
                    t.id,
                    t.error.as_deref().unwrap_or("")
                )
            }
            WorkerEvent::Finished(t) => eprintln!(
                "[{id}] trial {} {} score {}",
                t.id,
                t.state.as_str(),
                t.score.map_or("-".to_string(), |s| format!("{s:.3}"))
            ),
            WorkerEvent::Dropped(t, why) => {
                eprintln!("[{id}] trial {}: result dropped ({why})", t.id)
            }
            WorkerEvent::Disconnected(why) => {
                eprintln!("[{id}] {why}; reconnecting")
            }
        }
    }
}

pub fn run(args: WorkerArgs) -> Result<()> {
    if !archer_store::is_postgres_url(&args.storage) {
        return Err(crate::UsageError(format!(
            "--storage {:?}: workers share a postgres:// store",
            archer_store::redact_url(&args.storage)
        ))
        .into());
    }
    let id = args.id.unwrap_or_else(launch::worker_id);
    let mut worker = launch::worker(&args.storage, &args.study, id.clone())?;
    eprintln!(
        "archer worker {id}: joined study {} at {}",
        args.study,
        archer_store::redact_url(&args.storage)
    );
    let report = worker
        .run(&mut log_event(&id, args.quiet))
        .with_context(|| format!("worker {id} on study {}", args.study))?;
    say(format!(
        "worker {id}: evaluated {} trials ({} results dropped); study over: {}",
        report.evaluated,
        report.dropped,
        report.stop.map_or("-".to_string(), |s| s.to_string())
    ))?;
    Ok(())
}
